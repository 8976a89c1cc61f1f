#!/usr/bin/env bash
# A one-node Kubernetes cluster on this machine, from the project's own scripts (see
# test/cluster/README.md):
#
#   hack/cluster.sh up          build (cached) and start everything; idempotent
#   hack/cluster.sh images      build the agent and walkthrough images from this checkout, import them
#   hack/cluster.sh down        stop everything, remove mounts, bridge, cgroups, state; idempotent
#   hack/cluster.sh status      what runs, and the node as the API server sees it
#   hack/cluster.sh kubeconfig  print the path of the admin kubeconfig
#   hack/cluster.sh logs        print every component's log (for CI failures)
#
# Pieces: etcd + kube-apiserver (hack/control-plane.sh), kube-controller-manager, kube-scheduler
# and kubelet (test/cluster/build-node.sh), all built from their Go modules and cached by version;
# containerd + runc + containernetworking-plugins from Debian; the bridge fp-cni0 (10.88.0.1/16)
# made here, pods get addresses on it from the bridge + host-local CNI plugins. Servers listen on
# 127.0.0.1 or on 10.88.0.1 (the bridge) only.
#
# Environment: FOOTPRINT_CLUSTER_DIR (state, default /var/lib/footprint-cluster), FOOTPRINT_CACHE,
# K8S_VERSION (default 1.34.3, as hack/control-plane.sh). Needs root.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
K8S_VERSION=${K8S_VERSION:-1.34.3}
export K8S_VERSION
FOOTPRINT_CACHE=${FOOTPRINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footprint}
export FOOTPRINT_CACHE
STATE=${FOOTPRINT_CLUSTER_DIR:-/var/lib/footprint-cluster}
NODE=${FOOTPRINT_NODE_NAME:-fp-node}
BRIDGE=fp-cni0
BRIDGE_IP=10.88.0.1
POD_CIDR=10.88.0.0/16
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1
API_PORT=6443
ETCD_PORT=12379
ETCD_PEER_PORT=12380
API=https://$BRIDGE_IP:$API_PORT
PAUSE_IMAGE=registry.k8s.io/pause:footprint
BUSYBOX_IMAGE=docker.io/library/busybox:footprint

PKI=$STATE/pki
LOGS=$STATE/logs
RUN=$STATE/run
CTD=$STATE/containerd
SOCK=$CTD/containerd.sock
KUBECONFIG_ADMIN=$STATE/admin.kubeconfig
COMPONENTS=(etcd kube-apiserver containerd kube-controller-manager kube-scheduler kubelet)

log() { printf '\033[1mcluster:\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }
ctr_() { ctr --address "$SOCK" -n k8s.io "$@"; }
# kubectl: the machine's, else the one hack/control-plane.sh builds (and caches) with the API server
KUBECTL=${KUBECTL:-}
kc() {
	if [ -z "$KUBECTL" ]; then
		KUBECTL=$(command -v kubectl || echo "$("$ROOT/hack/control-plane.sh")/kubectl")
	fi
	"$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"
}

pid_of() { # prints the pid of a component we started, if it still runs
	local f=$RUN/$1.pid p
	[ -f "$f" ] || return 1
	p=$(cat "$f")
	[ -n "$p" ] && [ -d "/proc/$p" ] && [ "$(readlink "/proc/$p/exe" 2>/dev/null | sed 's/ (deleted)$//')" = "$(cat "$RUN/$1.exe" 2>/dev/null)" ] && echo "$p"
}
running() { pid_of "$1" >/dev/null; }

start() { # start NAME BINARY ARGS... (in its own session, log in $LOGS/NAME.log)
	local name=$1 bin=$2
	shift 2
	if running "$name"; then return 0; fi
	setsid "$bin" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
	readlink -f "$bin" >"$RUN/$name.exe"
}

wait_for() { # wait_for WHAT SECONDS CMD...
	local what=$1 t=$2 i
	shift 2
	for ((i = 0; i < t * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	die "$what not ready after ${t}s (logs in $LOGS)"
}

stop() { # stop NAME: SIGTERM, then SIGKILL after 10 s
	local name=$1 p i
	p=$(pid_of "$name") || { rm -f "$RUN/$name.pid" "$RUN/$name.exe"; return 0; }
	kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do [ -d "/proc/$p" ] || break; sleep 0.1; done
	if [ -d "/proc/$p" ]; then kill -KILL "$p" 2>/dev/null || true; sleep 0.2; fi
	rm -f "$RUN/$name.pid" "$RUN/$name.exe"
}

# ---------------------------------------------------------------------------------------------
# binaries, packages, images

install_packages() {
	local missing=() p
	# python3: test/cluster/mkimage.py; openssl: the PKI; iptables: the kubernetes Service's DNAT
	for p in containerd runc containernetworking-plugins python3 openssl iptables; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
	# On a systemd host the package starts its own containerd, which would share /run/containerd
	# with this cluster's: installed here for the cluster, the service is not wanted.
	if [[ " ${missing[*]} " == *" containerd "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now containerd.service >&2 || true
	fi
}

build_binaries() {
	CP_DIR=$("$ROOT/hack/control-plane.sh")
	NODE_DIR=$("$ROOT/test/cluster/build-node.sh")
}

build_images() { # offline images, cached by content in $FOOTPRINT_CACHE/cluster-images
	local dir=$FOOTPRINT_CACHE/cluster-images bb links=() a pause_sum
	mkdir -p "$dir"
	if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
		log "apt-get install busybox-static"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static >&2
	fi
	bb=$(dpkg-query -W -f='${Version}' busybox-static | tr -c 'A-Za-z0-9.\n' _)
	BUSYBOX_TAR=$dir/busybox-$bb.tar
	if [ ! -f "$BUSYBOX_TAR" ]; then
		for a in $(/bin/busybox --list); do [ "$a" = busybox ] || links+=("LINK:bin/$a=busybox"); done
		python3 "$ROOT/test/cluster/mkimage.py" "$BUSYBOX_TAR.tmp" "$BUSYBOX_IMAGE" '["/bin/sh"]' \
			/bin/busybox=bin/busybox "${links[@]}" >&2
		mv "$BUSYBOX_TAR.tmp" "$BUSYBOX_TAR"
	fi
	pause_sum=$(cat "$ROOT/test/cluster/pause/main.go" "$ROOT/test/cluster/mkimage.py" | sha256sum | cut -c1-12)
	PAUSE_TAR=$dir/pause-$pause_sum.tar
	if [ ! -f "$PAUSE_TAR" ]; then
		local w
		w=$(mktemp -d)
		cp "$ROOT/test/cluster/pause/main.go" "$w/"
		printf 'module footprint.local/pause\n\ngo 1.22\n' >"$w/go.mod"
		(cd "$w" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o pause .) >&2
		python3 "$ROOT/test/cluster/mkimage.py" "$PAUSE_TAR.tmp" "$PAUSE_IMAGE" '["/pause"]' "$w/pause=pause" >&2
		rm -rf "$w"
		mv "$PAUSE_TAR.tmp" "$PAUSE_TAR"
	fi
}

import_images() {
	local have
	have=$(ctr_ images ls -q)
	grep -qx "$PAUSE_IMAGE" <<<"$have" || ctr_ images import "$PAUSE_TAR" >&2
	grep -qx "$BUSYBOX_IMAGE" <<<"$have" || ctr_ images import "$BUSYBOX_TAR" >&2
}

# The project's own images, from this checkout: the agent (the static footprint binary, as
# deploy/kustomization.yaml names it) and the walkthrough's workload (examples/webapp, with busybox
# for what the workload never runs). Rebuilt every time (go build is cached), imported when changed.
WEBAPP_IMAGE=footprint.dev/webapp:dev
# The same app with another configuration file: another image digest, for the walkthrough's
# "a new version of the app" (a policy is bound to the images it was recorded from).
WEBAPP_IMAGE_V2=footprint.dev/webapp:v2
# The previous version of the agent, for the e2e's rollback and upgrade: built from this commit
# of the project's own history, cached by commit. It is the last version released before this
# one (b9fd131: main before mkdir and times were governed), so the rollback is one a cluster
# really makes: that agent keeps the version of a policy in force when it cannot compile a newer
# spec (13d747f), and the rollback and the upgrade back cross a layout change of the enforcement
# maps (fp_path_node's access fields went from 16 to 32 bits), which both versions meet by
# retiring the other's enforcement until their first reconcile (93f679e): the probe's reads stay
# stopped throughout. 33032d3, from before the retirement, replaces those maps empty: its node
# would enforce nothing from its start to its first reconcile. A layout change of a recording map (entries
# migrated or the map replaced, loudly) is tested in package bpf (pin_test.go).
PREVIOUS_COMMIT=${FOOTPRINT_E2E_PREVIOUS:-b9fd131}
PREVIOUS_IMAGE=footprint.dev/footprint:previous

previous_agent() { # previous_agent OUT.tar: the previous version's agent image
	local out=$1 commit bin w
	commit=$(git -C "$ROOT" rev-parse --verify --quiet "$PREVIOUS_COMMIT^{commit}") ||
		die "the previous version's commit $PREVIOUS_COMMIT is not in this clone's history (a shallow clone?): fetch it, or name another with FOOTPRINT_E2E_PREVIOUS"
	bin=$FOOTPRINT_CACHE/agent-previous/footprint-${commit:0:12}
	if [ ! -x "$bin" ]; then
		w=$(mktemp -d)
		git -C "$ROOT" worktree add --detach "$w/src" "$commit" >/dev/null 2>&1
		mkdir -p "$(dirname "$bin")"
		(cd "$w/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${commit:0:12}" -o "$bin.tmp" ./cmd/footprint) >&2
		git -C "$ROOT" worktree remove --force "$w/src"
		rm -rf "$w"
		mv "$bin.tmp" "$bin"
		log "built the previous agent (${commit:0:12})"
	fi
	python3 "$ROOT/test/cluster/mkimage.py" "$out" "$PREVIOUS_IMAGE" '["/footprint"]' "$bin=footprint" >/dev/null
}
project_images() {
	local w links=() a sum
	need_root
	running containerd || die "the cluster is not up: hack/cluster.sh up"
	w=$(mktemp -d)
	trap 'rm -rf "$w"' RETURN
	make -s -C "$ROOT" image >&2
	cp "$ROOT/bin/footprint-image.tar" "$w/agent.tar"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$w/webapp" ./examples/webapp) >&2
	printf 'footprint walkthrough\n' >"$w/config"
	printf 'root:$6$footprint$notarealpasswordhash:19000:0:99999:7:::\n' >"$w/shadow"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || links+=("LINK:bin/$a=busybox"); done
	python3 "$ROOT/test/cluster/mkimage.py" "$w/webapp.tar" "$WEBAPP_IMAGE" '["/webapp"]' \
		"$w/webapp=webapp" "$w/config=etc/webapp/config,644" "$w/shadow=etc/shadow,600" \
		/bin/busybox=bin/busybox "${links[@]}" >/dev/null
	printf 'footprint walkthrough, version 2\n' >"$w/config-v2"
	python3 "$ROOT/test/cluster/mkimage.py" "$w/webapp-v2.tar" "$WEBAPP_IMAGE_V2" '["/webapp"]' \
		"$w/webapp=webapp" "$w/config-v2=etc/webapp/config,644" "$w/shadow=etc/shadow,600" \
		/bin/busybox=bin/busybox "${links[@]}" >/dev/null
	previous_agent "$w/agent-previous.tar"
	for a in agent agent-previous webapp webapp-v2; do
		sum=$(sha256sum "$w/$a.tar" | cut -c1-16)
		if [ "$(cat "$STATE/image-$a" 2>/dev/null)" != "$sum" ]; then
			ctr_ images import "$w/$a.tar" >&2
			echo "$sum" >"$STATE/image-$a"
			log "imported $a image ($sum)"
		fi
	done
}

# ---------------------------------------------------------------------------------------------
# certificates: one CA signs everything; components authenticate with client certificates

mkcert() { # mkcert NAME CN [O] [SANS] [server|client|both]
	local name=$1 cn=$2 o=${3:-} sans=${4:-} usage=${5:-client} subj ext
	[ -f "$PKI/$name.crt" ] && return 0
	subj="/CN=$cn"
	[ -n "$o" ] && subj="/O=$o$subj"
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	case $usage in
	server) ext="extendedKeyUsage=serverAuth" ;;
	client) ext="extendedKeyUsage=clientAuth" ;;
	both) ext="extendedKeyUsage=serverAuth,clientAuth" ;;
	esac
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "$ext"
		[ -n "$sans" ] && echo "subjectAltName=$sans"
	} >"$PKI/$name.ext"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

kubeconfig() { # kubeconfig FILE CERTNAME
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: footprint
  cluster:
    server: $API
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: footprint
  context: {cluster: footprint, user: $2}
current-context: footprint
EOF
}

make_pki() {
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	if [ ! -f "$PKI/ca.crt" ]; then
		openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
		openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=footprint-cluster-ca" -days 3650 -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
			-out "$PKI/ca.crt" 2>/dev/null
	fi
	if [ ! -f "$PKI/sa.key" ]; then
		openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
		openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	fi
	mkcert apiserver kube-apiserver "" \
		"IP:$BRIDGE_IP,IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" server
	mkcert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
	mkcert admin footprint-admin system:masters
	mkcert controller-manager system:kube-controller-manager
	mkcert scheduler system:kube-scheduler
	mkcert kubelet-client "system:node:$NODE" system:nodes
	mkcert kubelet-serving "system:node:$NODE" system:nodes "IP:$BRIDGE_IP,IP:127.0.0.1,DNS:$NODE" server
	kubeconfig "$KUBECONFIG_ADMIN" admin
	kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
	kubeconfig "$STATE/scheduler.kubeconfig" scheduler
	kubeconfig "$STATE/kubelet.kubeconfig" kubelet-client
}

# ---------------------------------------------------------------------------------------------
# network: the bridge, made before anything listens on it; the CNI plugins attach pods to it

make_bridge() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
	fi
	ip addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_IP/16" || ip addr add "$BRIDGE_IP/16" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	mkdir -p "$CTD/net.d"
	cat >"$CTD/net.d/10-footprint.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "footprint",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$CTD/cni-ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# No kube-proxy: the one Service that matters, kubernetes.default (10.96.0.1:443), is DNATed to
# the API server on the bridge, so in-cluster clients (pods and hostNetwork pods) work.
SVC_RULES=("OUTPUT -d $SERVICE_IP/32 -p tcp --dport 443 -j DNAT --to-destination $BRIDGE_IP:$API_PORT"
	"PREROUTING -i $BRIDGE -d $SERVICE_IP/32 -p tcp --dport 443 -j DNAT --to-destination $BRIDGE_IP:$API_PORT")
service_nat_add() {
	local r
	command -v iptables >/dev/null || { log "warning: no iptables: pods cannot reach the API at $SERVICE_IP"; return 0; }
	for r in "${SVC_RULES[@]}"; do
		# shellcheck disable=SC2086
		iptables -t nat -C $r 2>/dev/null || iptables -t nat -A $r || log "warning: iptables -t nat -A $r failed"
	done
}
service_nat_del() {
	local r
	command -v iptables >/dev/null || return 0
	for r in "${SVC_RULES[@]}"; do
		# shellcheck disable=SC2086
		while iptables -t nat -C $r 2>/dev/null; do iptables -t nat -D $r; done
	done
}

# ---------------------------------------------------------------------------------------------

write_configs() {
	mkdir -p "$STATE/kubelet/manifests" "$STATE/kubelet/pod-logs"
	cat >"$CTD/config.toml" <<EOF
version = 2
root = "$CTD/root"
# the standard place, as on any node: the agent finds the OCI bundles there
state = "/run/containerd"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: never lower a container's oom_score_adj below ours
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CTD/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTD/opt"
EOF
	cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
podLogsDir: $STATE/kubelet/pod-logs
staticPodPath: $STATE/kubelet/manifests
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
clusterDomain: cluster.local
registerNode: true
EOF
}

# Host directories that kubelet, containerd, runc and the footprint agent (its pins) create
# outside the state dir when missing: the first `up` notes which of them did not exist, `down`
# removes those (when empty of others').
HOST_DIRS=(/var/log/containers /var/log/pods /run/netns /run/containerd /var/lib/cni /etc/cni /sys/fs/bpf/footprint)
note_host_dirs() {
	local d
	[ -f "$STATE/host-dirs" ] && return 0
	mkdir -p "$STATE"
	for d in "${HOST_DIRS[@]}"; do [ -e "$d" ] || echo "$d"; done >"$STATE/host-dirs"
}
remove_host_dirs() {
	local d l
	# kubelet's /var/log/containers symlinks into our pod logs
	for l in /var/log/containers/*.log; do
		[ -L "$l" ] && [[ "$(readlink "$l")" == "$STATE/"* ]] && rm -f "$l"
	done
	[ -f "$STATE/host-dirs" ] || return 0
	while read -r d; do
		[ -d "$d" ] || continue
		# shim sockets and runc state of killed pods: ours alone when we made the directory and no
		# other containerd runs
		if [ "$d" = /run/containerd ] && ! pgrep -x containerd >/dev/null; then rm -rf "$d"; continue; fi
		# the agent's pinned maps and links: unpinned, the programs detach
		if [ "$d" = /sys/fs/bpf/footprint ]; then rm -rf "$d"; continue; fi
		find "$d" -depth -type d -empty -delete 2>/dev/null || true
		[ -d "$d" ] && log "warning: $d is not empty, left in place"
	done <"$STATE/host-dirs"
	return 0
}

# Mounts a DaemonSet may mount with Bidirectional propagation must be shared, as they are on a
# systemd host: the agent's /sys/fs/bpf (pins outlive the agent's container). `up` notes which
# it made shared, `down` makes those private again.
SHARED_MOUNTS=(/sys/fs/bpf)
make_mounts_shared() {
	local m
	# Without systemd nothing may have mounted the BPF filesystem: the agent's pins need it.
	if ! mountpoint -q /sys/fs/bpf; then
		mount -t bpf bpf /sys/fs/bpf
		echo /sys/fs/bpf >>"$STATE/mounted-bpffs"
	fi
	for m in "${SHARED_MOUNTS[@]}"; do
		mountpoint -q "$m" || continue
		grep -qxF "$m" "$STATE/made-shared" 2>/dev/null && continue
		findmnt -no PROPAGATION "$m" | grep -q shared && continue
		mount --make-shared "$m"
		echo "$m" >>"$STATE/made-shared"
	done
}
restore_mounts() {
	local m
	if [ -f "$STATE/made-shared" ]; then
		while read -r m; do mount --make-private "$m" 2>/dev/null || log "warning: could not make $m private again"; done <"$STATE/made-shared"
	fi
	if [ -f "$STATE/mounted-bpffs" ]; then
		umount /sys/fs/bpf 2>/dev/null || log "warning: could not unmount the BPF filesystem at /sys/fs/bpf"
	fi
	return 0
}

up() {
	need_root
	local t0 t p
	for p in $(pgrep -x containerd || true); do
		[ "$p" = "$(pid_of containerd || true)" ] ||
			die "another containerd (pid $p) runs on this machine and may use /run/containerd, which this cluster's containerd uses too: stop it first"
	done
	t0=$(date +%s)
	install_packages
	build_binaries
	build_images
	note_host_dirs
	mkdir -p "$STATE" "$LOGS" "$RUN"
	make_pki
	make_bridge
	service_nat_add
	make_mounts_shared
	write_configs
	t=$(date +%s)

	start etcd "$CP_DIR/etcd" --name footprint --data-dir "$STATE/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "footprint=http://127.0.0.1:$ETCD_PEER_PORT"
	wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

	start kube-apiserver "$CP_DIR/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address "$BRIDGE_IP" --advertise-address "$BRIDGE_IP" --secure-port "$API_PORT" \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" --client-ca-file "$PKI/ca.crt" \
		--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
		--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP
	start containerd /usr/bin/containerd --config "$CTD/config.toml"
	wait_for kube-apiserver 120 kc get --raw /readyz

	start kube-controller-manager "$NODE_DIR/kube-controller-manager" --kubeconfig "$STATE/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
		--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--service-cluster-ip-range "$SERVICE_CIDR"
	start kube-scheduler "$NODE_DIR/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false

	wait_for containerd 30 ctr_ version
	import_images
	start kubelet "$NODE_DIR/kubelet" --config "$STATE/kubelet/config.yaml" --kubeconfig "$STATE/kubelet.kubeconfig" \
		--hostname-override "$NODE" --node-ip "$BRIDGE_IP" --root-dir "$STATE/kubelet/root"
	wait_for "node $NODE" 120 node_ready
	log "up: node $NODE Ready after $(($(date +%s) - t)) s of start-up ($(($(date +%s) - t0)) s in all)"
	log "kubectl --kubeconfig $KUBECONFIG_ADMIN get nodes"
}

node_ready() {
	[ "$(kc get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# ---------------------------------------------------------------------------------------------

# cgroup directories the pods got: /kubepods (cgroupfs driver) under every cgroup hierarchy
kill_pod_processes() {
	local m d p
	for m in $(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts); do
		d=$m/kubepods
		[ -d "$d" ] || continue
		for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	done
}
remove_cgroups() {
	local m d
	for m in $(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts); do
		d=$m/kubepods
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		[ -d "$d" ] && log "warning: could not remove $d"
	done
	return 0
}

bridge_netns() { # /run/netns/cni-* whose eth0 is attached (through its veth peer) to our bridge
	local n peer
	ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
	for n in /run/netns/cni-*; do
		[ -e "$n" ] || continue
		peer=$(ip -n "${n##*/}" -o link show eth0 2>/dev/null | sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
		[ -n "$peer" ] || continue
		ip -o link show master "$BRIDGE" 2>/dev/null | grep -q "^$peer: " && echo "$n"
	done
	return 0
}

down() {
	need_root
	local t0 p m netns=() i
	t0=$(date +%s)
	# 1) the pods, gracefully while kubelet and containerd run: no new pods, then every pod deleted
	if running kube-apiserver && running kubelet; then
		stop kube-controller-manager
		stop kube-scheduler
		kc delete pods --all-namespaces --all --grace-period=1 --wait=false >/dev/null 2>&1 || true
		for ((i = 0; i < 300; i++)); do
			[ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
	# 2) the pods' network namespaces, as containerd knows them (for a forced clean-up below)
	if running containerd; then
		mapfile -t netns < <(ctr_ containers ls -q 2>/dev/null | while read -r c; do
			ctr_ containers info "$c" 2>/dev/null | grep -o '"/var/run/netns/cni-[^"]*"' | tr -d '"'
		done | sort -u)
	fi
	# ... and those whose eth0 is the peer of a veth on our bridge (works without containerd)
	mapfile -t -O "${#netns[@]}" netns < <(bridge_netns)
	# 3) the processes, most dependent first
	for p in kubelet kube-scheduler kube-controller-manager; do stop "$p"; done
	kill_pod_processes
	# containerd's shims for our socket (they outlive containerd by design)
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true); do kill -KILL "$p" 2>/dev/null || true; done
	stop containerd
	for p in kube-apiserver etcd; do stop "$p"; done
	# 4) mounts under the state dir (volumes, images), containerd's state in /run/containerd
	# (containers' rootfs, sandboxes' shm) and the pods' netns
	for m in $(awk -v s="$STATE/" -v r=/run/containerd/ 'index($2, s) == 1 || index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	for m in $(printf '%s\n' "${netns[@]}" | sort -u); do
		[ -e "$m" ] || continue
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		rm -f "$m"
	done
	remove_cgroups
	# 5) the bridge (veths went with the netns) and the state
	remove_host_dirs
	restore_mounts
	service_nat_del
	if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
	rm -rf "$STATE"
	log "down in $(($(date +%s) - t0)) s"
}

status() {
	local c p rc=0
	for c in "${COMPONENTS[@]}"; do
		if p=$(pid_of "$c"); then printf '%-24s running (pid %s)\n' "$c" "$p"; else printf '%-24s stopped\n' "$c"; rc=1; fi
	done
	if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge $BRIDGE: $(ip -br addr show "$BRIDGE" | awk '{print $2, $3}')"; else echo "bridge $BRIDGE: absent"; fi
	if running kube-apiserver; then kc get nodes -o wide 2>&1 || true; fi
	return $rc
}

logs() {
	local f
	for f in "$LOGS"/*.log; do
		[ -f "$f" ] || continue
		echo "===== $f"
		tail -n "${LINES_PER_LOG:-200}" "$f"
	done
}

case ${1:-} in
up) up ;;
images) project_images ;;
down) down ;;
status) status ;;
kubeconfig) echo "$KUBECONFIG_ADMIN" ;;
logs) logs ;;
*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
