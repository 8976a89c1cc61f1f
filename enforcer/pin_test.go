package enforcer

import (
	"bufio"
	"context"
	"errors"
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
	"github.com/footprint-dev/footprint/internal/kerneltest"
	"github.com/footprint-dev/footprint/test/vm"
)

// TestPinnedEnforcementHoldsThroughAKilledAgent kills (SIGKILL) a process
// that enforces a policy with pinned maps and links: while no agent runs the
// cgroup is still held (a connect outside the policy fails with EPERM), and
// a successor takes the pins over and can replace the policy.
func TestPinnedEnforcementHoldsThroughAKilledAgent(t *testing.T) {
	a := killedAgent(t, "enforce")
	mount, pinPath, allowed, other, runIn := a.mount, a.pinPath, a.allowed, a.other, a.runIn
	if code := runIn("connect", allowed, "ok", other, "EPERM"); code != 0 {
		t.Fatalf("with no agent running: exit %d, want the policy still held", code)
	}

	// The successor takes over and widens the policy to both ports.
	lc, enf, err := loadAsTheAgent(mount, pinPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	defer enf.Close()
	if code := runIn("connect", allowed, "ok", other, "EPERM"); code != 0 {
		t.Fatalf("after the successor loaded: exit %d, want the policy still held", code)
	}
	wider, err := rules.Compile(policy(t, readAndConnectTo(port(allowed), port(other))))
	if err != nil {
		t.Fatal(err)
	}
	installer, err := NewInstaller(enf)
	if err != nil {
		t.Fatal(err)
	}
	defer installer.Close()
	if err := installer.Install(7, wider); err != nil {
		t.Fatal(err)
	}
	if code := runIn("connect", allowed, "ok", other, "ok"); code != 0 {
		t.Fatalf("after the successor replaced the policy: exit %d, want both ports allowed", code)
	}
}

// TestAnUpgradeToAnotherMapLayoutKeepsEnforcingUntilEveryPolicyIsBack
// upgrades a killed agent's pinned enforcement to a version whose policies
// map has another layout. The predecessor's programs go on holding the
// cgroup from a retired generation until the successor has installed the
// policy again; once it releases them, only the successor's policy applies.
func TestAnUpgradeToAnotherMapLayoutKeepsEnforcingUntilEveryPolicyIsBack(t *testing.T) {
	testUpgradeToAnotherMapLayout(t)
}

// TestAnUpgradeToAnotherMapLayoutKeepsEnforcingInVM is the same with the
// LSM and fmod_ret backends, where the file opens are prevented too: two
// generations' verdicts on one operation combine.
func TestAnUpgradeToAnotherMapLayoutKeepsEnforcingInVM(t *testing.T) {
	if _, inVM := vm.InEachBootOrLaunch(t, "CI=true"); !inVM {
		return
	}
	testUpgradeToAnotherMapLayout(t)
}

func testUpgradeToAnotherMapLayout(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a := killedAgent(t, "upgrade")
	mount, pinPath, cg, allowed, other, runIn := a.mount, a.pinPath, a.cg, a.allowed, a.other, a.runIn

	// Another version: the policies map's values grew. Its one entry
	// cannot be read with the new layout.
	pins := agentPins(pinPath)
	relaid := kerneltest.PinAnotherVersionsMap(t, filepath.Join(pins.Enforcer, "policies"), 8)
	if err := relaid.Put(uint32(7), make([]byte, relaid.ValueSize())); err != nil {
		t.Fatal(err)
	}

	retirement, err := bpf.RetireIncompatibleEnforcement(pins)
	if err != nil {
		t.Fatal(err)
	}
	if retirement.Generation == "" {
		t.Fatal("the predecessor's enforcement was not retired")
	}
	replaced := map[string]bpf.PinReplacement{}
	for _, r := range retirement.Replaced {
		t.Logf("%v", r)
		replaced[filepath.Base(r.Path)] = r
	}
	if r := replaced["policies"]; r.Dropped != 1 || !strings.Contains(r.Change, "ValueSize") {
		t.Errorf("policies: %v, want its one entry dropped for its value size", r)
	}
	if r := replaced["connect_rules"]; r.Dropped == 0 || !strings.Contains(r.Change, "not carried") {
		t.Errorf("connect_rules: %v, want its rules not carried without their policy", r)
	}
	if r, ok := replaced["enforced_cgroups"]; ok {
		t.Errorf("enforced_cgroups: %v, want the holds carried", r)
	}
	lc, enf, err := loadAsTheAgent(mount, pinPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	defer enf.Close()
	holds, err := enf.EnforcedCgroups()
	if err != nil {
		t.Fatal(err)
	}
	if holds[cg.ID] != 7 {
		t.Errorf("the successor's holds: %v, want cgroup %d held to policy 7", holds, cg.ID)
	}
	// held says whether the cgroup is held to the policy allowing only
	// allowed: also its writes where files are prevented (elsewhere a
	// write is killed after the fact).
	held := func(when string) {
		t.Helper()
		if code := runIn("connect", allowed, "ok", other, "EPERM"); code != 0 {
			t.Fatalf("%s: exit %d, want connects held to the policy", when, code)
		}
		if enf.Effect(bpf.KindFile) != bpf.Prevented {
			return
		}
		if code := runIn("open-expect", file, "truncate", "EPERM"); code != 0 {
			t.Fatalf("%s: exit %d, want file writes held to the policy", when, code)
		}
	}
	held("before the successor installed its policies (the retired generation holds the cgroup)")

	// The successor installs the policy and releases the predecessor.
	installer, err := NewInstaller(enf)
	if err != nil {
		t.Fatal(err)
	}
	// Before the Enforcer closes: a replaced version's rules are deleted
	// by a timer.
	defer installer.Close()
	narrow, err := rules.Compile(policy(t, readAndConnectTo(port(allowed))))
	if err != nil {
		t.Fatal(err)
	}
	if err := installer.Install(7, narrow); err != nil {
		t.Fatal(err)
	}
	if n, err := retirement.Release(); err != nil || n != 1 {
		t.Fatalf("release: %d generations, %v; want the one", n, err)
	}
	if _, err := os.Stat(pins.Retired); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the retired generations are still pinned (%v)", err)
	}
	held("after the release")
	// Widened: the retired programs are gone, or they would still refuse.
	wider, err := rules.Compile(policy(t, readAndConnectTo(port(allowed), port(other))))
	if err != nil {
		t.Fatal(err)
	}
	if err := installer.Install(7, wider); err != nil {
		t.Fatal(err)
	}
	if code := runIn("connect", allowed, "ok", other, "ok"); code != 0 {
		t.Fatalf("after widening the policy: exit %d, want both ports allowed (the retired programs detached)", code)
	}
}

// readAndConnectTo is a policy that allows reading and executing any file
// and TCP connects to the loopback ports given, and nothing else of either.
func readAndConnectTo(ports ...string) string {
	text := "spec:\n  mode: Enforce\n  files: {allow: [{path: /**, access: [read, exec]}]}\n  connect:\n    allow:\n"
	for _, p := range ports {
		text += fmt.Sprintf("      - {cidr: 127.0.0.1/32, protocol: TCP, port: %s}\n", p)
	}
	return text
}

// agentPins are the pin directories the agent uses under pinPath.
func agentPins(pinPath string) bpf.EnforcementPins {
	return bpf.EnforcementPins{Lifecycle: filepath.Join(pinPath, "lifecycle"), Enforcer: filepath.Join(pinPath, "enforcer"), Retired: filepath.Join(pinPath, "retired")}
}

// loadAsTheAgent loads the lifecycle and the enforcer pinned where the
// agent pins them under pinPath.
func loadAsTheAgent(mount, pinPath string) (*bpf.Lifecycle, *bpf.Enforcer, error) {
	pins := agentPins(pinPath)
	lc, err := bpf.LoadLifecycle(bpf.LifecycleOptions{CgroupRoot: mount, PinPath: pins.Lifecycle})
	if err != nil {
		return nil, nil, err
	}
	enf, err := bpf.LoadEnforcer(bpf.EnforcerOptions{CgroupRoot: mount, PinPath: pins.Enforcer, Lifecycle: lc})
	if err != nil {
		lc.Close()
		return nil, nil, err
	}
	return lc, enf, nil
}

// killedAgentState is what an agent killed while it held a cgroup left.
type killedAgentState struct {
	mount, pinPath string
	// cg is held to TCP connects to allowed alone (of allowed and other,
	// both listening on loopback).
	cg             *cgroupfs.Cgroup
	allowed, other string
	// runIn runs a helper action in cg and returns its exit code.
	runIn func(args ...string) int
}

// killedAgent runs an agent that pins its enforcement under a new pin
// path, holds a new cgroup to connects to one port alone, and is killed
// (SIGKILL) once it does.
func killedAgent(t *testing.T, name string) *killedAgentState {
	t.Helper()
	a := &killedAgentState{pinPath: filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-%s-%d", name, os.Getpid()))}
	t.Cleanup(func() { os.RemoveAll(a.pinPath) })
	var err error
	if a.mount, err = cgroupfs.Mount(); err != nil {
		t.Fatal(err)
	}
	if a.cg, err = cgroupfs.Create(filepath.Join(a.mount, "footprint", fmt.Sprintf("%s-%d", name, os.Getpid()))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.cg.Remove() })
	a.allowed, a.other = listen(t), listen(t)
	cmd := helperCommand(t, "pinned-enforcer", a.pinPath, fmt.Sprint(a.cg.ID), port(a.allowed))
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
	a.runIn = func(args ...string) int {
		t.Helper()
		c := helperCommand(t, args[0], args[1:]...)
		path, _ := exec.LookPath(c[0])
		res, err := cgroupcmd.Run(context.Background(), a.cg, cgroupcmd.Options{Path: path, Args: c, Stderr: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		return res.ExitCode
	}
	return a
}
