package profilestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/lossless"
	"github.com/footprint-dev/footprint/profiles"
)

// ErrInvalid wraps every error about a delta or key that no retry can fix:
// a missing field, a capability that does not exist, a delta for another
// workload. Test with errors.Is.
var ErrInvalid = errors.New("invalid profile delta")

// Options configure a Store. The zero value is usable.
type Options struct {
	// Bounds keep each stored profile readable and under the API server's
	// object size limit. Zero fields: DefaultBounds.
	Bounds Bounds
	// LimitsFor, when set, returns the file limits of a recording (its
	// spec.limits), for profiles it writes; ok false means the recording
	// sets none and Bounds.Limits apply.
	LimitsFor func(namespace, recording string) (limits profiles.Limits, ok bool)
	// MaxAttempts is how many times one Merge reads, merges and writes the
	// profile before it gives up because other writers keep changing it
	// in between. Zero: 32.
	MaxAttempts int
	// Log receives a line per retried conflict (V(1)). Zero: discarded.
	Log logr.Logger
	// Now is the clock, for tests. Zero: time.Now.
	Now func() time.Time
}

// Store writes what node agents recorded into the cluster's Profile
// objects, one per workload container. It is safe for concurrent use, and
// any number of Stores (on any number of nodes) may write the same profile
// at once.
type Store struct {
	c    client.Client
	opts Options

	mu    sync.Mutex
	names map[WorkloadContainer]string // where each key's profile was found
}

// NewStore returns a Store writing through c, whose scheme must know
// footprint's types (v1alpha1.AddToScheme). c should read from the API
// server, not from a cache: a cached read may be older than the object, and
// each such read costs a conflict and a retry.
func NewStore(c client.Client, opts Options) *Store {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 32
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Bounds = opts.Bounds.withDefaults()
	return &Store{c: c, opts: opts, names: map[WorkloadContainer]string{}}
}

// Merge adds what one source observed of a workload container to the
// container's Profile: it creates the profile if there is none, merges delta
// into the stored spec with profiles.Merge, applies the size bounds, lists
// src among the sources (with recording as its recording when it names
// none), labels the profile with the recording, and refreshes the status
// summary and Collapsed condition through the status subresource. A zero src
// adds no source (delta.Sources may hold them).
//
// delta is a cumulative snapshot: everything src observed so far, with
// counts since its recording started. Merging takes the larger count, so
// merging a snapshot again, or an older one, changes nothing (see the
// package documentation); a retry after an error that left the write done
// after all is safe.
//
// Merge retries on conflicts with other writers, re-reading and re-merging
// each time, so that no writer's entries are lost. Errors wrapping
// ErrInvalid are about the arguments; any other error is worth retrying
// with the same arguments (the Writer does that).
func (s *Store) Merge(ctx context.Context, key WorkloadContainer, recording string, delta v1alpha1.ProfileSpec, src v1alpha1.Source) error {
	d, err := prepareDelta(key, recording, delta, src, s.opts.Now())
	if err != nil {
		return err
	}
	return s.apply(ctx, key, recording, d)
}

// Get returns the profile of a key, wherever the store keeps it; an error
// for which apierrors.IsNotFound holds when there is none.
func (s *Store) Get(ctx context.Context, key WorkloadContainer) (*v1alpha1.Profile, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	name, p, err := s.locate(ctx, key)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("profiles").GroupResource(), name)
	}
	return p, nil
}

// prepareDelta checks a delta and makes it the spec to merge: the key's
// workload and container, src among the sources, every source's recording
// defaulted and its times cut to whole seconds (as the API server stores
// them: a source's start time identifies it, and must compare equal after
// a round trip).
func prepareDelta(key WorkloadContainer, recording string, delta v1alpha1.ProfileSpec, src v1alpha1.Source, now time.Time) (v1alpha1.ProfileSpec, error) {
	if err := key.Validate(); err != nil {
		return v1alpha1.ProfileSpec{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d := *delta.DeepCopy()
	if w := d.Workload; w != nil && (w.Kind != key.Workload.Kind || w.Name != key.Workload.Name) {
		return v1alpha1.ProfileSpec{}, fmt.Errorf("%w: the delta is for %s %s, not for the key's %s", ErrInvalid, w.Kind, w.Name, key)
	}
	if d.Container != "" && d.Container != key.Container {
		return v1alpha1.ProfileSpec{}, fmt.Errorf("%w: the delta is for container %q, not for the key's %s", ErrInvalid, d.Container, key)
	}
	workload := key.Workload
	if d.Workload != nil && workload.APIVersion == "" {
		workload.APIVersion = d.Workload.APIVersion
	}
	d.Workload, d.Container = &workload, key.Container
	if src.Node != "" || src.Pod != "" || !src.FirstSeen.IsZero() || src.Recording != "" {
		d.Sources = append(d.Sources, *src.DeepCopy())
	}
	for i := range d.Sources {
		s := &d.Sources[i]
		if s.Recording == "" {
			s.Recording = recording
		}
		if s.FirstSeen.IsZero() {
			return v1alpha1.ProfileSpec{}, fmt.Errorf("%w: sources[%d] (node %q, pod %q): firstSeen is required: when its recording started, which identifies the source", ErrInvalid, i, s.Node, s.Pod)
		}
		if s.LastSeen.IsZero() {
			s.LastSeen = metav1.NewTime(now)
		}
		s.FirstSeen = metav1.NewTime(s.FirstSeen.Truncate(time.Second))
		s.LastSeen = metav1.NewTime(s.LastSeen.Truncate(time.Second))
	}
	p := &v1alpha1.Profile{Spec: d}
	if errs := profiles.ValidateProfile(p); len(errs) > 0 {
		return v1alpha1.ProfileSpec{}, fmt.Errorf("%w for %s: %v", ErrInvalid, key, errs.ToAggregate())
	}
	// Not normalised here: whatever takes it next (Writer.queue's merge or
	// bound, Store.apply's merge) normalises it, and normalising is most of
	// what queuing a snapshot costs.
	return d, nil
}

// boundsFor returns the bounds of the profiles a recording writes.
func (s *Store) boundsFor(namespace, recording string) Bounds {
	b := s.opts.Bounds
	if s.opts.LimitsFor != nil {
		if l, ok := s.opts.LimitsFor(namespace, recording); ok {
			b.Limits = l
		}
	}
	return b.withDefaults()
}

// apply merges a prepared delta into the key's profile, retrying on
// conflicts.
func (s *Store) apply(ctx context.Context, key WorkloadContainer, recording string, d v1alpha1.ProfileSpec) error {
	bounds := s.boundsFor(key.Namespace, recording)
	delay := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.try(ctx, key, recording, d, bounds)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("writing the profile of %s: %w", key, err)
		}
		if attempt >= s.opts.MaxAttempts {
			return fmt.Errorf("writing the profile of %s: other writers changed it %d times in a row: %w", key, attempt, err)
		}
		s.opts.Log.V(1).Info("profile changed while merging; merging again", "profile", key.String(), "attempt", attempt, "reason", err.Error())
		if err := sleep(ctx, jitter(delay)); err != nil {
			return fmt.Errorf("writing the profile of %s: %w", key, err)
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// try is one read-merge-write of a key's profile. A conflict (someone wrote
// since the read) or AlreadyExists (someone created it since the read)
// means: read again and merge again.
func (s *Store) try(ctx context.Context, key WorkloadContainer, recording string, d v1alpha1.ProfileSpec, bounds Bounds) error {
	name, cur, err := s.locate(ctx, key)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	if cur == nil {
		p := &v1alpha1.Profile{
			TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Profile"},
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: name, Labels: profileLabels(key, recording)},
			Spec:       d,
		}
		p = Fit(p, bounds, now)
		p.Status = v1alpha1.ProfileStatus{} // written through the status subresource
		if err := s.c.Create(ctx, p); err != nil {
			if apierrors.IsAlreadyExists(err) {
				s.forget(key)
			}
			return err
		}
		s.remember(key, name)
		return s.writeStatus(ctx, p, bounds)
	}

	spec, err := profiles.MergeSpec(cur.Spec, d)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	next := cur.DeepCopy()
	next.Spec = spec
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	maps.Copy(next.Labels, profileLabels(key, recording))
	next = Fit(next, bounds, now)
	if sameJSON(cur.Spec, next.Spec) && maps.Equal(cur.Labels, next.Labels) {
		// Nothing new (a snapshot sent again): no write, no new version.
		return s.writeStatus(ctx, cur, bounds)
	}
	next.Status = cur.Status
	if err := s.c.Update(ctx, next); err != nil {
		return err
	}
	return s.writeStatus(ctx, next, bounds)
}

// writeStatus brings the status of a stored profile in step with its spec.
// The status is computed from the spec alone, so on a conflict (another
// writer changed the profile since) it is computed again from what is
// stored now: whoever writes last writes the status of the latest spec.
func (s *Store) writeStatus(ctx context.Context, p *v1alpha1.Profile, bounds Bounds) error {
	delay := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		want := refreshStatus(p, bounds, s.opts.Now())
		if equality.Semantic.DeepEqual(p.Status, want.Status) {
			return nil
		}
		p.Status = want.Status
		err := s.c.Status().Update(ctx, p)
		if err == nil || !apierrors.IsConflict(err) {
			return err
		}
		if attempt >= s.opts.MaxAttempts {
			return fmt.Errorf("updating the status of profile %s/%s: %w", p.Namespace, p.Name, err)
		}
		if err := sleep(ctx, jitter(delay)); err != nil {
			return err
		}
		delay = min(2*delay, 500*time.Millisecond)
		fresh, err := s.get(ctx, p.Namespace, p.Name)
		if err != nil {
			return err
		}
		if fresh == nil {
			return nil // deleted meanwhile: nothing to summarise
		}
		p = fresh
	}
}

// locate finds the profile of a key: at the name where it was last found,
// else at ProfileName, else (when that is another key's) at CollisionName.
// It returns the name to use and the profile, nil when there is none yet.
func (s *Store) locate(ctx context.Context, key WorkloadContainer) (string, *v1alpha1.Profile, error) {
	if name, ok := s.cached(key); ok {
		p, err := s.get(ctx, key.Namespace, name)
		if err != nil || p == nil || key.owns(p) {
			return name, p, err
		}
		s.forget(key) // the name went to another key: look again
	}
	primary, fallback := ProfileName(key), CollisionName(key)
	p, err := s.get(ctx, key.Namespace, primary)
	switch {
	case err != nil:
		return "", nil, err
	case p != nil && key.owns(p):
		s.remember(key, primary)
		return primary, p, nil
	case primary == fallback && p != nil:
		return "", nil, fmt.Errorf("%w: profile %s/%s belongs to %s container %q, and the hashed name of %s is that name already", ErrInvalid, key.Namespace, primary, describeWorkload(p), p.Spec.Container, key)
	}
	// The primary name is free or someone else's. The profile may already
	// be at the fallback name (created while the primary was taken).
	q, err := s.get(ctx, key.Namespace, fallback)
	switch {
	case err != nil:
		return "", nil, err
	case q != nil && key.owns(q):
		s.remember(key, fallback)
		return fallback, q, nil
	case p == nil:
		return primary, nil, nil
	case q == nil:
		return fallback, nil, nil
	}
	return "", nil, fmt.Errorf("%w: profiles %s/%s and %s/%s both belong to other workloads: cannot name the profile of %s", ErrInvalid, key.Namespace, primary, key.Namespace, fallback, key)
}

// get reads a profile; nil when there is none.
func (s *Store) get(ctx context.Context, namespace, name string) (*v1alpha1.Profile, error) {
	p := &v1alpha1.Profile{}
	// A profile a newer agent wrote fields into that this one does not
	// know is not this agent's to write: the write would remove them.
	err := lossless.Get(ctx, s.c, s.c.Scheme(), types.NamespacedName{Namespace: namespace, Name: name}, p)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Store) cached(key WorkloadContainer) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, ok := s.names[key.identity()]
	return name, ok
}

func (s *Store) remember(key WorkloadContainer, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[key.identity()] = name
}

func (s *Store) forget(key WorkloadContainer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.names, key.identity())
}

func describeWorkload(p *v1alpha1.Profile) string {
	if w := p.Spec.Workload; w != nil {
		return w.Kind + " " + w.Name
	}
	return "no workload (a local recording)"
}

func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// jitter spreads retries of writers that collided, so they do not collide
// again: a random duration between d/2 and 3d/2.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
