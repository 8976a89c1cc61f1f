#!/usr/bin/env bash
# make e2e: the README's Kubernetes walkthrough on a real one-node cluster. Brings the cluster up
# (hack/cluster.sh, cached builds), imports the agent and workload images built from this
# checkout, runs test/e2e (kubectl and kubectl footprint, as a user would) and takes the cluster
# down again, leaving nothing behind. When the test fails, the cluster's logs, the agent's log and
# the events are printed. FOOTPRINT_E2E_KEEP=1 leaves the cluster up afterwards, to look around.
# Run as root from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
down() { [ "${FOOTPRINT_E2E_KEEP:-}" = 1 ] || hack/cluster.sh down; }
trap down EXIT # also after a failed up: down is idempotent
hack/cluster.sh up
hack/cluster.sh images
KUBECONFIG=$(hack/cluster.sh kubeconfig)
export KUBECONFIG
# Where this cluster's kubelet reads Localhost seccomp profiles (hack/cluster.sh's --root-dir).
export FOOTPRINT_E2E_SECCOMP_DIR=${FOOTPRINT_CLUSTER_DIR:-/var/lib/footprint-cluster}/kubelet/root/seccomp
# kubectl (the machine's, else the one built with the API server) and the footprint plugin
plugins=$(mktemp -d)
trap 'rm -rf "$plugins"; down' EXIT
ln -s "$PWD/bin/footprint" "$plugins/kubectl-footprint"
PATH=$plugins:$PATH
command -v kubectl >/dev/null || PATH=$PATH:$(hack/control-plane.sh)
export PATH
if ! go test -tags e2e -count=1 -timeout 20m -v ./test/e2e; then
	echo "e2e: FAILED; the cluster's state and logs follow" >&2
	kubectl get pods -A -o wide >&2 || true
	kubectl get events -A --sort-by=.lastTimestamp >&2 || true
	kubectl -n footprint-system logs daemonset/footprint-agent --tail=300 >&2 || true
	# An agent that crashed and restarted: why the previous one went
	kubectl -n footprint-system logs daemonset/footprint-agent --previous --tail=100 >&2 || true
	LINES_PER_LOG=100 hack/cluster.sh logs >&2 || true
	exit 1
fi
