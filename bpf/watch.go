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
}

const (
	watchLive       = uint32(typesFpWatchFlagFP_WATCH_LIVE)
	watchInherited  = uint32(typesFpWatchFlagFP_WATCH_INHERITED)
	watchContainers = uint32(typesFpWatchFlagFP_WATCH_CONTAINERS)
)

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

// recordingKind says whether some cgroup is watched for kind k.
func (r *Recorder) recordingKind(k Kind) (bool, error) {
	var id uint64
	var v typesFpWatch
	it := r.watched.Iterate()
	for it.Next(&id, &v) {
		if KindSet(v.Kinds).Has(k) {
			return true, nil
		}
	}
	return false, it.Err()
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
	out := map[uint64]Watch{}
	var id uint64
	var v typesFpWatch
	it := r.watched.Iterate()
	for it.Next(&id, &v) {
		out[id] = Watch{
			RecordingID: v.RecordingId,
			Kinds:       KindSet(v.Kinds),
			Live:        v.Flags&watchLive != 0,
			Inherited:   v.Flags&watchInherited != 0,
			Containers:  v.Flags&watchContainers != 0,
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read watched cgroups: %w", err)
	}
	return out, nil
}
