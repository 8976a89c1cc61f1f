package enforcer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/test/vm"
)

// runPtraceSteps reaches other processes, each step given as how, target
// and the result wanted: ok (the access was allowed: reading an unmapped
// address fails with EFAULT, a seize succeeds) or EPERM. how is read
// (process_vm_readv) or seize (PTRACE_SEIZE); target is a pid,
// or child for a child this helper starts (in its own cgroup).
func runPtraceSteps(args []string) error {
	for i := 0; i+2 < len(args); i += 3 {
		how, target, want := args[i], args[i+1], args[i+2]
		pid, err := strconv.Atoi(target)
		if target == "child" {
			self, _ := os.Executable()
			child := exec.Command(self)
			child.Env = append(os.Environ(), "FOOTPRINT_TEST_ACTION=sleep")
			child.Args = []string{self, "30"}
			if err := child.Start(); err != nil {
				return err
			}
			defer child.Process.Kill()
			pid = child.Process.Pid
		} else if err != nil {
			return err
		}
		err = ptraceStep(how, pid)
		if want == "ok" && errors.Is(err, unix.EFAULT) {
			err = nil // allowed: the address is simply not mapped
		}
		if err := expect(err, want); err != nil {
			return fmt.Errorf("%s %s: %w", how, target, err)
		}
	}
	return nil
}

func ptraceStep(how string, pid int) error {
	switch how {
	case "read":
		var b [1]byte
		_, err := unix.ProcessVMReadv(pid, []unix.Iovec{{Base: &b[0], Len: 1}}, []unix.RemoteIovec{{Base: 1, Len: 1}}, 0)
		return err
	case "seize":
		// Detached when this helper exits (a running seized tracee cannot
		// be detached before).
		return unix.PtraceSeize(pid)
	}
	return fmt.Errorf("unknown ptrace step %q", how)
}

// TestPtraceOutsideThePolicyIsPreventedInVM holds a command to a policy (any
// policy governs ptrace) and has it reach a process outside the policy, one
// this test started: process_vm_readv and PTRACE_SEIZE fail with EPERM and
// are reported; reaching its own child, under the same policy, is not a
// violation. On this host no hook sees a ptrace's target (the backends are
// BPF-LSM and fmod_ret only), so the test runs in the VM's boots.
func TestPtraceOutsideThePolicyIsPreventedInVM(t *testing.T) {
	_, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	outside := exec.Command(selfPath(t), "600") // killed at the end
	outside.Env = append(os.Environ(), "FOOTPRINT_TEST_ACTION=sleep")
	if err := outside.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outside.Process.Kill(); outside.Wait() })
	pid := strconv.Itoa(outside.Process.Pid)

	p := policy(t, "spec: {mode: Enforce}\n")
	t.Run("its own child is not outside the policy", func(t *testing.T) {
		res := run(t, p, helperCommand(t, "ptrace", "read", "child", "ok", "seize", "child", "ok"))
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Fatalf("exit code %d, violations %+v: want 0 and none", res.ExitCode, res.Violations)
		}
		for _, c := range res.Choices {
			if c.Kind == bpf.KindPtrace && c.Effect != bpf.Prevented {
				t.Errorf("ptrace: backend %q (%s), want one that prevents; rejected %+v", c.Chosen, c.Effect, c.Rejected)
			}
		}
	})
	for _, how := range []string{"read", "seize"} {
		t.Run(how+" of a process outside the policy", func(t *testing.T) {
			res := run(t, p, helperCommand(t, "ptrace", how, pid, "EPERM"))
			if res.ExitCode != 0 {
				t.Errorf("exit code %d: the %s did not fail with EPERM", res.ExitCode, how)
			}
			v := onlyViolation(t, res)
			if v.Kind != bpf.KindPtrace || v.Outcome != bpf.Denied || fmt.Sprint(v.TargetPID) != pid {
				t.Errorf("violation %+v: want a denied ptrace of %s", v, pid)
			}
			if d := Describe(v); !strings.Contains(d, "process "+pid+" outside its policy") {
				t.Errorf("description %q does not name the process", d)
			}
		})
	}
	t.Run("audit mode reports and allows", func(t *testing.T) {
		res := run(t, policy(t, "spec: {mode: Audit}\n"), helperCommand(t, "ptrace", "read", pid, "ok"))
		if res.ExitCode != 0 {
			t.Errorf("exit code %d: the audited read failed", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindPtrace || v.Outcome != bpf.Audited {
			t.Errorf("violation %+v: want an audited ptrace", v)
		}
	})
}
