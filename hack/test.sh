#!/usr/bin/env bash
# The README's second command, and what CI runs: sets up the machine like
# hack/demo.sh, then runs every test (kernel tests as root, the BPF-LSM VM
# tests, fuzzing for a short fixed time). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/setup.sh
exec make test
