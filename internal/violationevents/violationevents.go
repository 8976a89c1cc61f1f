// Package violationevents holds the limits on the PolicyViolation Events an
// agent makes, and the client-go event broadcaster that keeps to them.
//
// client-go's event correlator, left at its defaults, decides on its own
// what a user sees: after 10 Events of one pod with the same reason and
// different messages within 10 minutes it combines the rest into one
// "(combined from similar events)" Event whose message each new one
// replaces, and past 25 Events a pod (then one per 5 minutes) it drops them
// without a trace. A flood of reports would then hide a later, different
// violation. The agent instead limits the Events of each pod itself
// (PerPodBurst, then PerPodPerSecond), and counts what it does not send so
// that it can say so in a later Event; the broadcaster here never combines
// and lets through more than that limit, so that it never drops or merges
// a violation the agent chose to report.
package violationevents

import (
	"math"

	"k8s.io/client-go/tools/record"
)

const (
	// PerPodBurst is how many PolicyViolation Events an agent makes for
	// one pod and policy before it limits them to PerPodPerSecond. The
	// kernel reports each distinct violation of a container once (and at
	// most 200 a second per policy and kind), and an agent sends system
	// calls in one Event per flush: a pod past this many is being
	// probed, and what the agent leaves out is counted in a later Event.
	PerPodBurst = 300
	// PerPodPerSecond is the rate a pod's Event budget refills at.
	PerPodPerSecond = 1.0
)

// CorrelatorOptions never combine Events and let through more than the
// agent's own per-pod limit: client-go's spam filter, keyed by pod, is
// then never the one that drops a violation.
func CorrelatorOptions() record.CorrelatorOptions {
	return record.CorrelatorOptions{
		// The aggregator combines when a pod has this many distinct
		// messages of one reason within MaxIntervalInSeconds.
		MaxEvents: math.MaxInt32,
		BurstSize: 4 * PerPodBurst,
		QPS:       4 * PerPodPerSecond,
	}
}

// NewBroadcaster is an event broadcaster with CorrelatorOptions, for a
// controller-runtime manager's Options.EventBroadcaster. Shut it down when
// the manager has stopped.
func NewBroadcaster() record.EventBroadcaster {
	return record.NewBroadcaster(record.WithCorrelatorOptions(CorrelatorOptions()))
}
