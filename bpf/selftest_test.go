package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/internal/kerneltest"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// loadAll loads the lifecycle, the recorder and the enforcer on this
// kernel, sharing one lifecycle as the node agent does.
func loadAll(t *testing.T) (*Lifecycle, *Recorder, *Enforcer, string) {
	t.Helper()
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	lc, err := LoadLifecycle(LifecycleOptions{CgroupRoot: mount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	rec, err := Load(Options{CgroupRoot: mount, Lifecycle: lc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	enf, err := LoadEnforcer(EnforcerOptions{CgroupRoot: mount, Lifecycle: lc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enf.Close() })
	return lc, rec, enf, mount
}

func TestEveryChosenBackendHasPassedItsSelfTest(t *testing.T) {
	_, rec, enf, _ := loadAll(t)
	for _, c := range rec.Choices() {
		if c.Chosen == "" {
			t.Errorf("recording %s: no backend (rejected %+v)", c.Kind, c.Rejected)
			continue
		}
		if !strings.HasPrefix(c.Proof, "recorded the self-test canary's ") {
			t.Errorf("recording %s with %s: proof %q", c.Kind, c.Chosen, c.Proof)
		}
	}
	for _, c := range enf.Choices() {
		if c.Chosen == "" && c.Kind == KindPtrace && refusedAtLoad(c.Rejected) {
			// Only BPF-LSM and fmod_ret see a ptrace's target: a kernel
			// that refuses both (this host) leaves it not enforced.
			continue
		}
		if c.Chosen == "" {
			t.Errorf("enforcing %s: no backend (rejected %+v)", c.Kind, c.Rejected)
			continue
		}
		want, end := "refused the self-test canary's ", "and reported it"
		switch c.Effect {
		case KilledAfter:
			want = "killed the self-test canary at its "
		case FollowsProcess:
			want, end = "held the self-test canary to its policy after its ", "let it go at its exit"
		case ReportedSeccomp:
			want, end = "reported the self-test canary's ", "which its seccomp filter refused with EPERM"
		}
		if !strings.HasPrefix(c.Proof, want) || !strings.HasSuffix(c.Proof, end) {
			t.Errorf("enforcing %s with %s (%s): proof %q, want %q...", c.Kind, c.Chosen, c.Effect, c.Proof, want)
		}
	}
}

// refusedAtLoad says whether the kernel refused every backend of a kind
// at load (or turned a BPF-LSM one away), rather than one failing its
// self-test.
func refusedAtLoad(rejected []Rejection) bool {
	for _, rj := range rejected {
		if rj.Stage != StageLoad && rj.Stage != StageLSMInactive {
			return false
		}
	}
	return len(rejected) > 0
}

func TestSelfTestsLeaveNothingBehind(t *testing.T) {
	_, rec, enf, mount := loadAll(t)

	counters, err := rec.Counters()
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range counters {
		if c != (KindCounters{}) {
			t.Errorf("recorder counters of %s after loading: %+v, want zero", k, c)
		}
	}
	ecounters, err := enf.Counters()
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range ecounters {
		if c != (EnforcementCounters{}) {
			t.Errorf("enforcement counters of %s after loading: %+v, want zero", k, c)
		}
	}
	if entries, err := rec.Sweep(nil); err != nil || len(entries) != 0 {
		t.Errorf("aggregated entries after loading: %d (%v), want none", len(entries), err)
	}
	if w, err := rec.Watched(); err != nil || len(w) != 0 {
		t.Errorf("watched cgroups after loading: %v (%v), want none", w, err)
	}
	if held, err := enf.EnforcedCgroups(); err != nil || len(held) != 0 {
		t.Errorf("held cgroups after loading: %v (%v), want none", held, err)
	}
	if p, err := enf.Policies(); err != nil || len(p) != 0 {
		t.Errorf("policies after loading: %v (%v), want none", p, err)
	}
	if r, err := enf.PathRules(); err != nil || len(r) != 0 {
		t.Errorf("path rules after loading: %d (%v), want none", len(r), err)
	}
	if r, err := enf.SyscallRuleKeys(); err != nil || len(r) != 0 {
		t.Errorf("system call rules after loading: %v (%v), want none", r, err)
	}
	if enf.SyscallBackendAttached() {
		t.Error("the system call reporter is attached after loading, with nothing held")
	}
	if h, err := enf.HeldProcesses(); err != nil || len(h) != 0 {
		t.Errorf("processes held outside their policy's cgroups after loading: %v (%v), want none", h, err)
	}

	rd, err := rec.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if ev, err := rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("first sighting left in the ring buffer: %+v (%v)", ev, err)
	}
	vr, err := enf.NewViolationReader()
	if err != nil {
		t.Fatal(err)
	}
	defer vr.Close()
	vr.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if v, err := vr.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("violation left in the ring buffer: %+v (%v)", v, err)
	}

	left, _ := filepath.Glob(filepath.Join(mount, "footprint", "selftest-*"))
	if len(left) != 0 {
		t.Errorf("canary cgroups left behind: %v", left)
	}
}

// A restarted agent's pod is made while the previous agent watches new
// pods, so the agent's own cgroup, where the self-tests make their
// cgroups, is recorded: the self-tests must pass there all the same.
func TestTheSelfTestsPassInARecordedCgroup(t *testing.T) {
	kerneltest.RequireRoot(t)
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	pins := filepath.Join("/sys/fs/bpf", fmt.Sprintf("footprint-test-selftest-%d", os.Getpid()))
	t.Cleanup(func() { os.RemoveAll(pins) }) // the watch of this cgroup goes with its map
	pin := func(part string) string { return filepath.Join(pins, part) }
	first, err := LoadLifecycle(LifecycleOptions{CgroupRoot: mount, PinPath: pin("lifecycle")})
	if err != nil {
		t.Fatal(err)
	}
	own, err := ownCgroupPath()
	if err != nil {
		t.Fatal(err)
	}
	ownID, err := cgroupfs.ID(filepath.Join(mount, own))
	if err != nil {
		t.Fatal(err)
	}
	watched := typesFpWatch{RecordingId: 7, Kinds: uint32(AllKinds), Flags: watchLive | watchInherited | watchProvisional | watchContainers}
	if err := first.maps["watched_cgroups"].Put(ownID, watched); err != nil {
		t.Fatal(err)
	}
	first.Close() // the agent goes; its pinned maps stay

	lc, err := LoadLifecycle(LifecycleOptions{CgroupRoot: mount, PinPath: pin("lifecycle")})
	if err != nil {
		t.Fatalf("the next agent's lifecycle: %v", err)
	}
	t.Cleanup(func() { lc.Close() })
	rec, err := Load(Options{CgroupRoot: mount, PinPath: pin("recorder"), Lifecycle: lc})
	if err != nil {
		t.Fatalf("the next agent's recorder: %v", err)
	}
	rec.Close()
	enf, err := LoadEnforcer(EnforcerOptions{CgroupRoot: mount, PinPath: pin("enforcer"), Lifecycle: lc})
	if err != nil {
		t.Fatalf("the next agent's enforcer: %v", err)
	}
	enf.Close()
}
