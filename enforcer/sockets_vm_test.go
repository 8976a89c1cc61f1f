package enforcer

import (
	"testing"

	"github.com/footprint-dev/footprint/test/vm"
)

// TestSocketRoutesArePreventedInVM runs the socket routes in a VM with
// Debian's kernels, where BPF-LSM (bpf in lsm=) or fmod_ret on the
// security_socket_* functions (without it) sees every route, 6.1 included
// (no cgroup connect_unix hook there): the recording sees AF_UNIX peers,
// AF_PACKET sockets and listens without bind through fentry, and each
// attacker step is refused with EPERM and reported.
func TestSocketRoutesArePreventedInVM(t *testing.T) {
	_, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	testSocketRoutes(t, true)
}
