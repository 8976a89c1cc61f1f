package profilestore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// WriterOptions configure a Writer. The zero value is usable.
type WriterOptions struct {
	// FlushInterval is how often pending deltas are written while the API
	// server answers. Zero: 10s.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait before the next attempt after
	// a flush failed; it doubles with each failure in a row. Zero: 1s and
	// 30s, so profiles catch up at most 30s after the API server returns.
	MinBackoff, MaxBackoff time.Duration
	// CountOnlyInterval is how long a profile's pending delta is held back
	// when it holds only larger counts of entries and sources already
	// written: no new entry, no new source, no changed loss. Such a delta
	// is written at most once per CountOnlyInterval per profile (and by
	// Flush, and the final flush of Run), so a busy container doing the
	// same things over and over costs a write every few minutes rather
	// than one per FlushInterval. A delta with something new is written
	// at the next flush. Zero: 5m.
	CountOnlyInterval time.Duration
	// Parallelism is how many profiles a flush writes at once. Zero: 4.
	Parallelism int
	// FinalFlushTimeout is how long Run keeps trying to deliver what is
	// pending once its context is done. Zero: 5s.
	FinalFlushTimeout time.Duration
	// Log receives failed flushes, recoveries and dropped deltas.
	// Zero: discarded.
	Log logr.Logger
}

func (o WriterOptions) withDefaults() WriterOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.FlushInterval, 10*time.Second)
	def(&o.MinBackoff, time.Second)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.FinalFlushTimeout, 5*time.Second)
	def(&o.CountOnlyInterval, 5*time.Minute)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.Log.GetSink() == nil {
		o.Log = logr.Discard()
	}
	return o
}

// Writer queues deltas per profile in memory and writes them through a
// Store: periodically (Run), and whenever Flush is called. Deltas for the
// same profile that arrive between two writes are merged locally with
// profiles.Merge, so the queue holds at most one delta per workload
// container, bounded by the same collapse rules (and size budget) as the
// stored profile. A delta whose write fails stays queued -- merged with
// whatever arrived since -- and is tried again with backoff, so an API
// server that is unreachable for a while loses nothing: the profiles catch
// up when it returns. Only a delta the API server refuses as invalid is
// dropped, with an error in the log.
//
// Run's periodic flushes write a profile's delta only when it holds
// something the profile does not have from this Writer yet (see
// CountOnlyInterval): the Writer remembers, per profile, the identities of
// the last delta it wrote (identities: 8 bytes each), and holds a
// delta of larger counts only, merged with what follows, until the
// interval is up.
//
// A Writer is safe for concurrent use.
type Writer struct {
	store *Store
	opts  WriterOptions
	seed  maphash.Seed

	mu      sync.Mutex
	pending map[WorkloadContainer]*pendingDelta
	written map[WorkloadContainer]*writtenState
}

// writtenState is what a Writer keeps of the last delta it wrote to a
// profile: enough to tell whether a pending delta holds something new.
type writtenState struct {
	ids identities
	at  time.Time // when it was written
}

type pendingDelta struct {
	key       WorkloadContainer
	recording string
	spec      v1alpha1.ProfileSpec
}

// NewWriter returns a Writer writing through store.
func NewWriter(store *Store, opts WriterOptions) *Writer {
	return &Writer{store: store, opts: opts.withDefaults(), seed: maphash.MakeSeed(),
		pending: map[WorkloadContainer]*pendingDelta{}, written: map[WorkloadContainer]*writtenState{}}
}

// Add queues what src observed of a workload container, as Store.Merge
// would write it; it returns at once. The error is about the arguments only
// (it wraps ErrInvalid): nothing is queued then.
func (w *Writer) Add(key WorkloadContainer, recording string, delta v1alpha1.ProfileSpec, src v1alpha1.Source) error {
	d, err := prepareDelta(key, recording, delta, src, w.store.opts.Now())
	if err != nil {
		return err
	}
	return w.queue(&pendingDelta{key: key, recording: recording, spec: d})
}

// queue merges a delta into what is pending for its key.
func (w *Writer) queue(p *pendingDelta) error {
	id := p.key.identity()
	w.mu.Lock()
	defer w.mu.Unlock()
	have := w.pending[id]
	if have == nil {
		p.spec = w.bound(p)
		w.pending[id] = p
		return nil
	}
	spec, err := profiles.MergeSpec(have.spec, p.spec)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	grew := entriesGrew(have.spec, spec)
	have.spec = spec
	if p.recording != "" {
		have.recording = p.recording // the most recent caller's recording labels the profile
	}
	if grew {
		// What was pending was within bounds; larger counts, united
		// access modes and later times alone keep it there. Bounding
		// costs as much as the merge, and a busy node queues every
		// container's snapshot each flush interval.
		have.spec = w.bound(have)
	}
	return nil
}

// bound keeps a pending delta within the bounds of the profile it goes to.
func (w *Writer) bound(p *pendingDelta) v1alpha1.ProfileSpec {
	b := w.store.boundsFor(p.key.Namespace, p.recording)
	return Fit(&v1alpha1.Profile{Spec: p.spec}, b, w.store.opts.Now()).Spec
}

// entriesGrew reports whether merged holds more entries of some kind than
// pending, the bounded spec it was merged from.
func entriesGrew(pending, merged v1alpha1.ProfileSpec) bool {
	return len(merged.Capabilities) != len(pending.Capabilities) || len(merged.Files) != len(pending.Files) ||
		len(merged.Connections) != len(pending.Connections) || len(merged.Executables) != len(pending.Executables) ||
		len(merged.Sockets) != len(pending.Sockets) || len(merged.Syscalls) != len(pending.Syscalls) ||
		len(merged.Collapsed) != len(pending.Collapsed) || len(merged.Sources) != len(pending.Sources) ||
		len(merged.Command) != len(pending.Command)
}

// Pending returns the keys whose deltas are not written yet, sorted: those
// held back for holding only larger counts among them.
func (w *Writer) Pending() []WorkloadContainer {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WorkloadContainer, 0, len(w.pending))
	for _, p := range w.pending {
		out = append(out, p.key)
	}
	slices.SortFunc(out, func(a, b WorkloadContainer) int {
		if c := compareStrings(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return compareStrings(ProfileName(a), ProfileName(b))
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Flush writes every pending delta now, those of larger counts only
// included. Those that cannot be written stay pending (merged with anything
// queued meanwhile) and the errors are returned, joined. When the API
// server cannot be reached at all, the flush stops at the first such error
// rather than waiting on every profile.
func (w *Writer) Flush(ctx context.Context) error {
	return w.flush(ctx, true)
}

// flush writes the pending deltas that hold something new, and those of
// larger counts only whose profile was last written CountOnlyInterval ago
// or more; all of them when all is set. The others stay pending.
func (w *Writer) flush(ctx context.Context, all bool) error {
	now := time.Now()
	w.mu.Lock()
	batch := make([]*pendingDelta, 0, len(w.pending))
	for id, p := range w.pending {
		if !all && w.countsOnly(id, p, now) {
			continue
		}
		batch = append(batch, p)
		delete(w.pending, id)
	}
	w.forgetIdle(now)
	w.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}

	var (
		mu          sync.Mutex
		errs        []error
		unreachable bool
		wg          sync.WaitGroup
	)
	work := make(chan *pendingDelta)
	for range min(w.opts.Parallelism, len(batch)) {
		wg.Go(func() {
			for p := range work {
				mu.Lock()
				skip := unreachable || ctx.Err() != nil
				mu.Unlock()
				if skip {
					w.requeue(p)
					continue
				}
				ids := identitiesOf(w.seed, p.recording, &p.spec)
				err := w.store.apply(ctx, p.key, p.recording, p.spec)
				switch {
				case err == nil:
					w.wrote(p.key, ids)
				case permanent(err):
					w.opts.Log.Error(err, "the API server refused a profile delta; dropping it, since sending it again cannot succeed",
						"profile", p.key.String(), "capabilities", len(p.spec.Capabilities), "files", len(p.spec.Files),
						"connections", len(p.spec.Connections), "executables", len(p.spec.Executables), "sources", len(p.spec.Sources))
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				default:
					w.requeue(p)
					mu.Lock()
					errs = append(errs, err)
					unreachable = unreachable || !isAPIStatus(err)
					mu.Unlock()
				}
			}
		})
	}
	for _, p := range batch {
		work <- p
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// countsOnly reports whether a pending delta holds only larger counts of
// what was last written to its profile, written less than
// CountOnlyInterval ago: a delta to hold back. w.mu is held.
func (w *Writer) countsOnly(id WorkloadContainer, p *pendingDelta, now time.Time) bool {
	last := w.written[id]
	if last == nil || now.Sub(last.at) >= w.opts.CountOnlyInterval {
		return false
	}
	return identitiesOf(w.seed, p.recording, &p.spec).within(last.ids)
}

// wrote remembers the identities of a delta just written. They replace
// those of the delta written before: a delta is a cumulative snapshot of
// each source, so what a later delta holds was in the last one unless it
// is new (or its source has stopped sending snapshots, and then it is not
// in later deltas either). Forgetting older identities can only make a
// later delta look new -- one write more, never one less -- and keeps the
// memory to one delta's entries per profile.
func (w *Writer) wrote(key WorkloadContainer, ids identities) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written[key.identity()] = &writtenState{ids: ids, at: time.Now()}
}

// forgetIdle drops what the Writer remembers of profiles it has not
// written for two CountOnlyIntervals and has nothing pending for: their
// containers are gone (a container still sending snapshots has its
// profile written at least once per interval). Should one come back, its
// first delta is written as new: one write more. w.mu is held.
func (w *Writer) forgetIdle(now time.Time) {
	for id, s := range w.written {
		if _, busy := w.pending[id]; !busy && now.Sub(s.at) >= 2*w.opts.CountOnlyInterval {
			delete(w.written, id)
		}
	}
}

// requeue puts back a delta that was not written.
func (w *Writer) requeue(p *pendingDelta) {
	if err := w.queue(p); err != nil {
		// Cannot happen: everything queued for one key merges. Say so
		// rather than lose it quietly.
		w.opts.Log.Error(err, "could not put a profile delta back in the queue", "profile", p.key.String())
	}
}

// Run flushes every FlushInterval until ctx is done, and after a failed
// flush sooner or later by backoff (MinBackoff doubling up to MaxBackoff).
// When ctx is done it tries once more, for at most FinalFlushTimeout, to
// deliver what is pending, and returns.
func (w *Writer) Run(ctx context.Context) error {
	failures := 0
	var down time.Time
	// The first flush comes at a random point of the interval: agents
	// that start together (a rollout) would otherwise write the Profiles
	// they share at the same instants, every interval, and conflict.
	timer := time.NewTimer(1 + rand.N(w.opts.FlushInterval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.FinalFlushTimeout)
			err := w.Flush(final)
			cancel()
			if err != nil {
				w.opts.Log.Error(err, "stopping with profile deltas not written", "profiles", len(w.Pending()))
			}
			return nil
		case <-timer.C:
		}
		err := w.flush(ctx, false)
		next := w.opts.FlushInterval
		switch {
		case err != nil && ctx.Err() == nil:
			if failures == 0 {
				down = time.Now()
			}
			failures++
			next = jitter(backoff(w.opts.MinBackoff, w.opts.MaxBackoff, failures))
			w.opts.Log.Info("profiles not written; keeping them and trying again", "in", next.Round(time.Millisecond).String(),
				"failures", failures, "pending", len(w.Pending()), "error", err.Error())
		case err == nil && failures > 0:
			w.opts.Log.Info("profiles written again", "after", time.Since(down).Round(time.Millisecond).String(), "failures", failures)
			failures = 0
		}
		timer.Reset(next)
	}
}

// backoff is min doubled failures-1 times, at most max.
func backoff(minimum, maximum time.Duration, failures int) time.Duration {
	d := minimum
	for i := 1; i < failures && d < maximum; i++ {
		d *= 2
	}
	return min(d, maximum)
}

// permanent reports errors that no retry can fix: the delta is invalid, or
// the API server refused the object as invalid, or the namespace is gone.
func permanent(err error) bool {
	if errors.Is(err, ErrInvalid) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		return true
	}
	var status apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &status) {
		d := status.Status().Details
		return d != nil && d.Kind == "namespaces"
	}
	return false
}

// isAPIStatus reports whether the API server answered (as opposed to a
// network error or a timeout before any answer).
func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && !apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsServiceUnavailable(err)
}
