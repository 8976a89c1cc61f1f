package enforcer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/test/vm"
)

// TestPreventsWithBPFLSMInVM enforces in a VM with Debian's kernel, where
// BPF-LSM programs load (this host refuses them): there every kind is
// prevented, the operation failing with EPERM, and the process lives on. The
// objects are the same CO-RE objects the host runs.
func TestPreventsWithBPFLSMInVM(t *testing.T) {
	if !vm.InVMOrLaunch(t, "CI=true") {
		return
	}
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed")
	if err := os.WriteFile(allowed, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A program of its own: in the VM, /bin/true is busybox, like env.
	other := filepath.Join(dir, "other-program")
	self, err := os.ReadFile(selfPath(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, self, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("every kind is prevented by an LSM hook", func(t *testing.T) {
		res := run(t, policy(t, "spec: {mode: Audit}\n"), helperCommand(t, "read", allowed))
		want := map[bpf.Kind]string{
			bpf.KindFile:       "lsm/file_open",
			bpf.KindExec:       "lsm/bprm_check_security",
			bpf.KindCapability: "lsm/capable",
			bpf.KindConnect:    "cgroup/connect4+connect6+sendmsg4+sendmsg6",
		}
		for _, c := range res.Choices {
			if w, ok := want[c.Kind]; ok && (c.Chosen != w || c.Effect != bpf.Prevented) {
				t.Errorf("%s: backend %q (%s), want %q (prevented); rejected %+v", c.Kind, c.Chosen, c.Effect, w, c.Rejected)
			}
		}
	})

	t.Run("a file open outside the policy fails with EPERM, reads and writes apart", func(t *testing.T) {
		p := policy(t, `
spec:
  mode: Enforce
  files:
    allow:
      - {path: "/**", access: [read]}
`+execRules(t))
		res := run(t, p, helperCommand(t, "open-expect", allowed, "read", "ok"))
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Fatalf("read of an allowed file: exit %d, violations %+v", res.ExitCode, res.Violations)
		}
		res = run(t, p, helperCommand(t, "open-expect", allowed, "write", "EPERM"))
		if res.ExitCode != 0 {
			t.Fatalf("write: exit code %d, want 0 (the helper saw EPERM and lived)", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindFile || v.Path != allowed || v.Outcome != bpf.Denied {
			t.Errorf("violation = %+v, want a denied write of %s", v, allowed)
		}
	})

	t.Run("an execution outside the policy fails with EPERM", func(t *testing.T) {
		p := policy(t, "spec:\n  mode: Enforce\n"+execRules(t))
		res := run(t, p, helperCommand(t, "exec-expect", other, "EPERM"))
		if res.ExitCode != 0 {
			t.Fatalf("exit code %d, want 0 (the helper saw EPERM and lived)", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindExec || v.Path != other || v.Outcome != bpf.Denied {
			t.Errorf("violation = %+v, want a denied exec of %s", v, other)
		}
	})

	t.Run("a capability outside the policy fails with EPERM", func(t *testing.T) {
		owned := filepath.Join(dir, "owned")
		if err := os.WriteFile(owned, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		p := policy(t, "spec:\n  mode: Enforce\n  capabilities: {allow: [CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN]}\n")
		res := run(t, p, helperCommand(t, "chown-expect", owned, "1234", "EPERM"))
		if res.ExitCode != 0 {
			t.Fatalf("exit code %d, want 0 (the helper saw EPERM and lived)", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindCapability || v.Capability != 0 || v.Outcome != bpf.Denied {
			t.Errorf("violation = %+v, want a denied CAP_CHOWN", v)
		}
	})

	t.Run("a connect outside the policy fails with EPERM", func(t *testing.T) {
		allowedAddr, other := listen(t), listen(t)
		p := policy(t, fmt.Sprintf("spec:\n  mode: Enforce\n  connect: {allow: [{cidr: 127.0.0.1/32, protocol: TCP, port: %s}]}\n", port(allowedAddr)))
		res := run(t, p, helperCommand(t, "connect", allowedAddr, "ok", other, "EPERM"))
		if res.ExitCode != 0 {
			t.Fatalf("exit code %d, want 0", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindConnect || v.Outcome != bpf.Denied {
			t.Errorf("violation = %+v, want a denied connect", v)
		}
	})
}
