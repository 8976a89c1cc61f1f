package enforcer

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/test/vm"
)

// TestPreventsInVM enforces in a VM with Debian's kernels, where BPF-LSM and
// fmod_ret programs load (this host refuses them), booted with and without
// bpf among the active LSMs. Where bpf is active the LSM hooks prevent;
// where it is not (Ubuntu's default), their programs would attach and never
// run, so fmod_ret on the kernel's security_* functions must be chosen. In
// both, every kind is prevented: the operation fails with EPERM before it
// has any effect, the process lives on, and the violation is reported.
func TestPreventsInVM(t *testing.T) {
	boot, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed")
	if err := os.WriteFile(allowed, []byte("content"), 0o644); err != nil {
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

	t.Run("every kind has a backend that prevents", func(t *testing.T) {
		res := run(t, policy(t, "spec: {mode: Audit}\n"), helperCommand(t, "read", allowed))
		want := map[bpf.Kind]string{
			bpf.KindFile:       "fmod_ret/security_file_open",
			bpf.KindExec:       "fmod_ret/security_bprm_check",
			bpf.KindCapability: "fmod_ret/security_capable",
			bpf.KindConnect:    "cgroup/connect4+connect6+sendmsg4+sendmsg6",
		}
		if boot.BPFLSM {
			want[bpf.KindFile], want[bpf.KindExec], want[bpf.KindCapability] = "lsm/file_open", "lsm/bprm_check_security", "lsm/capable"
		}
		for _, c := range res.Choices {
			if w, ok := want[c.Kind]; ok && (c.Chosen != w || c.Effect != bpf.Prevented) {
				t.Errorf("%s: backend %q (%s), want %q (prevented); rejected %+v", c.Kind, c.Chosen, c.Effect, w, c.Rejected)
			}
		}
	})

	t.Run("a file open outside the policy fails with EPERM and truncates nothing", func(t *testing.T) {
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
		res = run(t, p, helperCommand(t, "open-expect", allowed, "truncate", "EPERM"))
		if res.ExitCode != 0 {
			t.Fatalf("write with O_TRUNC: exit code %d, want 0 (the helper saw EPERM and lived)", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindFile || v.Path != allowed || v.Outcome != bpf.Denied {
			t.Errorf("violation = %+v, want a denied write of %s", v, allowed)
		}
		if b, err := os.ReadFile(allowed); err != nil || string(b) != "content" {
			t.Errorf("after the denied O_TRUNC open the file holds %q (%v), want it untouched", b, err)
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

	t.Run("a capability outside the policy fails with EPERM and changes nothing", func(t *testing.T) {
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
		var st syscall.Stat_t
		if err := syscall.Stat(owned, &st); err != nil || st.Uid != 0 {
			t.Errorf("after the denied chown the file's owner is %d (%v), want 0", st.Uid, err)
		}
		// A check the kernel refuses by itself is none of the policy's:
		// the capability module's verdict comes first.
		res = run(t, p, helperCommand(t, "unprivileged-chown-expect", owned, "1234", "EPERM"))
		if res.ExitCode != 0 || len(res.Violations) != 0 {
			t.Errorf("a chown without CAP_CHOWN: exit %d, violations %+v; want EPERM from the kernel and no violation", res.ExitCode, res.Violations)
		}
	})

	t.Run("a connect outside the policy fails with EPERM and reaches nobody", func(t *testing.T) {
		allowedAddr := listen(t)
		other, accepted := countingListener(t)
		p := policy(t, fmt.Sprintf("spec:\n  mode: Enforce\n  connect: {allow: [{cidr: 127.0.0.1/32, protocol: TCP, port: %s}]}\n", port(allowedAddr)))
		res := run(t, p, helperCommand(t, "connect", allowedAddr, "ok", other, "EPERM"))
		if res.ExitCode != 0 {
			t.Fatalf("exit code %d, want 0", res.ExitCode)
		}
		if v := onlyViolation(t, res); v.Kind != bpf.KindConnect || v.Outcome != bpf.Denied {
			t.Errorf("violation = %+v, want a denied connect", v)
		}
		time.Sleep(50 * time.Millisecond)
		if n := accepted.Load(); n != 0 {
			t.Errorf("the forbidden destination accepted %d connections, want none", n)
		}
	})
}

// countingListener listens on loopback and counts the connections it accepts.
func countingListener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), &n
}
