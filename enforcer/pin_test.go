package enforcer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// TestPinnedEnforcementHoldsThroughAKilledAgent kills (SIGKILL) a process
// that enforces a policy with pinned maps and links: while no agent runs the
// cgroup is still held (a connect outside the policy fails with EPERM), and
// a successor takes the pins over and can replace the policy.
func TestPinnedEnforcementHoldsThroughAKilledAgent(t *testing.T) {
	pinPath := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-enforce-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pinPath) })
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("pin-enforce-%d", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove()
	allowed, other := listen(t), listen(t)

	cmd := helperCommand(t, "pinned-enforcer", pinPath, fmt.Sprint(cg.ID), port(allowed))
	agent := exec.Command(cmd[0], cmd[1:]...)
	agent.Stderr = os.Stderr
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		agent.Process.Kill()
		agent.Wait()
		t.Fatalf("the enforcing process did not start: %q, %v", line, err)
	}
	agent.Process.Signal(syscall.SIGKILL)
	agent.Wait()

	runIn := func(args ...string) int {
		c := helperCommand(t, args[0], args[1:]...)
		path, _ := exec.LookPath(c[0])
		res, err := cgroupcmd.Run(context.Background(), cg, cgroupcmd.Options{Path: path, Args: c, Stderr: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		return res.ExitCode
	}
	if code := runIn("connect", allowed, "ok", other, "EPERM"); code != 0 {
		t.Fatalf("with no agent running: exit %d, want the policy still held", code)
	}

	// The successor takes over and widens the policy to both ports.
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount, PinPath: pinPath})
	if err != nil {
		t.Fatal(err)
	}
	defer enf.Close()
	if code := runIn("connect", allowed, "ok", other, "EPERM"); code != 0 {
		t.Fatalf("after the successor loaded: exit %d, want the policy still held", code)
	}
	wider, err := rules.Compile(policy(t, fmt.Sprintf("spec:\n  mode: Enforce\n  connect: {allow: [{cidr: 127.0.0.1/32, protocol: TCP, port: %s}, {cidr: 127.0.0.1/32, protocol: TCP, port: %s}]}\n", port(allowed), port(other))))
	if err != nil {
		t.Fatal(err)
	}
	installer, err := NewInstaller(enf)
	if err != nil {
		t.Fatal(err)
	}
	if err := installer.Install(7, wider); err != nil {
		t.Fatal(err)
	}
	if code := runIn("connect", allowed, "ok", other, "ok"); code != 0 {
		t.Fatalf("after the successor replaced the policy: exit %d, want both ports allowed", code)
	}
}
