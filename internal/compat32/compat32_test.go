package compat32

import (
	"os"
	"testing"

	"github.com/footprint-dev/footprint/test/vm"
)

// In the VM: this host's kernel has no IA32 emulation, where int 0x80
// faults (SIGSEGV) instead of reaching a system call.
func TestGetpidThroughInt80InVM(t *testing.T) {
	if !vm.InVMOrLaunch(t, "CI=true") {
		return
	}
	if got := Syscall(SysGetpid, 0, 0, 0); int(got) != os.Getpid() {
		t.Fatalf("int 0x80 getpid = %d, want %d", int(got), os.Getpid())
	}
}
