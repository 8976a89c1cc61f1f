package containers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// TestWatchPodCgroupsSeesPodsOfAQoSClassMadeAfterItStarted: kubelet makes
// a QoS class directory with the first pod of that class (or after an
// agent that started first); pods made in it later are told too.
func TestWatchPodCgroupsSeesPodsOfAQoSClassMadeAfterItStarted(t *testing.T) {
	for _, tc := range []struct {
		driver  kubelettest.Driver
		qos     string // the QoS class directory, made after the watch
		podName string // a pod's cgroup in it, by uid
	}{
		{kubelettest.Cgroupfs, "kubepods/besteffort", "kubepods/besteffort/pod%s"},
		{kubelettest.Systemd, "kubepods.slice/kubepods-besteffort.slice", "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice"},
	} {
		t.Run(string(tc.driver), func(t *testing.T) {
			layout := kubelettest.NewWithDriver(t, tc.driver)
			// kubelettest makes every QoS directory of the cgroupfs layout.
			if err := os.Remove(filepath.Join(layout.Root, tc.qos)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			created := make(chan struct{}, 16)
			if err := NewResolver(layout.Root).WatchPodCgroups(ctx, func() { created <- struct{}{} }); err != nil {
				t.Fatal(err)
			}
			told := func(what string) {
				t.Helper()
				select {
				case <-created:
				case <-time.After(5 * time.Second):
					t.Fatalf("not told when %s was made", what)
				}
			}
			layout.Mkdir(tc.qos)
			told("the QoS class directory")
			uid := string(uuid.NewUUID())
			if tc.driver == kubelettest.Systemd {
				uid = strings.ReplaceAll(uid, "-", "_")
			}
			layout.Mkdir(fmt.Sprintf(tc.podName, uid))
			told("a pod's cgroup in it")
		})
	}
}
