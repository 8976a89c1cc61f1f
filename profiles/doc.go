// Package profiles is the Profile model: capability names, normalisation of
// paths and addresses so that runs and replicas agree, merge and diff of
// profiles, the size bounds that keep a profile under the API server's
// object limit, and the strict loader (Decode) that reads footprint objects
// with errors naming line and field. The EnforcementPolicy model builds on
// it in package policies. It is pure logic: no Kubernetes client and no BPF
// loader.
package profiles
