// Package policies is the EnforcementPolicy model: loading a policy from a
// file, validating it the way the API server does and beyond (the policy
// path language, capability names, CIDRs), matching operations and paths
// against it (Matcher, the reference semantics the kernel enforcer is tested
// against), what a policy would deny of a recorded profile, the diff of two
// policies and the mode a policy applies to an image. It builds on the
// Profile model in package profiles. It is pure logic: no Kubernetes client
// and no BPF loader.
package policies
