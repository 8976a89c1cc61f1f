package enforcer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/go-logr/logr"

	"github.com/footprint-dev/footprint/bpf"
)

// kernelHolds stands in for the enforced_cgroups map: pure logic is tested
// here, the map itself in package bpf.
type kernelHolds struct {
	calls   []string
	pending map[uint64]uint32 // containers stopped at their first exec
	refuse  map[uint64]bool
}

func (k *kernelHolds) call(format string, args ...any) error {
	k.calls = append(k.calls, fmt.Sprintf(format, args...))
	return nil
}

func (k *kernelHolds) HoldPending(id uint64, policy uint32) error {
	if k.refuse[id] {
		return errors.New("map full")
	}
	return k.call("pending %d %d", id, policy)
}

func (k *kernelHolds) EnforceCgroup(id uint64, policy uint32, h bpf.Hold) error {
	if k.refuse[id] {
		return errors.New("map full")
	}
	return k.call("enforce %d %d live=%v", id, policy, h.Live)
}

func (k *kernelHolds) ReleaseCgroup(id uint64) error {
	if k.refuse[id] {
		return errors.New("map gone")
	}
	return k.call("release %d", id)
}

func (k *kernelHolds) PendingCgroups() (map[uint64]uint32, error) {
	return k.pending, nil
}

func TestHoldsMoveToWhatThePoliciesSelect(t *testing.T) {
	pod := hold{policy: 7, pending: true}
	podAll := hold{policy: 7}
	ctr := hold{policy: 7, container: true}
	tests := []struct {
		name          string
		held, want    map[uint64]hold
		named         bool
		pending       map[uint64]uint32
		refuse        map[uint64]bool
		wantCalls     []string
		wantHeld      map[uint64]hold
		wantContinued []string
		wantErrs      int
	}{
		{name: "a new pod of a policy naming containers is held pending",
			held: map[uint64]hold{}, want: map[uint64]hold{10: pod}, named: true,
			wantCalls: []string{"pending 10 7"}, wantHeld: map[uint64]hold{10: pod}},
		{name: "a new pod of a policy for all containers is held from its first exec",
			held: map[uint64]hold{}, want: map[uint64]hold{10: podAll},
			wantCalls: []string{"enforce 10 7 live=false"}, wantHeld: map[uint64]hold{10: podAll}},
		{name: "a running container is held at once",
			held: map[uint64]hold{}, want: map[uint64]hold{11: ctr},
			wantCalls: []string{"enforce 11 7 live=true"}, wantHeld: map[uint64]hold{11: ctr}},
		{name: "an unchanged hold is not written again",
			held: map[uint64]hold{10: pod}, want: map[uint64]hold{10: pod}, named: true,
			wantHeld: map[uint64]hold{10: pod}},
		{name: "a policy's new version of the hold is written",
			held: map[uint64]hold{10: {policy: 6}}, want: map[uint64]hold{10: podAll},
			wantCalls: []string{"enforce 10 7 live=false"}, wantHeld: map[uint64]hold{10: podAll}},
		{name: "what no policy selects any more is released",
			held: map[uint64]hold{10: pod, 11: ctr}, want: map[uint64]hold{10: pod}, named: true,
			wantCalls: []string{"release 11"}, wantHeld: map[uint64]hold{10: pod}},
		{name: "a container stopped at its first exec and now held by name is continued",
			held: map[uint64]hold{10: pod}, want: map[uint64]hold{10: pod, 11: ctr}, named: true,
			pending:   map[uint64]uint32{11: 7},
			wantCalls: []string{"enforce 11 7 live=true"}, wantHeld: map[uint64]hold{10: pod, 11: ctr},
			wantContinued: []string{"/pod/ctr-11"}},
		{name: "a hold the kernel refuses is tried again next time",
			held: map[uint64]hold{}, want: map[uint64]hold{11: ctr}, refuse: map[uint64]bool{11: true},
			wantHeld: map[uint64]hold{}, wantErrs: 1},
		{name: "a refused change keeps the hold the cgroup had",
			held: map[uint64]hold{10: {policy: 6}}, want: map[uint64]hold{10: podAll}, refuse: map[uint64]bool{10: true},
			wantHeld: map[uint64]hold{10: {policy: 6}}, wantErrs: 1},
		{name: "a release the kernel refuses is tried again next time",
			held: map[uint64]hold{11: ctr}, want: map[uint64]hold{}, refuse: map[uint64]bool{11: true},
			wantHeld: map[uint64]hold{11: ctr}, wantErrs: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &kernelHolds{pending: tc.pending, refuse: tc.refuse}
			paths := map[uint64]string{10: "/pod", 11: "/pod/ctr-11"}
			got := applyHolds(k, tc.held, tc.want, paths, tc.named)
			if !slices.Equal(k.calls, tc.wantCalls) {
				t.Errorf("kernel calls %q, want %q", k.calls, tc.wantCalls)
			}
			if !maps.Equal(tc.held, tc.wantHeld) {
				t.Errorf("held %v, want %v", tc.held, tc.wantHeld)
			}
			if !slices.Equal(got.continued, tc.wantContinued) {
				t.Errorf("to continue %q, want %q", got.continued, tc.wantContinued)
			}
			if len(got.errs) != tc.wantErrs {
				t.Errorf("errors %v, want %d", got.errs, tc.wantErrs)
			}
		})
	}
}

func TestClassifiedContainersAreHeldByNameAndTheRestReleased(t *testing.T) {
	named := map[uint32][]string{7: {"app"}}
	found := []pendingContainer{
		{id: 1, dir: "/pod/app", policy: 7, name: "app", known: true},
		{id: 2, dir: "/pod/sidecar", policy: 7, name: "sidecar", known: true},
		{id: 3, dir: "/pod/sandbox", policy: 7, name: "", known: true},
		{id: 4, dir: "/pod/new", policy: 7},                             // its name not known yet
		{id: 5, dir: "/pod/full", policy: 7, name: "app", known: true},  // the kernel refuses
		{id: 6, dir: "/other/app", policy: 8, name: "app", known: true}, // a policy that names no app
	}
	k := &kernelHolds{refuse: map[uint64]bool{5: true}}
	continued := classifyContainers(k, found, named, logr.Discard())
	wantCalls := []string{"enforce 1 7 live=true", "release 2", "release 3", "release 6"}
	if !slices.Equal(k.calls, wantCalls) {
		t.Errorf("kernel calls %q, want %q", k.calls, wantCalls)
	}
	// The unknown container and the refused one stay stopped, pending.
	if want := []string{"/pod/app", "/pod/sidecar", "/pod/sandbox", "/other/app"}; !slices.Equal(continued, want) {
		t.Errorf("continued %q, want %q", continued, want)
	}
}
