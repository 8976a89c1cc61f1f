package bpf

import (
	"fmt"
	"io"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// KindCounters are the kernel's counters for one kind of event.
type KindCounters struct {
	// Events is every event in a live watched cgroup, repeats included.
	Events uint64
	// New is first sightings.
	New uint64
	// RingBufferLost is first sightings the ring buffer had no room for.
	// Their entries are still in the aggregation maps.
	RingBufferLost uint64
	// MapFull is entries an aggregation map had no room for: these exist
	// only as ring-buffer records.
	MapFull uint64
	// Truncated is paths too long or too deep to keep whole.
	Truncated uint64
	// ReadErrors is events whose kernel data could not be read.
	ReadErrors uint64
}

// countersPerKind is FP_COUNTERS_PER_KIND.
const countersPerKind = 8

// Counters sums the per-CPU counters of every kind.
func (r *Recorder) Counters() (map[Kind]KindCounters, error) {
	if r.counters == nil {
		return nil, ErrRecorderClosed
	}
	out := map[Kind]KindCounters{}
	for _, k := range append([]Kind{KindCgroup}, RecordedKinds...) {
		var c [6]uint64
		for what := range c {
			var perCPU []uint64
			if err := r.counters.Lookup(uint32(int(k)*countersPerKind+what), &perCPU); err != nil {
				return nil, fmt.Errorf("read counters: %w", err)
			}
			for _, v := range perCPU {
				c[what] += v
			}
		}
		out[k] = KindCounters{Events: c[0], New: c[1], RingBufferLost: c[2], MapFull: c[3], Truncated: c[4], ReadErrors: c[5]}
	}
	return out, nil
}

// ProgramStat is how often a loaded program ran and for how long, while
// the kernel collects run-time statistics (EnableRunTimeStats).
type ProgramStat struct {
	Runs    uint64
	Runtime time.Duration
}

// ProgramStats returns the run-time statistics of the recorder's programs,
// by program name.
func (r *Recorder) ProgramStats() map[string]ProgramStat {
	out := map[string]ProgramStat{}
	for _, c := range r.collections {
		addProgramStats(out, c)
	}
	return out
}

// ProgramStats returns the run-time statistics of the enforcer's programs,
// by program name.
func (e *Enforcer) ProgramStats() map[string]ProgramStat {
	out := map[string]ProgramStat{}
	for _, c := range e.collections {
		addProgramStats(out, c)
	}
	return out
}

func addProgramStats(out map[string]ProgramStat, c *ebpf.Collection) {
	for name, p := range c.Programs {
		if s, err := p.Stats(); err == nil {
			out[name] = ProgramStat{Runs: s.RunCount, Runtime: s.Runtime}
		}
	}
}

// EnableRunTimeStats makes the kernel account every BPF program's run time
// (kernel.bpf_stats_enabled) until the returned closer is closed. It costs
// two clock reads per program run.
func EnableRunTimeStats() (io.Closer, error) {
	c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enable BPF run-time statistics: %w", err)
	}
	return c, nil
}
