package enforcer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/generator"
	"github.com/footprint-dev/footprint/recorder"
	"github.com/footprint-dev/footprint/test/vm"
)

// serveDescriptors listens on an abstract AF_UNIX name and, to each client,
// sends a descriptor of the file whose path the client writes (SCM_RIGHTS).
// It runs in the test process, outside every policy: the sender an attacker
// would use. The same name serves every file, so that a policy's socket
// rules treat the normal run and the attack alike.
func serveDescriptors(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("@footprint-test-descriptors-%d", os.Getpid())
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				f, err := os.Open(string(buf[:n]))
				if err != nil {
					c.Write([]byte("open: " + err.Error()))
					return
				}
				defer f.Close()
				c.WriteMsgUnix([]byte("fd"), unix.UnixRights(int(f.Fd())), nil)
			}()
		}
	}()
	return name
}

// receiveDescriptor asks the server at name for a descriptor of path and
// reads a byte through it: nil when it arrived, EPERM when the kernel held
// it back (the message comes with MSG_CTRUNC and no descriptor).
func receiveDescriptor(name, path string) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte(path)); err != nil {
		return err
	}
	buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "fd" {
		return fmt.Errorf("server: %s", buf[:n])
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return err
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, got...)
		}
	}
	if len(fds) == 0 {
		if flags&unix.MSG_CTRUNC != 0 {
			return fmt.Errorf("no descriptor arrived (MSG_CTRUNC): %w", unix.EPERM)
		}
		return errors.New("no descriptor arrived")
	}
	defer unix.Close(fds[0])
	var b [1]byte
	if _, err := unix.Read(fds[0], b[:]); err != nil {
		return fmt.Errorf("read through the received descriptor: %w", err)
	}
	return nil
}

// TestAReceivedDescriptorOutsideThePolicyIsRefusedInVM records a program
// that receives a descriptor of one file from a process outside it (this
// test), exports its policy, and runs it again under the policy: the same
// descriptor arrives with no violation, while a descriptor of another file,
// sent the same way, is held back by the kernel (the receiver gets none,
// with MSG_CTRUNC), and is reported as a receive of that path. Only the
// file_receive hook (BPF-LSM, or fentry/fmod_ret on security_file_receive)
// sees a descriptor arrive, so the test runs in the VM's boots; this host's
// syscall tracepoints record none (footprint probe says "not covered").
func TestAReceivedDescriptorOutsideThePolicyIsRefusedInVM(t *testing.T) {
	_, inVM := vm.InEachBootOrLaunch(t, "CI=true")
	if !inVM {
		return
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	allowed, secret := filepath.Join(dir, "allowed"), filepath.Join(dir, "secret")
	for _, f := range []string{allowed, secret} {
		if err := os.WriteFile(f, []byte("content"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	server := serveDescriptors(t)

	rec, err := recorder.RecordCommand(context.Background(), recorder.LocalOptions{Command: helperCommand(t, "receive", server, allowed, "ok")})
	if err != nil || rec.ExitCode != 0 {
		t.Fatalf("recording: %v, exit code %d", err, rec.ExitCode)
	}
	i := slices.IndexFunc(rec.Profile.Spec.Files, func(f v1alpha1.FileEntry) bool { return f.Path == allowed })
	if i < 0 || !slices.Equal(rec.Profile.Spec.Files[i].Access, []v1alpha1.FileAccessMode{v1alpha1.AccessReceive}) {
		t.Fatalf("the profile does not record the receive of %s alone: %+v", allowed, rec.Profile.Spec.Files)
	}
	generated, err := generator.Policy(rec.Profile, generator.PolicyOptions{Mode: v1alpha1.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}

	res := run(t, generated.Policy.DeepCopy(), helperCommand(t, "receive", server, allowed, "ok"))
	if res.ExitCode != 0 || len(res.Violations) != 0 {
		t.Fatalf("the recorded run under its own policy: exit code %d, violations %+v; want 0 and none", res.ExitCode, res.Violations)
	}
	res = run(t, generated.Policy.DeepCopy(), helperCommand(t, "receive", server, secret, "EPERM"))
	if res.ExitCode != 0 {
		t.Errorf("exit code %d: the descriptor of %s arrived", res.ExitCode, secret)
	}
	v := onlyViolation(t, res)
	if v.Kind != bpf.KindFile || v.Path != secret || !slices.Equal(v.Access.Names(), []string{"receive"}) || v.Outcome != bpf.Denied {
		t.Errorf("violation %+v: want a denied receive of %s", v, secret)
	}
	if d := Describe(v); !strings.Contains(d, secret) || !strings.Contains(d, "receive") {
		t.Errorf("described as %q; want the path and the access", d)
	}
}
