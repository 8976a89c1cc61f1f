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
	// Lost is sightings of entries the full map could not keep that the
	// ring buffer had no room for either: at most this many entries are
	// missing from the profiles (fewer when some were seen again). The
	// only count of entries lost; RingBufferLost alone loses nothing.
	Lost uint64
}

// countersPerKind is FP_COUNTERS_PER_KIND.
const countersPerKind = int(typesFpCounterWhatFP_COUNTERS_PER_KIND)

// sumCounters reads per-CPU counters indexed kind * countersPerKind + what
// and sums them, for the first n whats of each kind.
func sumCounters(m *ebpf.Map, kinds []Kind, n int) (map[Kind][]uint64, error) {
	out := map[Kind][]uint64{}
	for _, k := range kinds {
		c := make([]uint64, n)
		for what := range c {
			var perCPU []uint64
			if err := m.Lookup(uint32(int(k)*countersPerKind+what), &perCPU); err != nil {
				return nil, err
			}
			for _, v := range perCPU {
				c[what] += v
			}
		}
		out[k] = c
	}
	return out, nil
}

// Counters sums the per-CPU counters of every kind, less what the
// self-test's canary caused.
func (r *Recorder) Counters() (map[Kind]KindCounters, error) {
	if r.counters == nil {
		return nil, ErrRecorderClosed
	}
	raw, err := r.rawCounters()
	if err != nil {
		return nil, err
	}
	for k, c := range raw {
		b := r.counterBase[k]
		raw[k] = KindCounters{Events: c.Events - b.Events, New: c.New - b.New, RingBufferLost: c.RingBufferLost - b.RingBufferLost,
			MapFull: c.MapFull - b.MapFull, Truncated: c.Truncated - b.Truncated, ReadErrors: c.ReadErrors - b.ReadErrors,
			Lost: c.Lost - b.Lost}
	}
	return raw, nil
}

func (r *Recorder) rawCounters() (map[Kind]KindCounters, error) {
	sums, err := sumCounters(r.counters, RecordedKinds, int(typesFpCounterWhatFP_COUNT_LOST)+1)
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	out := map[Kind]KindCounters{}
	for k, c := range sums {
		out[k] = KindCounters{
			Events:         c[typesFpCounterWhatFP_COUNT_EVENTS],
			New:            c[typesFpCounterWhatFP_COUNT_NEW],
			RingBufferLost: c[typesFpCounterWhatFP_COUNT_RINGBUF_LOST],
			MapFull:        c[typesFpCounterWhatFP_COUNT_MAP_FULL],
			Truncated:      c[typesFpCounterWhatFP_COUNT_TRUNCATED],
			ReadErrors:     c[typesFpCounterWhatFP_COUNT_READ_ERROR],
			Lost:           c[typesFpCounterWhatFP_COUNT_LOST],
		}
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
	for _, a := range r.attached {
		addProgramStats(out, a.coll)
	}
	return out
}

// ProgramStats returns the run-time statistics of the enforcer's programs,
// by program name.
func (e *Enforcer) ProgramStats() map[string]ProgramStat {
	out := map[string]ProgramStat{}
	for _, a := range e.attached {
		addProgramStats(out, a.coll)
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
