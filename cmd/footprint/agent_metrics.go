package main

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/footprint-dev/footprint/bpf"
)

// kernelCollector exposes the kernel's own counters on every scrape: what
// the recorder saw, repeated and lost, what the enforcer checked and found
// outside a policy, what the lifecycle programs could not track, and how
// long each program ran; and which backend each kind uses, with the ones
// refused and at which stage (a failed self-test among them). Reading them
// at scrape time keeps the kernel the single source of truth.
type kernelCollector struct {
	lc  *bpf.Lifecycle
	rec *bpf.Recorder
	enf *bpf.Enforcer
	// retirement is what the agent retired of a predecessor's enforcement.
	retirement *bpf.Retirement

	retired, events, repeats, lost, lostEntries, mapFull, pinsReplaced, checks, violations, unreported, untracked, runs, runtime, backend, rejected *prometheus.Desc
}

func newKernelCollector(lc *bpf.Lifecycle, rec *bpf.Recorder, enf *bpf.Enforcer, retirement *bpf.Retirement) *kernelCollector {
	kind := []string{"kind"}
	return &kernelCollector{
		lc: lc, rec: rec, enf: enf, retirement: retirement,
		retired:      prometheus.NewDesc("footprint_enforcement_generations_retired", "Generations of a predecessor's enforcement kept attached because this agent's maps have another layout: they hold pods to their policies until this agent has installed every policy again (then 0).", nil, nil),
		untracked:    prometheus.NewDesc("footprint_lifecycle_untracked_total", "What the cgroup and task lifecycle programs could not track because a map was full: cgroups left unwatched or unheld, runtime tasks left unmarked.", []string{"what"}, nil),
		backend:      prometheus.NewDesc("footprint_backend_info", "The backend each kind uses, for recording and for enforcement, and what enforcement does to a violation; 1 when a backend passed its self-test.", []string{"part", "kind", "backend", "effect"}, nil),
		rejected:     prometheus.NewDesc("footprint_backend_rejected", "Backends footprint does not use on this node, and the stage that refused them (load, attach, lsm inactive, self-test, not tried).", []string{"part", "kind", "backend", "stage"}, nil),
		events:       prometheus.NewDesc("footprint_events_total", "Events in recorded containers, repeats included.", kind, nil),
		repeats:      prometheus.NewDesc("footprint_repeats_total", "Events the kernel counted as repeats of an entry it had seen, without telling user space.", kind, nil),
		lost:         prometheus.NewDesc("footprint_lost_records_total", "First sightings the ring buffer had no room for (entries the maps keep are still swept from them; see footprint_lost_entry_sightings_total for what was lost).", kind, nil),
		lostEntries:  prometheus.NewDesc("footprint_lost_entry_sightings_total", "Sightings of entries a full aggregation map could not keep that the ring buffer had no room for either: at most that many entries are missing from profiles (per container in each Profile source's lostRecords).", kind, nil),
		pinsReplaced: prometheus.NewDesc("footprint_pinned_maps_replaced", "Pinned maps of another footprint version this agent replaced when it started (their layout changed), with the entries it could not carry over (0: all migrated).", []string{"part", "map", "change"}, nil),
		mapFull:      prometheus.NewDesc("footprint_map_full_total", "Entries an aggregation map had no room for.", kind, nil),
		checks:       prometheus.NewDesc("footprint_enforcement_checks_total", "Operations checked against an EnforcementPolicy.", kind, nil),
		violations:   prometheus.NewDesc("footprint_kernel_violations_total", "Operations outside an EnforcementPolicy, repeats included.", kind, nil),
		unreported:   prometheus.NewDesc("footprint_kernel_violations_unreported_total", "Violations the kernel did not pass on to the agent, by why: over the report budget (200 a second per policy and kind; a repeat of one left out counts again, and is reported once the budget allows), or no room in the ring buffer.", []string{"kind", "why"}, nil),
		runs:         prometheus.NewDesc("footprint_bpf_program_runs_total", "Runs of each BPF program.", []string{"program"}, nil),
		runtime:      prometheus.NewDesc("footprint_bpf_program_run_seconds_total", "Time spent in each BPF program.", []string{"program"}, nil),
	}
}

func (c *kernelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.retired, c.events, c.repeats, c.lost, c.lostEntries, c.mapFull, c.pinsReplaced, c.checks, c.violations, c.unreported, c.untracked, c.runs, c.runtime, c.backend, c.rejected} {
		ch <- d
	}
}

func (c *kernelCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	if counters, err := c.rec.Counters(); err == nil {
		for k, n := range counters {
			counter(c.events, n.Events, k.String())
			counter(c.repeats, n.Events-min(n.Events, n.New), k.String())
			counter(c.lost, n.RingBufferLost, k.String())
			counter(c.lostEntries, n.Lost, k.String())
			counter(c.mapFull, n.MapFull, k.String())
		}
	}
	if counters, err := c.enf.Counters(); err == nil {
		for k, n := range counters {
			counter(c.checks, n.Checked, k.String())
			counter(c.violations, n.Violations, k.String())
			ch <- prometheus.MustNewConstMetric(c.unreported, prometheus.CounterValue, float64(n.Suppressed), k.String(), "report budget")
			ch <- prometheus.MustNewConstMetric(c.unreported, prometheus.CounterValue, float64(n.RingBufferLost), k.String(), "ring buffer full")
		}
	}
	if lc, err := c.lc.Counters(); err == nil {
		counter(c.untracked, lc.WatchedFull, "watched cgroups")
		counter(c.untracked, lc.EnforcedFull, "held cgroups")
		counter(c.untracked, lc.RuntimeFull, "runtime tasks")
	}
	for part, replaced := range map[string][]bpf.PinReplacement{"lifecycle": c.lc.PinReplacements(), "recorder": c.rec.PinReplacements(), "enforcer": c.enf.PinReplacements(), "enforcement": c.retirement.Replaced} {
		for _, r := range replaced {
			ch <- prometheus.MustNewConstMetric(c.pinsReplaced, prometheus.GaugeValue, float64(r.Dropped), part, filepath.Base(r.Path), r.Change)
		}
	}
	if n, err := c.retirement.Pending(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.retired, prometheus.GaugeValue, float64(n))
	}
	gauge := func(d *prometheus.Desc, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, 1, labels...)
	}
	for _, ch := range c.rec.Choices() {
		if ch.Chosen != "" {
			gauge(c.backend, "recorder", ch.Kind.String(), ch.Chosen, "")
		}
		for _, rj := range ch.Rejected {
			gauge(c.rejected, "recorder", ch.Kind.String(), rj.Backend, string(rj.Stage))
		}
	}
	for _, ch := range c.enf.Choices() {
		if ch.Chosen != "" {
			gauge(c.backend, "enforcer", ch.Kind.String(), ch.Chosen, string(ch.Effect))
		}
		for _, rj := range ch.Rejected {
			gauge(c.rejected, "enforcer", ch.Kind.String(), rj.Backend, string(rj.Stage))
		}
	}
	for _, stats := range []map[string]bpf.ProgramStat{c.lc.ProgramStats(), c.rec.ProgramStats(), c.enf.ProgramStats()} {
		for name, s := range stats {
			counter(c.runs, s.Runs, name)
			ch <- prometheus.MustNewConstMetric(c.runtime, prometheus.CounterValue, s.Runtime.Seconds(), name)
		}
	}
}
