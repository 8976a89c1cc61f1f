// Package e2e drives footprint's Kubernetes walkthrough (the README's) on a
// real one-node cluster with kubectl and kubectl footprint, the way a user
// runs it: record a two-replica Deployment, read its profile, patch the
// Deployment with the securityContext footprint exports, enforce the policy
// in audit and then enforce mode against injected misbehaviour, delete it,
// and survive an agent restart mid-recording.
//
// The tests build with the e2e tag and need a cluster with footprint's
// images: `make e2e` (hack/e2e.sh) brings one up, runs them and takes it
// down. KUBECONFIG names the cluster; kubectl-footprint must be on PATH.
package e2e
