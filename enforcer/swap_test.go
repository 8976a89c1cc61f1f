package enforcer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/enforcer/rules"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// TestReplacingAPolicyLeavesNoWindow reinstalls a policy over and over while
// a process held to it connects in a loop: every version allows the
// destination, so no connect may ever be denied, not even between versions.
// A second cgroup under a second policy runs at the same time and must keep
// its own rules.
func TestReplacingAPolicyLeavesNoWindow(t *testing.T) {
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount})
	if err != nil {
		t.Fatal(err)
	}
	defer enf.Close()

	allowed, other := listen(t), listen(t)
	reader, err := enf.NewViolationReader()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	compile := func(text string) *rules.Compiled {
		c, err := rules.Compile(policy(t, text))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	connectOnly := func(addr string) *rules.Compiled {
		return compile(fmt.Sprintf("spec:\n  mode: Enforce\n  connect: {allow: [{cidr: 127.0.0.1/32, protocol: TCP, port: %s}]}\n", port(addr)))
	}
	installer, err := NewInstaller(enf)
	if err != nil {
		t.Fatal(err)
	}
	defer installer.Close()
	if err := installer.Install(1, connectOnly(allowed)); err != nil {
		t.Fatal(err)
	}
	if err := installer.Install(2, connectOnly(other)); err != nil {
		t.Fatal(err)
	}

	cgroups := make([]*cgroupfs.Cgroup, 2)
	for i := range cgroups {
		cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("swap-%d-%d", os.Getpid(), i)))
		if err != nil {
			t.Fatal(err)
		}
		defer cg.Remove()
		if err := enf.EnforceCgroup(cg.ID, uint32(i+1), bpf.Hold{}); err != nil {
			t.Fatal(err)
		}
		cgroups[i] = cg
	}

	var stop atomic.Bool
	swaps := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			// Alternate between two versions that both allow the
			// destination: the rules move to fresh ids every time.
			version := connectOnly(allowed)
			if n%2 == 1 {
				version = compile(fmt.Sprintf("spec:\n  mode: Enforce\n  connect: {allow: [{cidr: 127.0.0.0/8, protocol: TCP, port: %s}, {cidr: 10.0.0.0/8, protocol: UDP, port: 53}]}\n", port(allowed)))
			}
			if err := installer.Install(1, version); err != nil {
				t.Error(err)
				break
			}
			n++
		}
		swaps <- n
	}()

	run := func(cg *cgroupfs.Cgroup, args ...string) cgroupcmd.Result {
		var stderr bytes.Buffer
		cmd := helperCommand(t, args[0], args[1:]...)
		path, _ := exec.LookPath(cmd[0])
		res, err := cgroupcmd.Run(context.Background(), cg, cgroupcmd.Options{Path: path, Args: cmd, Stderr: &stderr})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 {
			t.Errorf("%v: exit code %d: %s", args, res.ExitCode, stderr.String())
		}
		return res
	}
	run(cgroups[0], "connect-loop", allowed, "3000")
	stop.Store(true)
	n := <-swaps
	if n < 50 {
		t.Errorf("only %d policy swaps happened during the loop; the test proves nothing", n)
	}
	// The second cgroup keeps its own policy throughout.
	run(cgroups[1], "connect", other, "ok", allowed, "EPERM")
	// Exactly one distinct violation, the second cgroup's, under its policy.
	var got []bpf.Violation
	for {
		reader.SetDeadline(time.Now().Add(100 * time.Millisecond))
		v, err := reader.Read()
		if err != nil {
			break
		}
		got = append(got, v)
	}
	if len(got) != 1 || got[0].CgroupID != cgroups[1].ID || got[0].PolicyID != 2 || fmt.Sprint(got[0].Port) != port(allowed) {
		t.Errorf("violations %+v, want one: cgroup %d under policy 2 connecting to %s", got, cgroups[1].ID, allowed)
	}
	t.Logf("%d policy versions swapped in under 3000 connects", n)
}
