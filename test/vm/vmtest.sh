#!/bin/bash
# vmtest.sh runs a statically linked binary (usually a Go test binary) as root inside a
# throw-away QEMU VM booted with Debian's stock kernel, where BPF LSM, fentry and fexit
# programs load (the development and CI hosts refuse them, see shared/KERNEL.md). It streams
# the VM's console to stdout and exits with the binary's exit code.
#
#   usage: vmtest.sh [-e KEY=VALUE]... BINARY [ARGS...]
#          vmtest.sh --setup        install packages and build the cache, boot nothing;
#                                   prints FOOTPRINT_VM_KERNEL=PACKAGE=VERSION on stdout
#   e.g.   CGO_ENABLED=0 go test -c -o smoke.test ./test/vm/smoke
#          test/vm/vmtest.sh -e CI=true ./smoke.test -test.v -test.run 'InVM$'
#
# Inside the VM the binary runs from a tmpfs as /tmp/testbin, cwd /tmp, with
# FOOTPRINT_IN_VM=1 plus every -e variable in its environment, stdin /dev/null. Mounted for
# it: proc, sysfs, devtmpfs, tmpfs /tmp, bpffs /sys/fs/bpf, securityfs, tracefs, debugfs and
# cgroup2 at /sys/fs/cgroup; loopback is up; the active LSMs include bpf.
#
# Everything it needs is installed on first use (as root, from Debian's apt mirror) and
# cached; later runs work offline:
#   qemu-system-x86, busybox-static, xz-utils  apt-get install (idempotent)
#   the kernel                                  apt-get download + dpkg -x; host /boot untouched
#   kernel + virtio/9p modules + initramfs      $FOOTPRINT_VM_CACHE/<package>_<version>/
#
# Environment:
#   FOOTPRINT_VM_CACHE    cache directory       default ${XDG_CACHE_HOME:-$HOME/.cache}/footprint/vm
#   FOOTPRINT_VM_KERNEL   kernel package to boot, PACKAGE or PACKAGE=VERSION; a meta package
#                         (linux-image-6.12-amd64) stands for the kernel it depends on
#                         default: the package linux-image-amd64 depends on, at its candidate
#                         version; printed at start so logs show what ran. Pin it for
#                         reproducible runs, e.g. linux-image-6.1.0-56-amd64=6.1.192-2.
#   FOOTPRINT_VM_TIMEOUT  seconds the VM may run (boot + binary + power-off)  default 600
#   FOOTPRINT_VM_MEM      guest RAM             default 1G
#   FOOTPRINT_VM_SMP      vCPUs                 default 1 (fastest under TCG on a 2-core host)
#   FOOTPRINT_VM_ACCEL    auto | tcg | kvm      default auto: kvm only with a real vmx/svm CPU
#   FOOTPRINT_VM_APPEND   extra kernel command line
#
# Exit status: the binary's exit code; 124 when the harness could not be set up (message on
# stderr); 125 when the VM reported no exit code (boot failure, panic, timeout).
set -euo pipefail

readonly EXIT_SETUP=124 EXIT_NO_CODE=125
readonly LSMS=lockdown,capability,landlock,yama,bpf
# Modules the initramfs loads, with their dependencies, so the guest can mount the host's
# 9p share; those built into the kernel are skipped.
readonly WANT_MODULES="virtio_pci 9pnet_virtio 9p"

log() { echo "vmtest: $*" >&2; }
# Temporary files and directories, removed however the script ends.
CLEANUP=()
trap 'rm -rf "${CLEANUP[@]}"' EXIT
die() {
	log "error: $*"
	exit "$EXIT_SETUP"
}

usage() {
	echo "usage: $0 [-e KEY=VALUE]... BINARY [ARGS...] | $0 --setup" >&2
	exit 2
}

SETUP_ONLY=
ENVS=()
while [ $# -gt 0 ]; do
	case $1 in
	--setup) SETUP_ONLY=1; shift ;;
	-e)
		[ $# -ge 2 ] || usage
		case $2 in [A-Za-z_]*=*) ;; *) die "-e wants KEY=VALUE, got '$2'" ;; esac
		ENVS+=("$2"); shift 2 ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
if [ -z "$SETUP_ONLY" ]; then
	[ $# -ge 1 ] || usage
	BIN=$(readlink -f "$1") || die "binary $1 not found"
	[ -f "$BIN" ] && [ -x "$BIN" ] || die "$1 is not an executable file"
	shift
fi

CACHE=${FOOTPRINT_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/footprint/vm}
mkdir -p "$CACHE" || die "cannot create cache directory $CACHE (set FOOTPRINT_VM_CACHE)"
T0=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $T0" | awk '{printf "%.1fs", $1 - $2}'; }

# Set-up is serialised: parallel test packages share one cache and one dpkg database.
exec 9>"$CACHE/.lock"
flock 9
# Left behind by a set-up that was killed; only the lock holder creates these.
rm -rf "$CACHE"/.fetch.* "$CACHE"/.initrd.*

# ---- 1. host packages --------------------------------------------------------------------
APT_UPDATED=
apt_update() {
	[ -z "$APT_UPDATED" ] || return 0
	[ "$(id -u)" = 0 ] || die "apt-get update needs root"
	log "apt-get update"
	apt-get update -qq >&2 || die "apt-get update failed"
	APT_UPDATED=1
}

need_packages() {
	command -v qemu-system-x86_64 >/dev/null || return 0
	command -v xz >/dev/null || return 0
	# busybox-static, not busybox: the dynamically linked one cannot run in the initramfs.
	[ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || return 0
	return 1
}

if need_packages; then
	PKGS="qemu-system-x86 busybox-static xz-utils"
	[ "$(id -u)" = 0 ] || die "missing host packages; as root run: apt-get install --no-install-recommends $PKGS"
	log "installing $PKGS"
	# dpkg is chatty even with -qq: keep its output for when it fails.
	apt_install() {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS \
			>"$CACHE/apt-install.log" 2>&1 || { tail -20 "$CACHE/apt-install.log" >&2; return 1; }
	}
	# A fresh machine's package lists may be missing or stale (404): update and try again.
	apt_install || { apt_update && apt_install; } || die "apt-get install $PKGS failed"
	log "packages installed after $(elapsed)"
fi

# ---- 2. which kernel ---------------------------------------------------------------------
candidate() { apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" {print $2}'; }

# meta_dependency prints the kernel a meta package's candidate pins exactly ("Depends: NAME
# (= VERSION)"), as "NAME VERSION"; nothing for a package that is a kernel itself.
meta_dependency() {
	apt-cache show --no-all-versions "$1" 2>/dev/null |
		sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -1
}

resolve_kernel() {
	KPKG= KVER=
	if [ -n "${FOOTPRINT_VM_KERNEL:-}" ]; then
		case $FOOTPRINT_VM_KERNEL in
		*=*) KPKG=${FOOTPRINT_VM_KERNEL%%=*} KVER=${FOOTPRINT_VM_KERNEL#*=} ;;
		*)
			# A meta package (linux-image-6.12-amd64) stands for the kernel it pins.
			read -r KPKG KVER < <(meta_dependency "$FOOTPRINT_VM_KERNEL") || true
			if [ -z "$KPKG" ]; then KPKG=$FOOTPRINT_VM_KERNEL KVER=$(candidate "$KPKG"); fi
			;;
		esac
		KFROM="FOOTPRINT_VM_KERNEL"
	else
		read -r KPKG KVER < <(meta_dependency linux-image-amd64) || true
		KFROM="linux-image-amd64's dependency"
	fi
}

resolve_kernel
if [ -z "$KPKG" ] || [ -z "$KVER" ]; then
	apt_update
	resolve_kernel
	[ -n "$KPKG" ] && [ -n "$KVER" ] ||
		die "cannot resolve the kernel package (${FOOTPRINT_VM_KERNEL:-linux-image-amd64}) from apt"
fi
KDIR="$CACHE/${KPKG}_${KVER}"

# ---- 3. kernel and modules, cached per package version ----------------------------------
fetch_kernel() {
	local tmp deb vmlinuz kroot moddir off
	tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	CLEANUP+=("$tmp")
	# Downloading a pinned version: the mirror may have dropped what stale lists promise.
	if ! (cd "$tmp" && apt-get download -qq "$KPKG=$KVER" >"$tmp/download.log" 2>&1); then
		apt_update
		case ${FOOTPRINT_VM_KERNEL:-} in
		*=*) ;; # pinned: nothing to re-resolve
		*)
			resolve_kernel
			KDIR="$CACHE/${KPKG}_${KVER}"
			log "after apt-get update: kernel $KPKG $KVER"
			[ ! -f "$KDIR/.complete" ] || return 0
			;;
		esac
		(cd "$tmp" && apt-get download -qq "$KPKG=$KVER" >"$tmp/download.log" 2>&1) || {
			cat "$tmp/download.log" >&2
			die "cannot download $KPKG=$KVER; if it was pinned with FOOTPRINT_VM_KERNEL it may have left the mirror: pin a current one (apt-cache policy linux-image-amd64)"
		}
	fi
	deb=$(ls "$tmp"/*.deb)
	kroot="$tmp/root"
	dpkg -x "$deb" "$kroot" || die "dpkg -x $deb failed"
	vmlinuz=$(ls "$kroot"/boot/vmlinuz-*) || die "no /boot/vmlinuz-* in $deb"
	moddir=$(ls -d "$kroot"/lib/modules/*) || die "no /lib/modules in $deb"

	mkdir -p "$tmp/out/modules"
	# The uncompressed ELF vmlinux boots through PVH: no SeaBIOS bzImage loading and no xz
	# decompression, both very slow under TCG. Fall back to the bzImage if that fails.
	off=$(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1 || true)
	if [ -n "$off" ]; then tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$tmp/vmlinux" 2>/dev/null || true; fi
	if [ -s "$tmp/vmlinux" ] && [ "$(head -c4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		mv "$tmp/vmlinux" "$tmp/out/kernel"
	else
		log "no ELF vmlinux inside $vmlinuz; booting the bzImage (slower)"
		cp "$vmlinuz" "$tmp/out/kernel"
	fi
	cp "$kroot"/boot/config-* "$tmp/out/config" 2>/dev/null || true
	basename "$moddir" >"$tmp/out/release"

	# Modules in load order, dependencies first. The package has no modules.dep (depmod
	# writes it at install time, and the host may lack kmod), so read each module's
	# "depends=" from its .modinfo section.
	local -A path_of=() seen=()
	local f n
	while IFS= read -r f; do
		n=${f##*/}; n=${n%%.ko*}
		path_of[${n//-/_}]=$f
	done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz')
	visit() {
		local name=${1//-/_} f dep
		[ -z "${seen[$name]:-}" ] || return 0
		seen[$name]=1
		f=${path_of[$name]:-}
		if [ -z "$f" ]; then
			grep -qE "/${name//_/[-_]}\.ko\$" "$moddir/modules.builtin" ||
				die "kernel module $name is neither in $deb nor built in"
			return 0
		fi
		for dep in $(modinfo_depends "$f" | tr ',' ' '); do visit "$dep"; done
		case $f in
		*.ko) cp "$f" "$tmp/out/modules/$name.ko" ;;
		*.ko.xz) xz -dc "$f" >"$tmp/out/modules/$name.ko" ;;
		esac
		echo "$name" >>"$tmp/out/modules/order"
	}
	modinfo_depends() {
		case $1 in
		*.xz) xz -dc "$1" ;;
		*) cat "$1" ;;
		esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -1
	}
	for n in $WANT_MODULES; do visit "$n"; done
	touch "$tmp/out/modules/order" "$tmp/out/.complete"
	rm -rf "$KDIR"
	mv "$tmp/out" "$KDIR"
}

log "kernel $KPKG $KVER (from $KFROM), cache $KDIR"
if [ ! -f "$KDIR/.complete" ]; then
	log "fetching $KPKG=$KVER"
	fetch_kernel
	log "kernel $(cat "$KDIR/release") cached after $(elapsed)"
fi

# ---- 4. initramfs: static busybox + modules + /init, keyed by the init's content --------
INIT=$(cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp TMPDIR=/tmp
say() { echo "vmtest: $*"; }
mnt() { mkdir -p "$3"; mount -t "$1" "$2" "$3" || say "warning: mount -t $1 $3 failed"; }
mnt proc proc /proc
mnt sysfs sysfs /sys
mnt devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mnt tmpfs tmpfs /tmp
mnt bpf bpf /sys/fs/bpf
mnt securityfs securityfs /sys/kernel/security
mnt tracefs tracefs /sys/kernel/tracing
mnt debugfs debugfs /sys/kernel/debug
mnt cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up || say "warning: loopback not up"
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko || say "warning: insmod $m failed"; done
say "kernel $(uname -r), lsm=$(cat /sys/kernel/security/lsm), init at $(cut -d' ' -f1 /proc/uptime)s"
rc=125
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share /mnt; then
	if cp /mnt/bin /tmp/testbin; then
		cd /tmp && sh /mnt/cmd
		rc=$?
	else
		say "cannot copy the binary out of the 9p share"
	fi
	say "exit code $rc at $(cut -d' ' -f1 /proc/uptime)s"
	echo $rc >/mnt/rc
	sync
	umount /mnt
else
	say "9p mount failed: no exit code"
fi
poweroff -f
EOF
)
INITRD="$KDIR/initrd-$(printf '%s' "$INIT" | cat - "$KDIR/modules/order" | sha256sum | cut -c1-12).cpio"
if [ ! -f "$INITRD" ]; then
	R=$(mktemp -d "$CACHE/.initrd.XXXXXX")
	CLEANUP+=("$R")
	mkdir -p "$R"/{bin,lib/modules,proc,sys,dev,tmp,mnt,etc}
	cp /bin/busybox "$R/bin/busybox"
	cp "$KDIR"/modules/* "$R/lib/modules/"
	printf '%s\n' "$INIT" >"$R/init"
	chmod +x "$R/init"
	# Enough of /etc for tests that resolve localhost or look up root.
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$R/etc/hosts"
	echo 'root:x:0:0:root:/tmp:/bin/sh' >"$R/etc/passwd"
	echo 'root:x:0:' >"$R/etc/group"
	# Uncompressed: the kernel would inflate a gzip image under TCG, which costs more than
	# the few extra MB qemu copies.
	(cd "$R" && find . | busybox cpio -o -H newc >"$INITRD.tmp" 2>/dev/null) || die "cpio failed"
	mv "$INITRD.tmp" "$INITRD"
	# Images of earlier /init versions are never booted again.
	find "$KDIR" -maxdepth 1 -name 'initrd-*.cpio' ! -path "$INITRD" -delete
fi
# Kernels unused for 30 days (Debian has moved on) go; each is ~70 MB.
touch "$KDIR/.used"
for d in "$CACHE"/*/; do
	[ -z "$(find "$d.used" -mtime +30 2>/dev/null)" ] || { log "pruning unused $d"; rm -rf "$d"; }
done
flock -u 9

if [ -n "$SETUP_ONLY" ]; then
	log "set-up done after $(elapsed): $KDIR"
	echo "FOOTPRINT_VM_KERNEL=$KPKG=$KVER"
	exit 0
fi

# ---- 5. boot: binary and command line in over 9p, exit code out -------------------------
S=$(mktemp -d "${TMPDIR:-/tmp}/footprint-vm.XXXXXX")
CLEANUP+=("$S")
cp "$BIN" "$S/bin"
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	printf 'export FOOTPRINT_IN_VM=1\n'
	for kv in "${ENVS[@]}"; do printf 'export %s\n' "$(quote "$kv")"; done
	printf '/tmp/testbin'
	for a in "$@"; do printf ' %s' "$(quote "$a")"; done
	echo
} >"$S/cmd"

ACCEL=${FOOTPRINT_VM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
	# Real nested VMX/SVM only: a paravirtual /dev/kvm (no vmx/svm flag) cannot boot a
	# stock kernel.
	if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
kvm) ACC=(-enable-kvm -cpu host) ;;
tcg) ACC=(-accel tcg,thread=multi -cpu max) ;;
*) die "FOOTPRINT_VM_ACCEL must be auto, tcg or kvm, not $ACCEL" ;;
esac

log "booting ($ACCEL, ${FOOTPRINT_VM_SMP:-1} vCPU, ${FOOTPRINT_VM_MEM:-1G}, timeout ${FOOTPRINT_VM_TIMEOUT:-600}s): $(basename "$BIN") $*"
T1=$(date +%s.%N)
# sed -u, not tr: the console must reach the caller line by line, not in 4 KiB blocks.
# no_timer_check: under TCG on a loaded host the kernel's check of the IO-APIC timer
# can miss its ticks and panic ("IO-APIC + timer doesn't work") before anything runs.
set +o pipefail
timeout -k 10 "${FOOTPRINT_VM_TIMEOUT:-600}" qemu-system-x86_64 "${ACC[@]}" -nodefaults -no-user-config \
	-m "${FOOTPRINT_VM_MEM:-1G}" -smp "${FOOTPRINT_VM_SMP:-1}" -display none -no-reboot \
	-kernel "$KDIR/kernel" -initrd "$INITRD" \
	-append "console=ttyS0 quiet panic=-1 no_timer_check lsm=$LSMS ${FOOTPRINT_VM_APPEND:-}" \
	-virtfs local,path="$S",mount_tag=share,security_model=none,id=share \
	-serial stdio </dev/null | sed -u 's/\r$//'
qrc=${PIPESTATUS[0]}
set -o pipefail
T0=$T1
if [ -f "$S/rc" ]; then
	rc=$(cat "$S/rc")
	log "VM run took $(elapsed), exit code $rc"
	exit "$rc"
fi
case $qrc in
124 | 137) log "VM timed out after ${FOOTPRINT_VM_TIMEOUT:-600}s without an exit code" ;;
*) log "VM produced no exit code (boot failure or panic; qemu exit status $qrc) after $(elapsed)" ;;
esac
exit "$EXIT_NO_CODE"
