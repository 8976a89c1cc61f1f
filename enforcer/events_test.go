package enforcer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

func syscallViolation(t *testing.T, pid uint32, name string, outcome bpf.Outcome) bpf.Violation {
	t.Helper()
	nr, ok := profiles.SyscallNumber(v1alpha1.ArchX86_64, name)
	if !ok {
		t.Fatalf("no system call %q", name)
	}
	return bpf.Violation{Kind: bpf.KindSyscall, PID: pid, Comm: "app", Exe: "/app", Syscall: nr, Outcome: outcome, NoSeccomp: outcome == bpf.Unfiltered}
}

var (
	webPod = podRef{pod: types.NamespacedName{Namespace: "shop", Name: "web-1"}, uid: "uid-web", policy: "web"}
	dbPod  = podRef{pod: types.NamespacedName{Namespace: "shop", Name: "db-1"}, uid: "uid-db", policy: "db"}
)

// manyCalls are 14 distinct system calls.
var manyCalls = []string{"getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "gettid", "getpgrp",
	"uname", "sysinfo", "times", "getrusage", "umask", "sched_yield"}

func TestSystemCallsOfAPodAreOneEventPerOutcomeAndFlush(t *testing.T) {
	shadow := bpf.Violation{Kind: bpf.KindFile, PID: 7, Comm: "app", Exe: "/app", Path: "/etc/shadow", Access: bpf.AccessRead, Outcome: bpf.Killed, Syscall: -1}
	type report struct {
		ref podRef
		v   bpf.Violation
	}
	calls := func(pid uint32, outcome bpf.Outcome, names ...string) []report {
		var out []report
		for _, n := range names {
			out = append(out, report{webPod, syscallViolation(t, pid, n, outcome)})
		}
		return out
	}
	cat := func(rs ...[]report) []report {
		var out []report
		for _, r := range rs {
			out = append(out, r...)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		reports []report
		// now and flushed are the Events made as each report comes and
		// at the flush after them.
		now, flushed []string
	}{
		{
			name:    "one call reads as Describe says it",
			reports: calls(7, bpf.Denied, "chmod"),
			flushed: []string{"web-1: app[7] (/app) called chmod: refused by seccomp (policy web)"},
		},
		{
			name:    "the same call twice is named once",
			reports: calls(7, bpf.Denied, "chmod", "chmod"),
			flushed: []string{"web-1: app[7] (/app) called chmod: refused by seccomp (policy web)"},
		},
		{
			name:    "several calls are named in the order they came",
			reports: calls(7, bpf.Unfiltered, "unshare", "chmod", "mount"),
			flushed: []string{"web-1: app[7] (/app) called 3 system calls outside the policy: unshare, chmod, mount: not refused: the process runs without the policy's seccomp profile (policy web)"},
		},
		{
			name:    "past ten calls the rest are counted",
			reports: calls(7, bpf.Unfiltered, manyCalls...),
			flushed: []string{"web-1: app[7] (/app) called 14 system calls outside the policy: getpid, getppid, getuid, geteuid, getgid, getegid, gettid, getpgrp, uname, sysinfo and 4 more: not refused: the process runs without the policy's seccomp profile (policy web)"},
		},
		{
			name:    "other processes are counted",
			reports: cat(calls(7, bpf.Denied, "chmod"), calls(8, bpf.Denied, "chmod", "mount"), calls(9, bpf.Denied, "mount")),
			flushed: []string{"web-1: app[7] (/app) and 2 other processes called 2 system calls outside the policy: chmod, mount: refused by seccomp (policy web)"},
		},
		{
			name:    "one call by two processes",
			reports: cat(calls(7, bpf.Denied, "chmod"), calls(8, bpf.Denied, "chmod")),
			flushed: []string{"web-1: app[7] (/app) and 1 other process called chmod: refused by seccomp (policy web)"},
		},
		{
			name:    "each outcome is its own Event",
			reports: cat(calls(7, bpf.Denied, "chmod"), calls(7, bpf.Audited, "mount")),
			flushed: []string{"web-1: app[7] (/app) called chmod: refused by seccomp (policy web)", "web-1: app[7] (/app) called mount: would be refused (policy web)"},
		},
		{
			name:    "each pod is its own Event",
			reports: append(calls(7, bpf.Denied, "chmod"), report{dbPod, syscallViolation(t, 9, "mount", bpf.Denied)}),
			flushed: []string{"web-1: app[7] (/app) called chmod: refused by seccomp (policy web)", "db-1: app[9] (/app) called mount: refused by seccomp (policy db)"},
		},
		{
			name:    "a file violation after a flood of calls is an Event of its own at once",
			reports: append(calls(7, bpf.Unfiltered, manyCalls...), report{webPod, shadow}),
			now:     []string{"web-1: app[7] (/app) opened /etc/shadow for read: killed (policy web)"},
			flushed: []string{"web-1: app[7] (/app) called 14 system calls outside the policy: getpid, getppid, getuid, geteuid, getgid, getegid, gettid, getpgrp, uname, sysinfo and 4 more: not refused: the process runs without the policy's seccomp profile (policy web)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newViolationEvents(100, 1)
			now := time.Unix(1000, 0)
			var sent []string
			for _, r := range tc.reports {
				if ev, ok := e.add(r.ref, r.v, now); ok {
					sent = append(sent, ev.ref.pod.Name+": "+ev.message)
				}
			}
			checkEvents(t, "as reported", sent, tc.now)
			sent = nil
			for _, ev := range e.flush(now.Add(5 * time.Second)) {
				sent = append(sent, ev.ref.pod.Name+": "+ev.message)
			}
			checkEvents(t, "at the flush", sent, tc.flushed)
			if again := e.flush(now.Add(10 * time.Second)); len(again) != 0 {
				t.Errorf("the next flush made %d Events, want none: %v", len(again), again)
			}
		})
	}
}

func checkEvents(t *testing.T, when string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Events %s:\n%s\nwant:\n%s", when, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A pod over its budget of Events: what is left out is counted by kind and
// said in one Event once the budget refills; the pod's state is forgotten
// once it has nothing left to say and a full budget.
func TestViolationsOverAPodsEventBudgetAreCountedAndSaid(t *testing.T) {
	e := newViolationEvents(3, 1)
	now := time.Unix(1000, 0)
	file := func(i int) bpf.Violation {
		return bpf.Violation{Kind: bpf.KindFile, PID: 7, Comm: "app", Path: fmt.Sprintf("/secret/%d", i), Access: bpf.AccessRead, Outcome: bpf.Audited, Syscall: -1}
	}
	sent := 0
	for i := range 5 {
		if _, ok := e.add(webPod, file(i), now); ok {
			sent++
		}
	}
	connect := bpf.Violation{Kind: bpf.KindConnect, PID: 7, Comm: "app", Protocol: 6, Outcome: bpf.Denied}
	if _, ok := e.add(webPod, connect, now); ok {
		sent++
	}
	for _, name := range []string{"chmod", "mount"} {
		e.add(webPod, syscallViolation(t, 7, name, bpf.Denied), now)
	}
	if sent != 3 {
		t.Fatalf("%d Events sent at once, want the budget's 3", sent)
	}
	// Within the same second the budget is spent: the calls are counted too.
	if got := e.flush(now); len(got) != 0 {
		t.Fatalf("flush with an empty budget made Events: %v", got)
	}
	got := e.flush(now.Add(1500 * time.Millisecond))
	if len(got) != 1 || got[0].message != "5 more violations not reported one by one (connections 1, files 2, system calls 2): over the agent's limit of 3 Events a pod, then 1 a second; the agent's footprint_violations_total metric counts each (policy web)" {
		t.Fatalf("flush after the budget refilled: %v, want one Event counting what was left out", got)
	}
	if len(e.pods) != 1 {
		t.Fatalf("%d pods kept, want the pod whose budget is not full yet", len(e.pods))
	}
	if got := e.flush(now.Add(time.Hour)); len(got) != 0 || len(e.pods) != 0 {
		t.Errorf("flush an hour later: Events %v, %d pods kept; want none (nothing left to say, budget full)", got, len(e.pods))
	}
}
