package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// ErrRecorderClosed is returned by a Recorder's methods after Close.
var ErrRecorderClosed = errors.New("the recorder is closed")

// Watch says what to record in a cgroup.
type Watch struct {
	// RecordingID is the caller's id for the recording; cgroups created
	// under a watched one inherit it.
	RecordingID uint64
	// Kinds are the kinds of event to record.
	Kinds KindSet
	// Live starts recording at once. When false, recording starts at the
	// cgroup's first exec, so that a runtime's or footprint's own set-up of
	// the process is not recorded.
	Live bool
	// Inherited is set on cgroups the kernel added because their parent
	// was watched.
	Inherited bool
	// Containers marks a pod's or a container's cgroup: what the container
	// runtime's own tasks do there (runc init setting a container up, the
	// init of kubectl exec) is not recorded.
	Containers bool
	// Provisional is set on cgroups the kernel added because they were
	// made in a pod directory (WatchNewPods): no one has said yet whether
	// a recording selects them. Watch makes such a watch the caller's;
	// Unwatch and Forget drop it and what it recorded.
	Provisional bool
}

const (
	watchLive        = uint32(typesFpWatchFlagFP_WATCH_LIVE)
	watchInherited   = uint32(typesFpWatchFlagFP_WATCH_INHERITED)
	watchContainers  = uint32(typesFpWatchFlagFP_WATCH_CONTAINERS)
	watchProvisional = uint32(typesFpWatchFlagFP_WATCH_PROVISIONAL)
)

// maxPodParents is pod_parents' size (bpf/c/lifecycle.bpf.c).
const maxPodParents = 64

// WatchNewPods makes the kernel watch every cgroup made from now on
// directly in one of the directories parents (cgroup ids: the directories
// kubelet puts pods in), provisionally, with w's kinds: a pod is then
// recorded from its first instruction however long the caller takes to
// look it up, and the caller keeps the watch (Watch) of a pod a recording
// selects and drops it and its entries (Unwatch, Forget) otherwise. It
// replaces the directories of the previous call; none stops it.
func (r *Recorder) WatchNewPods(parents []uint64, w Watch) error {
	if r.podParents == nil {
		return ErrRecorderClosed
	}
	if len(parents) > maxPodParents {
		return fmt.Errorf("watch new pods in %d directories: at most %d", len(parents), maxPodParents)
	}
	kinds := w.Kinds
	if kinds.Has(KindConnect) {
		kinds = kinds.With(KindSocket)
	}
	v := typesFpWatch{RecordingId: w.RecordingID, Kinds: uint32(kinds), Flags: watchInherited | watchProvisional}
	if w.Containers {
		v.Flags |= watchContainers
	}
	want := map[uint64]bool{}
	for _, id := range parents {
		want[id] = true
	}
	change := func() error {
		var stale []uint64
		var id uint64
		var have typesFpWatch
		it := r.podParents.Iterate()
		for it.Next(&id, &have) {
			if !want[id] {
				stale = append(stale, id)
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("read pod directories: %w", err)
		}
		for _, id := range stale {
			if err := r.podParents.Delete(id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("stop watching new pods in cgroup %d: %w", id, err)
			}
		}
		for id := range want {
			if err := r.podParents.Update(id, v, ebpf.UpdateAny); err != nil {
				return fmt.Errorf("watch new pods in cgroup %d: %w", id, err)
			}
		}
		return nil
	}
	if r.files == nil {
		return change()
	}
	needs := len(parents) > 0
	return r.files.write(needs && w.Kinds.Has(KindFile), func() error {
		return r.syscalls.write(needs && w.Kinds.Has(KindSyscall), change)
	})
}

// Watch starts recording the cgroup with the given id (and every cgroup
// created under it from now on).
func (r *Recorder) Watch(cgroupID uint64, w Watch) error {
	if r.watched == nil {
		return ErrRecorderClosed
	}
	kinds := w.Kinds
	if kinds.Has(KindConnect) {
		// A socket's peers are connections too: AF_UNIX destinations,
		// binds, raw sockets.
		kinds = kinds.With(KindSocket)
	}
	v := typesFpWatch{RecordingId: w.RecordingID, Kinds: uint32(kinds)}
	if w.Live {
		v.Flags |= watchLive
	}
	if w.Containers {
		v.Flags |= watchContainers
	}
	update := func() error {
		if err := r.watched.Update(cgroupID, v, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("watch cgroup %d: %w", cgroupID, err)
		}
		return nil
	}
	if r.files == nil { // the self-test, before a backend is chosen
		return update()
	}
	return r.files.write(w.Kinds.Has(KindFile), func() error {
		return r.syscalls.write(w.Kinds.Has(KindSyscall), update)
	})
}

// Unwatch stops recording the cgroup. Entries already aggregated stay until
// Forget.
func (r *Recorder) Unwatch(cgroupID uint64) error {
	if r.watched == nil {
		return ErrRecorderClosed
	}
	remove := func() error {
		if err := r.watched.Delete(cgroupID); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("unwatch cgroup %d: %w", cgroupID, err)
		}
		return nil
	}
	if r.files == nil {
		return remove()
	}
	return r.files.write(false, func() error { return r.syscalls.write(false, remove) })
}

// recordingKind says whether some cgroup is watched for kind k, or will be
// as soon as it is made in a pod directory.
func (r *Recorder) recordingKind(k Kind) (bool, error) {
	for _, m := range []*ebpf.Map{r.watched, r.podParents} {
		var id uint64
		var v typesFpWatch
		it := m.Iterate()
		for it.Next(&id, &v) {
			if KindSet(v.Kinds).Has(k) {
				return true, nil
			}
		}
		if err := it.Err(); err != nil {
			return false, err
		}
	}
	return false, nil
}

// SyscallBackendAttached says whether the system call backend's programs
// are attached: only while a cgroup is recorded for system calls.
func (r *Recorder) SyscallBackendAttached() bool { return r.syscalls == nil || r.syscalls.attached() }

// FileBackendAttached says whether the file backend's programs are
// attached: always, but for a backend attached only while a cgroup is
// recorded for files.
func (r *Recorder) FileBackendAttached() bool { return r.files == nil || r.files.attached() }

// Watched returns every watched cgroup, including those the kernel added.
func (r *Recorder) Watched() (map[uint64]Watch, error) {
	if r.watched == nil {
		return nil, ErrRecorderClosed
	}
	ids, values, err := readAll[uint64, typesFpWatch](r.watched)
	if err != nil {
		return nil, fmt.Errorf("read watched cgroups: %w", err)
	}
	out := make(map[uint64]Watch, len(ids))
	for i, id := range ids {
		v := &values[i]
		out[id] = Watch{
			RecordingID: v.RecordingId,
			Kinds:       KindSet(v.Kinds),
			Live:        v.Flags&watchLive != 0,
			Inherited:   v.Flags&watchInherited != 0,
			Containers:  v.Flags&watchContainers != 0,
			Provisional: v.Flags&watchProvisional != 0,
		}
	}
	return out, nil
}
