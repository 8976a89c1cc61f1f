#!/usr/bin/env bash
# The README's first command: sets up a fresh Debian 12 machine (packages,
# Go), builds footprint and runs the local demo: record a workload, export
# least privilege from its profile. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/setup.sh
exec make demo
