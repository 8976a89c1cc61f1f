#!/usr/bin/env bash
# Builds the node-side Kubernetes binaries that hack/control-plane.sh does not build --
# kube-controller-manager, kube-scheduler and kubelet -- from the k8s.io/kubernetes Go module
# (same tools-module trick as hack/control-plane.sh), cached by version:
#
#   ${FOOTPRINT_CACHE:-~/.cache/footprint}/k8s/<k8s version>-node/{kube-controller-manager,kube-scheduler,kubelet}
#
# Prints the directory on stdout; build logs go to stderr. Idempotent (a stamp file is written last).
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-1.34.3}
FOOTPRINT_CACHE=${FOOTPRINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footprint}
DEST=$FOOTPRINT_CACHE/k8s/$K8S_VERSION-node
BINS=(kube-controller-manager kube-scheduler kubelet)
STAMP="${BINS[*]} v$K8S_VERSION"
log() { printf '\033[1mbuild-node:\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
cached() {
	for b in "${BINS[@]}"; do [ -x "$DEST/$b" ] || return 1; done
	[ "$(cat "$DEST/.built" 2>/dev/null)" = "$STAMP" ]
}
if cached; then echo "$DEST"; exit 0; fi
command -v go >/dev/null || die "no Go toolchain on PATH (source hack/setup.sh first)"
mkdir -p "$FOOTPRINT_CACHE/k8s"
exec 9>"$FOOTPRINT_CACHE/k8s/.lock-$K8S_VERSION-node"
flock -n 9 || { log "another build is running; waiting"; flock 9; }
if cached; then echo "$DEST"; exit 0; fi
start=$(date +%s)
log "building ${BINS[*]} v$K8S_VERSION into $DEST"
work=$(mktemp -d)
trap 'rm -rf "$work" "$DEST.tmp"' EXIT
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp"
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
MINOR=${K8S_VERSION#1.}; MINOR=${MINOR%%.*}
cd "$work"
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || die "could not download k8s.io/kubernetes@v$K8S_VERSION"
{
	echo "module footprint.local/node"; echo
	grep -m1 '^go ' "$gomod"; echo
	echo "require k8s.io/kubernetes v$K8S_VERSION"; echo
	echo "replace ("
	awk -v v="v0.${K8S_VERSION#1.}" '/=> \.\/staging\// {print "\t" $1 " => " $1 " " v}' "$gomod"
	echo ")"
} >go.mod
{
	printf '//go:build tools\n\npackage tools\n\nimport (\n'
	for b in "${BINS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
	printf ')\n'
} >tools.go
go mod tidy >&2
P=k8s.io/component-base/version
LDF="-s -w -X $P.gitVersion=v$K8S_VERSION -X $P.gitMajor=1 -X $P.gitMinor=$MINOR -X $P.gitTreeState=clean"
for b in "${BINS[@]}"; do
	go build -trimpath -ldflags "$LDF" -o "$DEST.tmp/$b" "k8s.io/kubernetes/cmd/$b" >&2
	log "$b built after $(($(date +%s) - start)) s"
done
for b in "${BINS[@]}"; do
	"$DEST.tmp/$b" --version 2>/dev/null | grep -x "Kubernetes v$K8S_VERSION" >/dev/null || die "$b does not report v$K8S_VERSION"
done
printf '%s\n' "$STAMP" >"$DEST.tmp/.built"
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
log "built in $(($(date +%s) - start)) s"
echo "$DEST"
