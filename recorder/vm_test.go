package recorder

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/test/vm"
)

// TestRecordsWithTheBestBackendsInVM records in a VM with Debian's kernel,
// where BPF-LSM, fentry and fexit programs load (this host refuses them): the
// loader must pick lsm/file_open and fexit/cap_capable there, and they must
// record what the tracepoint backends record here.
func TestRecordsWithTheBestBackendsInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t, "CI=true") {
		return
	}
	dir := testDir(t)
	for _, name := range []string{"read", "write", "truncated", "owned"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}

	res := record(t, LocalOptions{Command: helperCommand(t, "open-modes", dir)})
	chosen := map[bpf.Kind]string{}
	for _, c := range res.Choices {
		chosen[c.Kind] = c.Chosen
	}
	for kind, want := range map[bpf.Kind]string{
		bpf.KindFile:       "lsm/file_open",
		bpf.KindCapability: "fexit/cap_capable",
		bpf.KindExec:       "tp_btf/sched_process_exec",
	} {
		if chosen[kind] != want {
			t.Errorf("%s: backend %q, want %q (choices %+v)", kind, chosen[kind], want, res.Choices)
		}
	}
	for name, modes := range map[string][]v1alpha1.FileAccessMode{
		"read":      access("read"),
		"write":     access("write"),
		"created":   access("write", "create"),
		"truncated": access("read", "write", "truncate"),
	} {
		f := findFile(res.Profile, filepath.Join(dir, name))
		if f == nil || !slices.Equal(f.Access, modes) {
			t.Errorf("%s: entry %+v, want access %v", name, f, modes)
		}
	}
	// lsm/file_open also sees the exec of the program itself.
	self, _ := os.Executable()
	if f := findFile(res.Profile, self); f == nil || !slices.Contains(f.Access, "exec") {
		t.Errorf("the executed test binary: entry %+v, want exec access", f)
	}

	res = record(t, LocalOptions{Command: helperCommand(t, "chown", filepath.Join(dir, "owned"), "65534")})
	if findCapability(res.Profile, "CAP_CHOWN", v1alpha1.VerdictGranted, false) == nil {
		t.Errorf("no granted CAP_CHOWN in %+v", res.Profile.Spec.Capabilities)
	}
	// fexit sees opts: seccomp's no-audit check is a probe, not a need.
	res = record(t, LocalOptions{Command: helperCommand(t, "seccomp")})
	if findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, true) == nil {
		t.Errorf("fexit: no CAP_SYS_ADMIN probe in %+v", res.Profile.Spec.Capabilities)
	}
	// 6.1 inlines cap_capable into memory accounting: fexit does not see
	// that probe at all, which is right too; it must never show as a need.
	res = record(t, LocalOptions{Command: helperCommand(t, "mmap")})
	if c := findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, false); c != nil {
		t.Errorf("fexit: a CAP_SYS_ADMIN need in a program that only mmaps: %+v", c)
	}
}
