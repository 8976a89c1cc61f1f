package enforcer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/internal/sidedoor"
	"github.com/footprint-dev/footprint/recorder"
	"github.com/footprint-dev/footprint/test/vm"
)

// The side doors of issue 11 that no hook of this host's backends sees or
// refuses (no BPF-LSM, no fmod_ret), closed by the seccomp layer alone for
// a workload that never used them when it was recorded. The workload is
// internal/sidedoor: its normal run, then attacker variants of it.

// sideDoorRoute is one attack and the errno the policy answers it with.
type sideDoorRoute struct {
	route, refused string
	// ia32 marks a 32-bit call, which faults where the kernel has no
	// IA32 emulation (this host): tried in the VM.
	ia32 bool
	// reported is what the violation footprint reports says.
	reported string
}

var sideDoorRoutes = []sideDoorRoute{
	{route: "io_uring_setup", refused: "EPERM", reported: "called io_uring_setup: refused by seccomp"},
	{route: "open_by_handle_at", refused: "EPERM", reported: "called open_by_handle_at: refused by seccomp"},
	// A descriptor of a process outside the policy (the normal run only
	// opened a pidfd of it).
	{route: "pidfd_getfd", refused: "EPERM", reported: "called pidfd_getfd: refused by seccomp"},
	// No 32-bit call was recorded: the policy has no X86 set, and the
	// filter refuses every call of that ABI with EPERM.
	{route: "int80", refused: "EPERM", ia32: true, reported: " (i386): refused by seccomp"},
	// ENOSYS, as libc expects of a kernel without clone3: it falls back to
	// clone, which has no CLONE_INTO_CGROUP.
	{route: "clone3-into-cgroup", refused: "ENOSYS", reported: "called clone3: refused by seccomp"},
	// The normal run created AF_INET and AF_UNIX sockets only (and
	// does again in every variant, under the same policy). The families
	// are one list for socket and socketpair.
	{route: "socket-packet", refused: "EPERM", reported: "called socket(AF_PACKET): refused by seccomp"},
	{route: "socket-vsock", refused: "EPERM", reported: "called socket(AF_VSOCK): refused by seccomp"},
	{route: "socket-netlink", refused: "EPERM", reported: "called socket(AF_NETLINK): refused by seccomp"},
	{route: "socketpair-netlink", refused: "EPERM", reported: "called socketpair(AF_NETLINK): refused by seccomp"},
}

// sideDoorWorkload is the command that runs the workload without cgo: in
// the VM the test binary itself (built with CGO_ENABLED=0, and no go
// there to build with), on the host a build of testdata/sidedoor.
func sideDoorWorkload(t *testing.T) []string {
	t.Helper()
	if vm.InVM() {
		return helperCommand(t, "side-door")
	}
	bin := filepath.Join(t.TempDir(), "sidedoor")
	build := exec.Command("go", "build", "-o", bin, "./testdata/sidedoor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the side-door workload: %v\n%s", err, out)
	}
	return []string{bin}
}

func testSideDoors(t *testing.T, routes []sideDoorRoute) {
	workload := sideDoorWorkload(t)
	command := func(args ...string) []string { return append(slices.Clone(workload), args...) }
	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: command("none")})
	if err != nil || rec.ExitCode != 0 {
		t.Fatalf("recording: %v, exit code %d", err, rec.ExitCode)
	}
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce, Unpreventable: v1alpha1.UnpreventableKill})
	if err != nil {
		t.Fatal(err)
	}
	if generated.Policy.Spec.Syscalls == nil {
		t.Fatal("the generated policy does not restrict system calls")
	}
	for _, set := range generated.Policy.Spec.Syscalls.Allow {
		if want := []string{"AF_INET", "AF_UNIX"}; set.Arch == v1alpha1.ArchX86_64 && !slices.Equal(set.SocketFamilies, want) {
			t.Fatalf("the policy allows socket families %v, want the recorded %v", set.SocketFamilies, want)
		}
	}
	t.Run("the normal run has no violation under its own policy", func(t *testing.T) {
		res := run(t, generated.Policy.DeepCopy(), command("none"))
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Fatalf("exit code %d, violations %+v: want 0 and none", res.ExitCode, res.Violations)
		}
	})
	// The seccomp layer alone: what this host's hooks would do does not
	// hide whether the filter closes the route.
	seccompOnly := &v1alpha1.EnforcementPolicy{Spec: v1alpha1.EnforcementPolicySpec{Mode: v1alpha1.ModeEnforce, Syscalls: generated.Policy.Spec.Syscalls}}
	for _, tc := range routes {
		t.Run(tc.route+" is refused with "+tc.refused, func(t *testing.T) {
			// Without footprint the route reaches the kernel: the
			// refusal below is the policy's.
			control := command(tc.route, "not-"+tc.refused)
			out, err := exec.Command(control[0], control[1:]...).CombinedOutput()
			var exit *exec.ExitError
			if tc.ia32 && !vm.InVM() && errors.As(err, &exit) && exit.ExitCode() == sidedoor.NoIA32 {
				t.Skip("int 0x80 faults: this kernel runs no 32-bit calls (TestSideDoorsAreClosedBySeccompInVM tries it)")
			}
			if err != nil {
				t.Fatalf("without footprint the route does not reach the kernel: %v\n%s", err, out)
			}
			res := run(t, seccompOnly.DeepCopy(), command(tc.route, tc.refused))
			if res.ExitCode != 0 {
				t.Fatalf("exit code %d: %s was not refused with %s", res.ExitCode, tc.route, tc.refused)
			}
			// The filter says nothing; footprint's reporter does.
			var said []string
			for _, v := range res.Violations {
				if v.Kind == bpf.KindSyscall && v.Outcome == bpf.Denied && strings.Contains(Describe(v), tc.reported) {
					return
				}
				said = append(said, Describe(v))
			}
			t.Errorf("no violation says %q; reported: %q", tc.reported, said)
		})
	}
}

// TestA32BitWorkloadRunsUnderItsOwnPolicyInVM records a workload that
// makes a 32-bit call (int 0x80), and runs it again under its own policy:
// the policy has an X86 set, which installs (the runtime's calls are added
// to the native set only) and lets the call through, with no violation.
func TestA32BitWorkloadRunsUnderItsOwnPolicyInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t, "CI=true") {
		return
	}
	workload := append(sideDoorWorkload(t), "int80", "ok")
	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: workload})
	if err != nil || rec.ExitCode != 0 {
		t.Fatalf("recording: %v, exit code %d", err, rec.ExitCode)
	}
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	if s := generated.Policy.Spec.Syscalls; s == nil || !slices.ContainsFunc(s.Allow, func(set v1alpha1.SyscallSet) bool { return set.Arch == v1alpha1.ArchX86 }) {
		t.Fatalf("the policy has no X86 set: %+v", generated.Policy.Spec.Syscalls)
	}
	res := run(t, generated.Policy.DeepCopy(), workload)
	if res.ExitCode != 0 || len(res.Violations) != 0 {
		t.Fatalf("under its own policy: exit code %d, violations %+v; want 0 and none", res.ExitCode, res.Violations)
	}
}

func TestSideDoorsTheNormalRunNeverUsedAreClosedByItsSeccompPolicy(t *testing.T) {
	testSideDoors(t, sideDoorRoutes)
}

// TestSideDoorsAreClosedBySeccompInVM tries the routes where 32-bit calls
// run (Debian's kernels have IA32 emulation). The seccomp layer does not
// depend on BPF-LSM: one boot is enough.
func TestSideDoorsAreClosedBySeccompInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t, "CI=true") {
		return
	}
	testSideDoors(t, sideDoorRoutes)
}
