package recorder

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/test/vm"
)

// TestRecordsWithTheBestWorkingBackendsInVM records in a VM with Debian's
// kernels, where BPF-LSM, fentry and fexit programs load (this host refuses
// them), booted with and without bpf among the active LSMs. Where bpf is
// active, lsm/file_open records files; where it is not (Ubuntu's default),
// its program would attach and never run, so fentry/security_file_open must
// be chosen instead. Either way the profile holds what the command did:
// files by access, its executable, its capability checks and its connects.
func TestRecordsWithTheBestWorkingBackendsInVM(t *testing.T) {
	boot, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	dir := testDir(t)
	for _, name := range []string{"read", "write", "truncated", "owned"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}

	res := record(t, LocalOptions{Command: helperCommand(t, "open-modes", dir)})
	wantFiles := "fentry/security_file_open"
	if boot.BPFLSM {
		wantFiles = "lsm/file_open"
	}
	chosen := map[bpf.Kind]string{}
	for _, c := range res.Choices {
		chosen[c.Kind] = c.Chosen
	}
	for kind, want := range map[bpf.Kind]string{
		bpf.KindFile:       wantFiles,
		bpf.KindCapability: "fexit/cap_capable",
		bpf.KindExec:       "tp_btf/sched_process_exec",
		bpf.KindConnect:    "cgroup/connect4+connect6+sendmsg4+sendmsg6",
		bpf.KindSyscall:    "tp_btf/sys_enter",
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
	// Both hooks in security_file_open also see the exec of the program.
	self, _ := os.Executable()
	if f := findFile(res.Profile, self); f == nil || !slices.Contains(f.Access, "exec") {
		t.Errorf("the executed test binary as a file: entry %+v, want exec access", f)
	}
	if !slices.ContainsFunc(res.Profile.Spec.Executables, func(e v1alpha1.ExecutableEntry) bool { return e.Path == self }) {
		t.Errorf("the executed test binary is not among the executables: %+v", res.Profile.Spec.Executables)
	}

	// 32-bit system calls are recorded apart, by their i386 names.
	res = record(t, LocalOptions{Command: helperCommand(t, "int80-getpid")})
	if compat := profiles.Syscalls(res.Profile.Spec, v1alpha1.ArchX86); !slices.Equal(compat, []string{"getpid"}) {
		t.Errorf("32-bit system calls %v, want [getpid]", compat)
	}
	if native := profiles.Syscalls(res.Profile.Spec, v1alpha1.ArchX86_64); !slices.Contains(native, "execve") {
		t.Errorf("native system calls %v lack execve", native)
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
	// Debian's kernels inline cap_capable into memory accounting: fexit
	// does not see that probe at all, which is right too; it must never
	// show as a need.
	res = record(t, LocalOptions{Command: helperCommand(t, "mmap")})
	if c := findCapability(res.Profile, "CAP_SYS_ADMIN", v1alpha1.VerdictGranted, false); c != nil {
		t.Errorf("fexit: a CAP_SYS_ADMIN need in a program that only mmaps: %+v", c)
	}

	// The file backends that resolve the path with d_path count repeats
	// by inode and name too: a new name for an inode is an entry.
	requireEveryNameOfAnInode(t)

	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res = record(t, LocalOptions{Command: helperCommand(t, "tcp-connect", l.Addr().String())})
	want := v1alpha1.ConnectionEntry{Protocol: v1alpha1.ProtocolTCP, Address: "127.0.0.1", Port: int32(l.Addr().(*net.TCPAddr).Port), Count: 1}
	if !slices.Contains(res.Profile.Spec.Connections, want) {
		t.Errorf("no %+v in %+v", want, res.Profile.Spec.Connections)
	}
}
