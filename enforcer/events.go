package enforcer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/bpf"
)

// listedCalls is how many system calls one Event names; the rest are
// counted ("and 12 more").
const listedCalls = 10

// violationEvents decides which Events the violations of each pod become.
//
// A pod outside its policy's seccomp allow-list (above all one that runs
// without the policy's profile, which nothing refuses) can make dozens of
// distinct system calls in a moment. Each would be an Event, and past a
// few of them a later violation of another kind would be lost among them.
// So a pod's system calls are gathered per policy and outcome and sent as
// one Event per flush, naming the calls; every other violation keeps an
// Event of its own. Each pod and policy has a budget of Events (burst,
// then perSecond): what is over it is counted by kind, and said in an
// Event as soon as the budget allows. Nothing is dropped without a count.
//
// Not safe for concurrent use.
type violationEvents struct {
	burst     float64
	perSecond float64
	pods      map[podPolicy]*podEvents
	// order is the pods in the order of their first violation, so that
	// flushes are in a stable order.
	order []podPolicy
}

type podPolicy struct {
	uid    types.UID
	policy string
}

// podEvents is the state of one pod and policy.
type podEvents struct {
	ref    podRef
	tokens float64
	last   time.Time
	// batches are the system calls gathered since the last flush, by
	// outcome, in the order of their first call.
	batches []*syscallBatch
	// unreported counts what went over the budget, by kind.
	unreported map[string]int
}

// syscallBatch is the system calls of one pod, policy and outcome that go
// in one Event.
type syscallBatch struct {
	outcome string
	first   bpf.Violation
	calls   []string
	pids    []uint32
}

// pendingEvent is an Event to make on a pod.
type pendingEvent struct {
	ref     podRef
	message string
}

func newViolationEvents(burst int, perSecond float64) *violationEvents {
	return &violationEvents{burst: float64(burst), perSecond: perSecond, pods: map[podPolicy]*podEvents{}}
}

func (e *violationEvents) pod(ref podRef, now time.Time) *podEvents {
	key := podPolicy{ref.uid, ref.policy}
	p := e.pods[key]
	if p == nil {
		p = &podEvents{ref: ref, tokens: e.burst, last: now, unreported: map[string]int{}}
		e.pods[key] = p
		e.order = append(e.order, key)
	}
	return p
}

// refill adds to a pod's budget what it earned since it was last used.
func (e *violationEvents) refill(p *podEvents, now time.Time) {
	if now.After(p.last) {
		p.tokens = min(e.burst, p.tokens+now.Sub(p.last).Seconds()*e.perSecond)
		p.last = now
	}
}

// take spends one of a pod's Events, if its budget has one.
func (e *violationEvents) take(p *podEvents, now time.Time) bool {
	e.refill(p, now)
	if p.tokens < 1 {
		return false
	}
	p.tokens--
	return true
}

// add takes a violation of a pod: a system call waits for the next flush,
// any other violation is an Event now if the pod's budget allows (ok), and
// is counted otherwise.
func (e *violationEvents) add(ref podRef, v bpf.Violation, now time.Time) (pendingEvent, bool) {
	p := e.pod(ref, now)
	if v.Kind == bpf.KindSyscall {
		outcome := syscallOutcome(v)
		i := slices.IndexFunc(p.batches, func(b *syscallBatch) bool { return b.outcome == outcome })
		if i < 0 {
			p.batches = append(p.batches, &syscallBatch{outcome: outcome, first: v})
			i = len(p.batches) - 1
		}
		b := p.batches[i]
		if call := syscallCall(v); !slices.Contains(b.calls, call) {
			b.calls = append(b.calls, call)
		}
		if !slices.Contains(b.pids, v.PID) {
			b.pids = append(b.pids, v.PID)
		}
		return pendingEvent{}, false
	}
	if !e.take(p, now) {
		p.unreported[kindNoun(v.Kind)]++
		return pendingEvent{}, false
	}
	return pendingEvent{ref, fmt.Sprintf("%s (policy %s)", Describe(v), ref.policy)}, true
}

// flush returns the Events due: each pod's gathered system calls, and
// what went over a pod's budget, as far as the budget allows now. A pod
// with nothing left to say is forgotten once its budget is full again.
func (e *violationEvents) flush(now time.Time) []pendingEvent {
	var out []pendingEvent
	keep := e.order[:0]
	for _, key := range e.order {
		p := e.pods[key]
		for _, b := range p.batches {
			if e.take(p, now) {
				out = append(out, pendingEvent{p.ref, b.message() + " (policy " + p.ref.policy + ")"})
			} else {
				p.unreported[kindNoun(bpf.KindSyscall)] += len(b.calls)
			}
		}
		p.batches = nil
		if len(p.unreported) > 0 && e.take(p, now) {
			out = append(out, pendingEvent{p.ref, unreportedMessage(p.unreported, int(e.burst), e.perSecond) + " (policy " + p.ref.policy + ")"})
			p.unreported = map[string]int{}
		}
		e.refill(p, now)
		if len(p.unreported) == 0 && p.tokens >= e.burst {
			delete(e.pods, key)
			continue
		}
		keep = append(keep, key)
	}
	e.order = keep
	return out
}

// message is one line about the system calls of a batch: a single call
// reads as Describe says it; more are named up to listedCalls and counted
// beyond: "app[12] (/app) and 2 other processes called 14 system calls
// outside the policy: chmod, ... and 4 more: refused by seccomp".
func (b *syscallBatch) message() string {
	if len(b.calls) == 1 && len(b.pids) == 1 {
		return describeSyscall(b.first)
	}
	by := who(b.first)
	switch others := len(b.pids) - 1; others {
	case 0:
	case 1:
		by += " and 1 other process"
	default:
		by += fmt.Sprintf(" and %d other processes", others)
	}
	if len(b.calls) == 1 {
		return fmt.Sprintf("%s called %s: %s", by, b.calls[0], b.outcome)
	}
	listed := strings.Join(b.calls[:min(len(b.calls), listedCalls)], ", ")
	if more := len(b.calls) - listedCalls; more > 0 {
		listed += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%s called %d system calls outside the policy: %s: %s", by, len(b.calls), listed, b.outcome)
}

// unreportedMessage says how many violations of a pod went without an
// Event of their own, by kind.
func unreportedMessage(unreported map[string]int, burst int, perSecond float64) string {
	kinds := make([]string, 0, len(unreported))
	total := 0
	for k, n := range unreported {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	slices.Sort(kinds)
	return fmt.Sprintf("%d more violations not reported one by one (%s): over the agent's limit of %d Events a pod, then %g a second; the agent's footprint_violations_total metric counts each",
		total, strings.Join(kinds, ", "), burst, perSecond)
}

// kindNoun names a kind of violation in a count: "files 3". It is the
// kind's own name (the one footprint probe and the CLI tables use), but for
// system calls, spelled out in prose.
func kindNoun(k bpf.Kind) string {
	if k == bpf.KindSyscall {
		return "system calls"
	}
	return k.String()
}
