// Package enforcer holds processes to EnforcementPolicies in the kernel:
// it compiles a policy (package rules), installs it into the enforcement
// programs' maps, puts cgroups under it, and reports violations. Locally it
// runs one command under a policy (EnforceCommand); on a node the agent
// drives the same pieces for containers.
package enforcer
