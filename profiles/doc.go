// Package profiles is the Profile model: capability names, normalisation of
// paths and addresses so that runs and replicas agree, merge and diff of
// profiles, and the size bounds that keep a profile under the API server's
// object limit. It is pure logic: no Kubernetes client and no BPF loader.
package profiles
