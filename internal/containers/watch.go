package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// WatchPodCgroups calls created, from a goroutine of its own, whenever a
// cgroup is created directly in a kubepods cgroup or in a QoS cgroup below
// one: kubelet making a pod's cgroup (or a Guaranteed pod's container's).
// Kubelet makes the pod's cgroup first, then sets up the sandbox and its
// network, then starts the containers, hundreds of milliseconds later; a
// controller that holds the pod's cgroup when told here has it covered
// before the first container's first instruction, without waiting for the
// pod's status to change.
//
// It returns once the watches are in place (an error when there is no
// kubepods cgroup yet or inotify fails); they end with ctx.
func (r *Resolver) WatchPodCgroups(ctx context.Context, created func()) error {
	bases, err := r.cachedBases()
	if err != nil {
		return err
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch pod cgroups: inotify: %w", err)
	}
	// Non-blocking: reads go through the runtime's poller, and Close ends
	// a read in progress.
	f := os.NewFile(uintptr(fd), "inotify")
	// A QoS class directory kubelet makes after the watch started (its
	// first pod of that class, or the agent started before kubelet) is
	// watched from the moment the kubepods cgroup's watch reports it.
	qosDirs := map[int32]map[string]string{} // kubepods watch → QoS directory name → path
	for _, b := range bases {
		for _, dir := range b.podParents() {
			wd, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ONLYDIR)
			if errors.Is(err, unix.ENOENT) {
				continue // no pod of that QoS class yet, so kubelet made no cgroup for it
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("watch pod cgroups in %s: %w", dir, err)
			}
			if dir == b.path {
				qosDirs[int32(wd)] = b.qosDirs()
			}
		}
	}
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil || ctx.Err() != nil {
				return // closed with ctx; no other error is expected of inotify
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := unix.ByteSliceToString(buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)])
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if dir, ok := qosDirs[ev.Wd][name]; ok {
					// A pod made in it before this watch is found by the
					// reconcile created queues; the ones after, by the watch.
					unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_ONLYDIR)
				}
			}
			if n > 0 {
				created()
			}
		}
	}()
	return nil
}

// PodCgroupSource is a controller-runtime source that queues key whenever
// WatchPodCgroups sees a pod's cgroup made: the controllers that hold pods'
// cgroups (recording, enforcement) then hold a new pod before its
// containers start. Where the watch cannot be set up, that is logged and
// pods are held when their status changes, as without it.
func PodCgroupSource(r *Resolver, key reconcile.Request, log logr.Logger) source.Source {
	return source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		if err := r.WatchPodCgroups(ctx, func() { q.Add(key) }); err != nil {
			log.Error(err, "new pods are held when their status changes, not when their cgroup is made")
		}
		return nil
	})
}
