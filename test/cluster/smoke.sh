#!/usr/bin/env bash
# The cluster's acceptance check: up, node Ready, a 2-replica busybox Deployment Ready with pod
# IPs on the bridge, down, and nothing left behind. Prints timings. Run as root from the repo root.
set -euo pipefail
cd "$(dirname "$0")/../.."
STATE=${FOOTPRINT_CLUSTER_DIR:-/var/lib/footprint-cluster}
fail() { echo "smoke: FAIL: $*" >&2; hack/cluster.sh logs >&2 || true; exit 1; }
veths_before=$(ip -br link | awk '/^veth/ {print $1}' | sort)
t0=$(date +%s)
hack/cluster.sh up
t1=$(date +%s)
KC=$(hack/cluster.sh kubeconfig)
k() { kubectl --kubeconfig "$KC" "$@"; }
k get nodes -o wide
k apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleeper, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: sleeper}}
  template:
    metadata: {labels: {app: sleeper}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleep
        image: busybox:footprint
        imagePullPolicy: Never
        command: ["sleep", "100000"]
YAML
k rollout status deployment/sleeper --timeout=120s || fail "deployment not ready"
t2=$(date +%s)
k get pods -o wide
ips=$(k get pods -l app=sleeper -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}')
[ "$(grep -c '^10\.88\.' <<<"$ips")" = 2 ] || fail "pod IPs not on the bridge: $ips"
for ip in $ips; do busybox ping -c1 -W2 "$ip" >/dev/null || fail "pod $ip not reachable from the host"; done
pod=$(k get pods -l app=sleeper -o jsonpath='{.items[0].metadata.name}')
k exec "$pod" -- sh -c 'ip -4 addr show eth0 | grep inet' || fail "kubectl exec failed"
k logs "$pod" >/dev/null || fail "kubectl logs failed"
t3=$(date +%s)
hack/cluster.sh down
t4=$(date +%s)
hack/cluster.sh down # idempotent
left=""
ip link show fp-cni0 >/dev/null 2>&1 && left+=" bridge"
[ "$(ip -br link | awk '/^veth/ {print $1}' | sort)" = "$veths_before" ] || left+=" veth"
grep -qE "$STATE|/run/netns/cni-|/var/run/netns/cni-" /proc/self/mounts && left+=" mounts"
pgrep -f "$STATE" >/dev/null && left+=" processes"
find /sys/fs/cgroup -maxdepth 2 -name kubepods 2>/dev/null | grep -q . && left+=" cgroups"
[ -e "$STATE" ] && left+=" state"
[ -z "$left" ] || fail "left behind:$left"
echo "smoke: OK  up $((t1 - t0)) s, deployment ready $((t2 - t1)) s, down $((t4 - t3)) s"
