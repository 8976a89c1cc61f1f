#!/usr/bin/env bash
# footprint's local demo (make demo): record the demo workload, then turn its
# profile into least privilege. Run as root from the repository root after
# `make build`.
set -euo pipefail
out=${DEMO_OUT:-$PWD/demo-output}
state=$(mktemp -d /tmp/footprint-demo.XXXXXX)
trap 'rm -rf "$state"' EXIT
mkdir -p "$out"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# expect_fail runs a step that is supposed to be stopped by enforcement.
expect_fail() {
	printf '\n\033[1m$ %s\033[0m\n' "$*"
	local rc=0
	"$@" || rc=$?
	if [ "$rc" -eq 0 ]; then echo "demo: expected enforcement to stop this" >&2; exit 1; fi
	echo "(exit code $rc: stopped, as it should be)"
}

echo "footprint demo: a small server that binds a privileged port, reads its"
echo "configuration, writes and chowns a state file, calls itself over TCP and"
echo "runs a child program. footprint records all of it, turns the profile into"
echo "least privilege, and enforces it."

step bin/footprint record --output "$out/demo.profile.yaml" -- bin/demo-app --state "$state"
step bin/footprint export securitycontext "$out/demo.profile.yaml" --workload deployment/demo --container app
step bin/footprint export policy "$out/demo.profile.yaml" --mode audit

echo
echo "Now hold the same workload to its profile in the kernel. Unchanged, it runs clean:"
step bin/footprint enforce --profile "$out/demo.profile.yaml" --mode enforce --unpreventable kill -- bin/demo-app --state "$state"
echo
echo "Changed, it is stopped: a connect it never made fails with EPERM, and reading"
echo "/etc/shadow gets it killed (prevented outright where the kernel runs BPF-LSM or"
echo "fmod_ret; --unpreventable kill accepts killing where it cannot be refused)."
expect_fail bin/footprint enforce --profile "$out/demo.profile.yaml" --mode enforce --unpreventable kill -- bin/demo-app --state "$state" --misbehave connect
expect_fail bin/footprint enforce --profile "$out/demo.profile.yaml" --mode enforce --unpreventable kill -- bin/demo-app --state "$state" --misbehave shadow

echo
echo "The profile is in $out/demo.profile.yaml."
