package bpf

import (
	"strings"
	"testing"
)

// fakeKernel stands in for the kernel in choose's tests: which backends
// load, which pass their self-test, and what was asked of it.
type fakeKernel struct {
	refuses  map[string]bool // load refused
	fails    map[string]bool // self-test fails
	loaded   []string
	rounds   [][]string
	detached []string
}

func (f *fakeKernel) load(b backend) (*attachment, *Rejection) {
	if f.refuses[b.name] {
		return nil, &Rejection{b.name, StageLoad, "load refused: operation not permitted"}
	}
	f.loaded = append(f.loaded, b.name)
	return &attachment{backend: b}, nil
}

func (f *fakeKernel) test(trial map[Kind]*attachment) (map[Kind]string, map[Kind]string) {
	failed, proofs := map[Kind]string{}, map[Kind]string{}
	var round []string
	for k, a := range trial {
		round = append(round, a.backend.name)
		if f.fails[a.backend.name] {
			failed[k] = "attached, but let the canary through unseen"
			f.detached = append(f.detached, a.backend.name)
		} else {
			proofs[k] = "saw the canary"
		}
	}
	f.rounds = append(f.rounds, round)
	return failed, proofs
}

var fakeTable = []kindBackends{
	{KindExec, true, []backend{{name: "exec-best"}, {name: "exec-fallback"}}},
	{KindFile, false, []backend{{name: "lsm/file_open"}, {name: "fentry/file"}, {name: "tracepoint/file"}}},
}

func choiceOf(t *testing.T, choices []BackendChoice, k Kind) BackendChoice {
	t.Helper()
	for _, c := range choices {
		if c.Kind == k {
			return c
		}
	}
	t.Fatalf("no choice for %s in %+v", k, choices)
	return BackendChoice{}
}

func TestChooseKeepsOnlyBackendsWhoseSelfTestPasses(t *testing.T) {
	f := &fakeKernel{fails: map[string]bool{"lsm/file_open": true}}
	chosen, choices, err := choose(fakeTable, nil, "", nil, f.load, f.test)
	if err != nil {
		t.Fatal(err)
	}
	file := choiceOf(t, choices, KindFile)
	if file.Chosen != "fentry/file" || file.Proof != "saw the canary" {
		t.Errorf("files: chose %q (proof %q), want fentry/file, proven", file.Chosen, file.Proof)
	}
	if len(file.Rejected) != 1 || file.Rejected[0].Stage != StageSelfTest || file.Rejected[0].Backend != "lsm/file_open" {
		t.Errorf("files: rejected %+v, want lsm/file_open at the self-test", file.Rejected)
	}
	if chosen[KindFile].backend.name != "fentry/file" {
		t.Errorf("attachment kept for files: %s", chosen[KindFile].backend.name)
	}
	// Kinds are tested together: round one tries the best of each, round
	// two only the fallback of the kind that failed.
	if len(f.rounds) != 2 || len(f.rounds[0]) != 2 || len(f.rounds[1]) != 1 || f.rounds[1][0] != "fentry/file" {
		t.Errorf("self-test rounds %v, want [both best] then [fentry/file]", f.rounds)
	}
	for _, name := range f.loaded {
		if name == "tracepoint/file" {
			t.Errorf("loaded %s although a better backend passed", name)
		}
	}
}

func TestChooseRefusesBPFLSMBackendsWhereBPFIsNotAnActiveLSM(t *testing.T) {
	f := &fakeKernel{}
	_, choices, err := choose(fakeTable, nil, "", lsmList{"lockdown", "capability", "landlock", "yama"}, f.load, f.test)
	if err != nil {
		t.Fatal(err)
	}
	file := choiceOf(t, choices, KindFile)
	if file.Chosen != "fentry/file" {
		t.Errorf("files: chose %q, want fentry/file", file.Chosen)
	}
	if len(file.Rejected) != 1 || file.Rejected[0].Stage != StageLSMInactive ||
		!strings.Contains(file.Rejected[0].Reason, "lsm=lockdown,capability,landlock,yama,bpf") {
		t.Errorf("files: rejected %+v, want lsm/file_open refused with the boot parameter that fixes it", file.Rejected)
	}
	for _, name := range f.loaded {
		if name == "lsm/file_open" {
			t.Error("loaded an LSM program although bpf is not an active LSM")
		}
	}
	// Where bpf is active, the LSM backend is tried.
	f = &fakeKernel{}
	_, choices, _ = choose(fakeTable, nil, "", lsmList{"capability", "bpf"}, f.load, f.test)
	if c := choiceOf(t, choices, KindFile); c.Chosen != "lsm/file_open" {
		t.Errorf("with bpf active: chose %q, want lsm/file_open", c.Chosen)
	}
}

func TestChooseFailsWhenNoBackendOfARequiredKindWorks(t *testing.T) {
	f := &fakeKernel{refuses: map[string]bool{"exec-best": true}, fails: map[string]bool{"exec-fallback": true}}
	_, _, err := choose(fakeTable, nil, "", nil, f.load, f.test)
	if err == nil {
		t.Fatal("no error although no exec backend works")
	}
	for _, want := range []string{"executables", "exec-best: load refused", "exec-fallback: attached, but"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestChooseLeavesAnOptionalKindWithoutBackend(t *testing.T) {
	f := &fakeKernel{fails: map[string]bool{"lsm/file_open": true, "fentry/file": true, "tracepoint/file": true}}
	chosen, choices, err := choose(fakeTable, nil, "", nil, f.load, f.test)
	if err != nil {
		t.Fatal(err)
	}
	if c := choiceOf(t, choices, KindFile); c.Chosen != "" || len(c.Rejected) != 3 || chosen[KindFile] != nil {
		t.Errorf("files: %+v, want no backend and three self-test rejections", c)
	}
	if len(f.detached) != 3 {
		t.Errorf("detached %v, want every failed backend detached", f.detached)
	}
}

func TestChooseTriesOnlyTheBackendAskedFor(t *testing.T) {
	f := &fakeKernel{}
	_, choices, err := choose(fakeTable, map[Kind]string{KindFile: "tracepoint/file"}, "", nil, f.load, f.test)
	if err != nil {
		t.Fatal(err)
	}
	c := choiceOf(t, choices, KindFile)
	if c.Chosen != "tracepoint/file" || len(c.Rejected) != 2 || c.Rejected[0].Stage != StageNotTried {
		t.Errorf("files: %+v, want tracepoint/file with the two others not tried", c)
	}
	if _, _, err := choose(fakeTable, map[Kind]string{KindFile: "kprobe/file"}, "", nil, f.load, f.test); err == nil ||
		!strings.Contains(err.Error(), `unknown backend "kprobe/file" for files`) {
		t.Errorf("unknown backend: error %v", err)
	}
}
