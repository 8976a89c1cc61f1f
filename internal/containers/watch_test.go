package containers

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/footprint-dev/footprint/internal/kubelettest"
)

// TestWatchPodCgroupsSeesKubeletMakeAPodCgroup makes a pod's cgroup the way
// kubelet does, in each driver's layout, and expects to be told at once.
func TestWatchPodCgroupsSeesKubeletMakeAPodCgroup(t *testing.T) {
	for _, driver := range []kubelettest.Driver{kubelettest.Cgroupfs, kubelettest.Systemd} {
		t.Run(string(driver), func(t *testing.T) {
			layout := kubelettest.NewWithDriver(t, driver)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			created := make(chan struct{}, 16)
			if err := NewResolver(layout.Root).WatchPodCgroups(ctx, func() { created <- struct{}{} }); err != nil {
				t.Fatal(err)
			}
			select {
			case <-created:
				t.Fatal("told of a pod cgroup before any was made")
			case <-time.After(50 * time.Millisecond):
			}
			layout.Mkdir(layout.PodDir(string(uuid.NewUUID())))
			select {
			case <-created:
			case <-time.After(5 * time.Second):
				t.Fatal("not told when the pod cgroup was made")
			}
		})
	}
}
