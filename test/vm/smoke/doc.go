// Package smoke proves that the VM harness and the kernel it boots do what the enforcer
// needs: BPF LSM programs load, attach, and deny with EPERM for the processes a map
// selects. Its tests launch themselves in the VM from the host (see package vm); on the
// host they never run their bodies, which this host's kernel would refuse.
package smoke
