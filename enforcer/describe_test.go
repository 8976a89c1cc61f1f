package enforcer

import (
	"testing"

	"github.com/footprint-dev/footprint/bpf"
)

// TestFileViolationsAreDescribedAsTheCallThatMadeThem checks that an open
// reads as one and a change as its system call, even when the change's
// access is an open's too (a mkdir is a create of its path).
func TestFileViolationsAreDescribedAsTheCallThatMadeThem(t *testing.T) {
	const sysUnlinkat, sysMkdirat = 263, 258
	for _, tc := range []struct {
		name string
		v    bpf.Violation
		want string
	}{
		{"an open that creates", bpf.Violation{Access: bpf.AccessCreate | bpf.AccessWrite, Syscall: -1},
			`app[7] opened /etc/x for write,create: killed`},
		{"a mkdir", bpf.Violation{Access: bpf.AccessCreate, Syscall: sysMkdirat},
			`app[7] mkdirat("/etc/x") (create): killed`},
		{"an unlink", bpf.Violation{Access: bpf.AccessDelete, Syscall: sysUnlinkat},
			`app[7] unlinkat("/etc/x") (delete): killed`},
		{"a change by no known call (io_uring)", bpf.Violation{Access: bpf.AccessDelete, Syscall: -1},
			`app[7] delete("/etc/x") (delete): killed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			v.Kind, v.Comm, v.PID, v.Path, v.Outcome = bpf.KindFile, "app", 7, "/etc/x", bpf.Killed
			if got := Describe(v); got != tc.want {
				t.Errorf("Describe = %q; want %q", got, tc.want)
			}
		})
	}
}
