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

echo "footprint demo: a small server that binds a privileged port, reads its"
echo "configuration, writes and chowns a state file, calls itself over TCP and"
echo "runs a child program. footprint records all of it."

step bin/footprint record --output "$out/demo.profile.yaml" -- bin/demo-app --state "$state"
step bin/footprint export securitycontext "$out/demo.profile.yaml" --workload deployment/demo --container app
step bin/footprint export policy "$out/demo.profile.yaml" --mode audit

echo
echo "The profile is in $out/demo.profile.yaml."
