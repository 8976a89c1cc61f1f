#!/usr/bin/env bash
# Builds the control plane that footprint's envtest harness runs against -- kube-apiserver and
# etcd -- from their Go modules (no release downloads, no Docker), and caches them by version:
#
#   ${XDG_CACHE_HOME:-~/.cache}/footprint/k8s/<k8s version>/{kube-apiserver,etcd,kubectl}
#
# Idempotent: when the cache holds a finished build of the wanted versions nothing is built. Prints
# the directory to use as KUBEBUILDER_ASSETS on stdout (build logs go to stderr), e.g.
#
#   export KUBEBUILDER_ASSETS=$(hack/control-plane.sh)
#
# Options: -o FILE also writes the directory to FILE.
# Environment: K8S_VERSION (default 1.34.3, matching k8s.io/* v0.34.3 and controller-runtime
# v0.22 in go.mod), ETCD_VERSION (default 3.5.21), FOOTPRINT_CACHE.
# Needs: a Go toolchain (hack/setup.sh), network access to the Go module proxy, flock.
# A cold build takes about 6 minutes on 2 idle cores, 16 on a busy 2-core machine (kube-apiserver
# dominates); with a warm Go build cache ~30 s; when cached, nothing.
#
# How: k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces every k8s.io/* staging
# module with ./staging/...), so a throwaway tools module requires it and rewrites each of those
# replaces to the published v0.X.Y module. etcd's server/v3 has replaces too: same trick.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.34.3}
ETCD_VERSION=${ETCD_VERSION:-3.5.21}
FOOTPRINT_CACHE=${FOOTPRINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footprint}
OUT_FILE=

while getopts "o:h" opt; do
	case $opt in
	o) OUT_FILE=$OPTARG ;;
	h) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) exit 2 ;;
	esac
done

log() { printf '\033[1mcontrol-plane:\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null || die "no Go toolchain on PATH (source hack/setup.sh first)"
command -v flock >/dev/null || die "flock not found (Debian package util-linux)"

DEST=$FOOTPRINT_CACHE/k8s/$K8S_VERSION
mkdir -p "$FOOTPRINT_CACHE/k8s"

emit() {
	[ -n "$OUT_FILE" ] && printf '%s\n' "$DEST" >"$OUT_FILE"
	printf '%s\n' "$DEST"
}

# The stamp is written last, after both binaries reported the wanted versions:
# checking it is cheap (asking the binaries takes seconds on a busy machine).
STAMP="kube-apiserver v$K8S_VERSION, etcd v$ETCD_VERSION"
cached() {
	[ -x "$DEST/kube-apiserver" ] && [ -x "$DEST/etcd" ] && [ "$(cat "$DEST/.built" 2>/dev/null)" = "$STAMP" ]
}
# (grep reads all the output: with -q it could exit first and, under pipefail,
# the SIGPIPE of the binary would count as a failure)
versions_ok() {
	"$1/kube-apiserver" --version 2>/dev/null | grep -x "Kubernetes v$K8S_VERSION" >/dev/null &&
		"$1/etcd" --version 2>/dev/null | grep -x "etcd Version: $ETCD_VERSION" >/dev/null
}

if cached; then emit; exit 0; fi

# Several test packages (or make targets) may ask at once: one builds, the others wait.
exec 9>"$FOOTPRINT_CACHE/k8s/.lock-$K8S_VERSION"
if ! flock -n 9; then
	log "another build of $K8S_VERSION is running; waiting for it"
	flock 9
fi
if cached; then emit; exit 0; fi

ARCH=$(go env GOARCH)
[ "$(go env GOOS)" = linux ] || die "only linux is supported"
log "building kube-apiserver v$K8S_VERSION and etcd v$ETCD_VERSION for linux/$ARCH into $DEST (cold: ~6 min on 2 cores)"
start=$(date +%s)

work=$(mktemp -d)
trap 'rm -rf "$work" "$DEST.tmp"' EXIT
rm -rf "$DEST.tmp"
mkdir -p "$work/k8s" "$work/etcd" "$DEST.tmp"

# The tools modules are standalone: never let an enclosing workspace or -mod flag leak in.
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0

# 1) kube-apiserver (and kubectl when the machine has none).
MINOR=${K8S_VERSION#1.}
MINOR=${MINOR%%.*}
cd "$work/k8s"
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || die "could not download k8s.io/kubernetes@v$K8S_VERSION from the module proxy"
{
	echo "module footprint.local/controlplane"
	echo
	grep -m1 '^go ' "$gomod"
	echo
	echo "require k8s.io/kubernetes v$K8S_VERSION"
	echo
	echo "replace ("
	awk -v v="v0.${K8S_VERSION#1.}" '/=> \.\/staging\// {print "\t" $1 " => " $1 " " v}' "$gomod"
	echo ")"
} >go.mod
build_kubectl=
command -v kubectl >/dev/null || build_kubectl=1
{
	printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n'
	[ -n "$build_kubectl" ] && printf '\t_ "k8s.io/kubernetes/cmd/kubectl"\n'
	printf ')\n'
} >tools.go
go mod tidy >&2
P=k8s.io/component-base/version
LDF="-s -w -X $P.gitVersion=v$K8S_VERSION -X $P.gitMajor=1 -X $P.gitMinor=$MINOR -X $P.gitTreeState=clean"
go build -trimpath -ldflags "$LDF" -o "$DEST.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
if [ -n "$build_kubectl" ]; then
	go build -trimpath -ldflags "$LDF" -o "$DEST.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl >&2
fi
log "kube-apiserver built after $(($(date +%s) - start)) s"

# 2) etcd server.
cd "$work/etcd"
printf 'module footprint.local/etcd\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
go mod tidy >&2
go build -trimpath -ldflags "-s -w" -o "$DEST.tmp/etcd" go.etcd.io/etcd/server/v3 >&2

# 3) kubectl is optional for envtest; link the machine's own when it has one.
if [ -z "$build_kubectl" ]; then ln -sf "$(command -v kubectl)" "$DEST.tmp/kubectl"; fi

versions_ok "$DEST.tmp" || die "the built binaries do not report v$K8S_VERSION / $ETCD_VERSION"
printf '%s\n' "$STAMP" >"$DEST.tmp/.built"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
log "built in $(($(date +%s) - start)) s"
emit
