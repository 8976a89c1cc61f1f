package enforcer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/recorder"
)

// TestTheLocalLoop records the demo workload, generates its policy, and runs
// it again under enforcement: the same workload runs clean, and each kind of
// misbehaviour is stopped and reported.
func TestTheLocalLoop(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo-app")
	build := exec.Command("go", "build", "-o", demo, "../examples/demo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	state := t.TempDir()
	command := []string{demo, "--state", state}

	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: command})
	if err != nil {
		t.Fatal(err)
	}
	if rec.ExitCode != 0 {
		t.Fatalf("recording: the demo exited with %d", rec.ExitCode)
	}
	// Stopped on every kernel: where an operation cannot be refused, the
	// policy accepts killing after the fact (unpreventable: Kill).
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce, Unpreventable: v1alpha1.UnpreventableKill})
	if err != nil {
		t.Fatal(err)
	}

	if generated.Policy.Spec.Syscalls == nil {
		t.Fatal("the generated policy does not restrict system calls")
	}
	// The kernel-hook rules alone, to see each kind stopped by its own
	// hook rather than by the seccomp filter first.
	hooksOnly := generated.Policy.DeepCopy()
	hooksOnly.Spec.Syscalls = nil

	enforceWith := func(t *testing.T, policy *v1alpha1.EnforcementPolicy, args ...string) *LocalResult {
		t.Helper()
		var stderr bytes.Buffer
		res, err := EnforceCommand(context.Background(), LocalOptions{
			Policy:  policy.DeepCopy(),
			Command: append(append([]string{}, command...), args...),
			Stderr:  &stderr,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("demo stderr:\n%s\nviolations: %+v", stderr.String(), res.Violations)
			}
		})
		return res
	}
	enforce := func(t *testing.T, args ...string) *LocalResult { return enforceWith(t, generated.Policy, args...) }

	t.Run("the recorded workload runs without violations", func(t *testing.T) {
		res := enforce(t)
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Fatalf("exit code %d, %d violations: want 0 and none", res.ExitCode, len(res.Violations))
		}
	})

	idPath, err := exec.LookPath("id")
	if err != nil {
		t.Fatal(err)
	}
	if idPath, err = filepath.EvalSymlinks(idPath); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		misbehave string
		kind      bpf.Kind
		check     func(bpf.Violation) bool
	}{
		{"shadow", bpf.KindFile, func(v bpf.Violation) bool { return v.Path == "/etc/shadow" && v.Access == bpf.AccessRead }},
		{"connect", bpf.KindConnect, func(v bpf.Violation) bool { return v.Addr.String() == "127.0.0.1" && v.Protocol == 6 }},
		{"exec", bpf.KindExec, func(v bpf.Violation) bool { return v.Path == idPath }},
		{"capability", bpf.KindCapability, func(v bpf.Violation) bool { return v.Capability == 3 /* CAP_FOWNER */ }},
	} {
		t.Run("misbehaviour "+tt.misbehave+" is stopped and reported", func(t *testing.T) {
			res := enforceWith(t, hooksOnly, "--misbehave", tt.misbehave)
			// The capability misbehaviour is a chmod of a file the
			// demo never chmods: a file violation too, which may
			// come first.
			if !slices.ContainsFunc(res.Violations, func(v bpf.Violation) bool { return v.Kind == tt.kind && tt.check(v) }) {
				t.Fatalf("violations = %+v, want a %s violation by the misbehaviour", res.Violations, tt.kind)
			}
			if res.ExitCode == 0 {
				t.Errorf("the demo exited 0: the misbehaviour was not stopped")
			}
		})
	}
	// Under its recorded system calls the capability misbehaviour does not
	// even reach the capability check: chmod was never called, and the
	// seccomp filter refuses it with EPERM before it runs. The system call
	// reporter says so, and nothing else sees it.
	t.Run("misbehaviour capability is refused by the seccomp filter first", func(t *testing.T) {
		res := enforce(t, "--misbehave", "capability")
		if res.ExitCode == 0 {
			t.Errorf("the demo exited 0: the chmod was not refused")
		}
		const fchmodat = 268 // x86-64
		if len(res.Violations) != 1 || res.Violations[0].Kind != bpf.KindSyscall || res.Violations[0].Syscall != fchmodat ||
			res.Violations[0].Outcome != bpf.Denied || res.Violations[0].Compat {
			t.Errorf("violations %+v, want one: fchmodat refused by the seccomp filter, before any hook sees the check", res.Violations)
		}
	})
	os.RemoveAll(state)
}
