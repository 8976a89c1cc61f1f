// Package generator turns a Profile into least privilege a user can apply:
// a securityContext strategic-merge patch for the owning workload, an
// EnforcementPolicy that footprint enforces in the kernel, an egress
// NetworkPolicy, and a Tetragon TracingPolicyNamespaced for clusters that
// already run Tetragon. Every artifact is YAML with the evidence for each
// line written next to it as a comment.
//
// The functions are pure: no Kubernetes client and no kernel. What only a
// cluster knows (which pods an address belongs to, which labels a workload's
// pods carry) comes in through options and the AddressResolver interface.
package generator
