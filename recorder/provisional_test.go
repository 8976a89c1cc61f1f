package recorder

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/kubelettest"
)

// provisionalPod is a Burstable pod of one container, app, on the test's
// kubelet-like layout; n tells the pods of one test apart.
func provisionalPod(n int, name string) *corev1.Pod {
	uid := types.UID(fmt.Sprintf("9c%02d2d3e-0000-4000-8000-%012d", n, os.Getpid()))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: uid},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app"}}},
	}
}

// startContainer makes the pod's cgroup and its app container's, as
// kubelet and the runtime do, and runs the container's first process,
// which opens file count times. The pod's status learns the container's
// id; no one tells the recorder.
func startContainer(t *testing.T, layout kubeletLayout, pod *corev1.Pod, file string, count int) (podCg, app *cgroupfs.Cgroup) {
	t.Helper()
	podCg = layout.mkdir(layout.PodDir(string(pod.UID)))
	id := randomID(t)
	app = layout.mkdir(layout.ContainerDir(string(pod.UID), id))
	runIn(t, app, "open-many", file, fmt.Sprint(count))
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + id,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	return podCg, app
}

// TestANodeRecordsAPodFromItsCgroupsCreationBeforeUserSpaceSelectsIt: while
// a recording is active, a pod whose cgroup is made and whose container
// runs before the agent has looked the pod up (as on a node starting
// hundreds of pods) still has its container's first instructions in its
// profile: the kernel watched the pod's cgroup the moment it was made, and
// selecting the pod keeps that watch, with what it recorded.
func TestANodeRecordsAPodFromItsCgroupsCreationBeforeUserSpaceSelectsIt(t *testing.T) {
	for _, driver := range []kubelettest.Driver{kubelettest.Cgroupfs, kubelettest.Systemd} {
		t.Run(string(driver), func(t *testing.T) {
			layout := newKubeletLayoutWith(t, driver)
			rec, node := startNodeRecorder(t, layout)
			pod := provisionalPod(1, "web-1")
			sel := Selection{Recording: "web", Namespace: "shop", Kinds: bpf.AllKinds, Pods: []*corev1.Pod{pod}}
			// The recording is active; the pod has no cgroup yet.
			if problems := node.Select([]Selection{sel}); len(problems) > 0 {
				t.Fatalf("select: %v", problems)
			}
			dir := testDir(t)
			config := filepath.Join(dir, "boot-config")
			writeFile(t, config, "x")
			podCg, app := startContainer(t, layout, pod, config, 2)

			watched, err := rec.Watched()
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := watched[podCg.ID]; !ok || !w.Provisional {
				t.Errorf("the pod's cgroup, made while a recording was active, is watched %v (%+v), want provisionally", ok, w)
			}

			// The agent looks the pod up, late.
			if problems := node.Select([]Selection{sel}); len(problems) > 0 {
				t.Fatalf("select: %v", problems)
			}
			watched, err = rec.Watched()
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := watched[podCg.ID]; !ok || w.Provisional || w.Inherited {
				t.Errorf("the selected pod's cgroup is watched %v (%+v), want the recorder's own watch", ok, w)
			}
			if w, ok := watched[app.ID]; !ok || w.Provisional || !w.Live {
				t.Errorf("the selected container's cgroup is watched %v (%+v), want a live watch of the recorder's own", ok, w)
			}
			snaps, err := node.Snapshots()
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps) != 1 || snaps[0].Container != "app" {
				t.Fatalf("snapshots = %+v, want one, of container app", snaps)
			}
			for _, f := range snaps[0].Spec.Files {
				if f.Path == config {
					if f.Count != 2 {
						t.Errorf("%s opened %d times, want 2", config, f.Count)
					}
					return
				}
			}
			t.Errorf("the profile lacks %s, which the container's first process opened before its pod was selected: %+v", config, snaps[0].Spec.Files)
		})
	}
}

// TestANodeDropsProvisionalWatchesOfPodsNoRecordingSelects: the kernel
// watches every new pod while a recording is active; a pod on the node
// that no recording selects is dropped at the next Select, a pod the agent
// never hears of after a while, and a pod removed before it was classified
// at the next Snapshots. None of them reaches a profile, and none leaves a
// watch or an aggregated entry behind. With no recording active, no new pod
// is watched at all.
func TestANodeDropsProvisionalWatchesOfPodsNoRecordingSelects(t *testing.T) {
	layout := newKubeletLayout(t)
	rec, node := startNodeRecorder(t, layout)
	selected := provisionalPod(1, "web-1")
	other, unknown, removed := provisionalPod(2, "db-1"), provisionalPod(3, "cache-1"), provisionalPod(4, "job-1")
	sel := Selection{Recording: "web", Namespace: "shop", Kinds: bpf.AllKinds, Pods: []*corev1.Pod{selected}}
	node.SetPodsOnNode([]*corev1.Pod{selected, other, removed})
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}
	dir := testDir(t)
	files := map[string]string{}
	for _, name := range []string{"web", "db", "cache", "job"} {
		files[name] = filepath.Join(dir, name+"-config")
		writeFile(t, files[name], "x")
	}
	startContainer(t, layout, selected, files["web"], 1)
	otherPod, otherApp := startContainer(t, layout, other, files["db"], 1)
	unknownPod, unknownApp := startContainer(t, layout, unknown, files["cache"], 1)
	removedPod, removedApp := startContainer(t, layout, removed, files["job"], 1)
	if err := removedApp.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := removedPod.Remove(); err != nil {
		t.Fatal(err)
	}
	dropped := map[string][]uint64{"db-1": {otherPod.ID, otherApp.ID}, "cache-1": {unknownPod.ID, unknownApp.ID}, "job-1": {removedPod.ID, removedApp.ID}}

	// Each was recorded, provisionally: what is dropped below was there.
	entries, err := rec.Sweep(nil)
	if err != nil {
		t.Fatal(err)
	}
	for pod, ids := range dropped {
		if !hasEntryOf(entries, ids[1]) {
			t.Fatalf("pod %s's container was not recorded provisionally: no entry of cgroup %d", pod, ids[1])
		}
	}

	// left says what a dropped pod left behind in the kernel.
	left := func(pod string) []string {
		t.Helper()
		watched, err := rec.Watched()
		if err != nil {
			t.Fatal(err)
		}
		entries, err := rec.Sweep(nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, id := range dropped[pod] {
			if w, ok := watched[id]; ok {
				out = append(out, fmt.Sprintf("a watch of cgroup %d (%+v)", id, w))
			}
			if hasEntryOf(entries, id) {
				out = append(out, fmt.Sprintf("entries of cgroup %d", id))
			}
		}
		return out
	}
	noProfileOf := func(snaps []Snapshot, pods ...string) {
		t.Helper()
		for _, s := range snaps {
			for _, p := range pods {
				if s.Pod.Name == p {
					t.Errorf("pod %s, which no recording selects, has a snapshot: %+v", p, s)
				}
			}
			for _, f := range s.Spec.Files {
				for _, name := range []string{"db", "cache", "job"} {
					if f.Path == files[name] {
						t.Errorf("%s's profile holds %s, which an unselected pod opened", s.Pod.Name, f.Path)
					}
				}
			}
		}
	}

	// The agent hears of the pods: db-1 is on the node, unselected.
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}
	snaps, err := node.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].Pod.Name != "web-1" {
		t.Errorf("snapshots = %+v, want web-1's app alone", snaps)
	}
	noProfileOf(snaps, "db-1", "cache-1", "job-1")
	for _, pod := range []string{"db-1", "job-1"} {
		if l := left(pod); len(l) > 0 {
			t.Errorf("pod %s, unselected, left %v", pod, l)
		}
	}
	// cache-1 may yet turn up: it stays, watched provisionally.
	if watched, err := rec.Watched(); err != nil || !watched[unknownApp.ID].Provisional {
		t.Errorf("cache-1, not heard of yet, is no longer watched provisionally (%v)", err)
	}

	// It does not turn up in time.
	node.mu.Lock()
	node.provisionalTimeout = 0
	node.mu.Unlock()
	snaps, err = node.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	noProfileOf(snaps, "db-1", "cache-1", "job-1")
	if l := left("cache-1"); len(l) > 0 {
		t.Errorf("pod cache-1, never heard of, left %v after its time", l)
	}

	// No recording: a new pod is not watched.
	node.Select(nil)
	late := provisionalPod(5, "late-1")
	_, lateApp := startContainer(t, layout, late, files["web"], 1)
	watched, err := rec.Watched()
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := watched[lateApp.ID]; ok {
		t.Errorf("a pod made with no recording active is watched: %+v", w)
	}
}

func hasEntryOf(entries []bpf.Entry, cgroupID uint64) bool {
	for _, e := range entries {
		if e.CgroupID == cgroupID {
			return true
		}
	}
	return false
}
