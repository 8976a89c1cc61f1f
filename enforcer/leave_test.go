package enforcer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kerneltest"
)

// outsideCgroup is a cgroup no policy holds, for processes to escape to.
func outsideCgroup(t *testing.T) *cgroupfs.Cgroup {
	t.Helper()
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroupfs.Create(filepath.Join(mount, "footprint", fmt.Sprintf("outside-%d", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cg.Kill()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cg.WaitEmpty(ctx)
		cg.Remove()
	})
	return cg
}

// violationsOf returns the violations of one kind.
func violationsOf(res *LocalResult, k bpf.Kind) []bpf.Violation {
	var out []bpf.Violation
	for _, v := range res.Violations {
		if v.Kind == k {
			out = append(out, v)
		}
	}
	return out
}

// A process under a policy that goes to a cgroup the policy does not hold,
// by either route the kernel offers, takes the policy along: its forbidden
// connect is still refused there, and so is its children's; the departure
// is reported, against the cgroup it left.
func TestAProcessThatLeavesItsCgroupIsStillHeldToItsPolicy(t *testing.T) {
	kerneltest.RequireRoot(t)
	allowed, other := listen(t), listen(t)
	outside := outsideCgroup(t)
	tests := []struct {
		name   string
		mode   string
		action []string
		// want is the forbidden connect's outcome.
		want    string
		outcome bpf.Outcome
	}{
		{"moving itself with a write to another cgroup's cgroup.procs", "Enforce",
			[]string{"leave", outside.Path, "connect", allowed, "ok", other, "EPERM"}, "EPERM", bpf.Followed},
		{"a child it starts after moving itself", "Enforce",
			[]string{"leave", outside.Path, "spawn", "connect", allowed, "ok", other, "EPERM"}, "EPERM", bpf.Followed},
		{"moving its child with a write to another cgroup's cgroup.procs", "Enforce",
			[]string{"move-child", outside.Path, "connect", allowed, "ok", other, "EPERM"}, "EPERM", bpf.Followed},
		{"cloning a child into another cgroup (clone3 CLONE_INTO_CGROUP)", "Enforce",
			[]string{"clone-into", outside.Path, "connect", allowed, "ok", other, "EPERM"}, "EPERM", bpf.Followed},
		{"moving itself, in audit mode", "Audit",
			[]string{"leave", outside.Path, "connect", allowed, "ok", other, "ok"}, "ok", bpf.Audited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := connectOnlyTo(t, tc.mode, allowed)
			res := run(t, p, helperCommand(t, tc.action[0], tc.action[1:]...))
			if res.ExitCode != 0 {
				t.Fatalf("exit code %d, want 0: the connects did not go as expected", res.ExitCode)
			}
			departures := violationsOf(res, bpf.KindCgroup)
			if len(departures) != 1 {
				t.Fatalf("departures reported: %+v, want 1", departures)
			}
			d := departures[0]
			if d.TargetCgroupID != outside.ID || d.CgroupID == outside.ID || d.TargetPID == 0 || d.Outcome != tc.outcome {
				t.Errorf("departure = %+v, want pid moved to cgroup %d from the command's, %s", d, outside.ID, tc.outcome)
			}
			if text, want := Describe(d), strings.TrimPrefix(outside.Path, filepath.Dir(filepath.Dir(outside.Path))); !strings.Contains(text, want) {
				t.Errorf("the departure reads %q, want it to name cgroup %s", text, want)
			}
			connects := violationsOf(res, bpf.KindConnect)
			wantConnect := bpf.Denied
			if tc.want == "ok" {
				wantConnect = bpf.Audited
			}
			if len(connects) != 1 || connects[0].Outcome != wantConnect || connects[0].CgroupID != d.CgroupID {
				t.Errorf("connect violations = %+v, want one %s, reported against cgroup %d", connects, wantConnect, d.CgroupID)
			}
		})
	}
}

// A workload's own cgroups below the one its policy holds are the policy's:
// moving there is not leaving, and the rules hold there too.
func TestMovingIntoAWorkloadsOwnSubCgroupIsNotAViolation(t *testing.T) {
	kerneltest.RequireRoot(t)
	allowed, other := listen(t), listen(t)
	p := connectOnlyTo(t, "Enforce", allowed)
	res := run(t, p, helperCommand(t, "enter-subcgroup", "connect", allowed, "ok", other, "EPERM"))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0", res.ExitCode)
	}
	if d := violationsOf(res, bpf.KindCgroup); len(d) != 0 {
		t.Errorf("departures reported: %+v, want none", d)
	}
	if c := violationsOf(res, bpf.KindConnect); len(c) != 1 || c[0].Outcome != bpf.Denied {
		t.Errorf("connect violations = %+v, want one denied", c)
	}
}

// When a local run ends, so does its enforcement: a process that left the
// command's cgroup does not outlive the run unheld, it is killed with the
// command's other processes.
func TestAProcessThatLeftIsKilledWhenTheLocalRunEnds(t *testing.T) {
	kerneltest.RequireRoot(t)
	outside := outsideCgroup(t)
	p := policy(t, `
spec:
  mode: Enforce
  connect: {allow: []}
`)
	res := run(t, p, helperCommand(t, "clone-into", outside.Path, "spawn-detached", "sleep", "600"))
	if res.ExitCode != 0 {
		t.Fatalf("exit code %d, want 0", res.ExitCode)
	}
	departures := violationsOf(res, bpf.KindCgroup)
	if len(departures) != 1 {
		t.Fatalf("departures reported: %+v, want 1", departures)
	}
	// The child cloned out has exited; its own child sleeps on.
	if res.LeftBehind != 1 {
		t.Errorf("processes left behind and killed: %d, want 1", res.LeftBehind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := outside.WaitEmpty(ctx); err != nil {
		procs, _ := outside.Procs()
		t.Errorf("processes still running in %s after the run: %v", outside.Path, procs)
	}
}
