package recorder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
)

// twoContainerPod lays out a running pod with containers "busy" and "quiet"
// on layout, selected by one recording of every kind.
func twoContainerPod(t *testing.T, layout kubeletLayout, node *NodeRecorder) (busy, quiet *cgroupfs.Cgroup, sel Selection) {
	t.Helper()
	uid := types.UID(fmt.Sprintf("5f1c2d3e-0000-4000-8000-%012d", os.Getpid()))
	layout.mkdir(layout.PodDir(string(uid)))
	busyID, quietID := randomID(t), randomID(t)
	busy = layout.mkdir(layout.ContainerDir(string(uid), busyID))
	quiet = layout.mkdir(layout.ContainerDir(string(uid), quietID))
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: uid},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "busy"}, {Name: "quiet"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "busy", ContainerID: "containerd://" + busyID, State: running},
				{Name: "quiet", ContainerID: "containerd://" + quietID, State: running},
			}},
	}
	sel = Selection{Recording: "web", Namespace: "shop", Kinds: bpf.AllKinds, Pods: []*corev1.Pod{pod}}
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}
	return busy, quiet, sel
}

func snapshotOf(snaps []Snapshot, container string) *Snapshot {
	for i := range snaps {
		if snaps[i].Container == container {
			return &snaps[i]
		}
	}
	return nil
}

func filesIn(s *Snapshot, dir string, n int) (missing int) {
	have := map[string]bool{}
	for _, f := range s.Spec.Files {
		have[f.Path] = true
	}
	for i := 0; i < n; i++ {
		if !have[filepath.Join(dir, fmt.Sprintf("f%05d", i))] {
			missing++
		}
	}
	return missing
}

// On a node whose file map is too small, the agent still gets every file
// into the container's profile: the ring buffer carries the entries the map
// could not keep, and nothing is counted as lost.
func TestANodeGetsEntriesAFullMapCouldNotKeepIntoTheProfile(t *testing.T) {
	layout := newKubeletLayout(t)
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mustMount(t), FileEntries: 64, RingBufferBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	node := NewNodeRecorder(rec, containers.NewResolver(layout.Root), "node-a", logr.Discard())
	t.Cleanup(func() { node.Close(); rec.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	read := make(chan error, 1)
	go func() { read <- node.ReadSightings(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-read; err != nil {
			t.Errorf("ReadSightings: %v", err)
		}
	})

	busy, quiet, _ := twoContainerPod(t, layout, node)
	const n = 300
	dir := testDir(t)
	runIn(t, busy, "open-distinct", dir, fmt.Sprint(n))
	writeFile(t, filepath.Join(dir, "quiet-config"), "x")
	runIn(t, quiet, "open-many", filepath.Join(dir, "quiet-config"), "1")

	if c, _ := rec.Counters(); c[bpf.KindFile].MapFull == 0 {
		t.Fatalf("file counters %+v: the 64-entry map was never full, the test tests nothing", c[bpf.KindFile])
	}
	// The reader runs on its own: give it until the deadline to catch up.
	var s *Snapshot
	missing := n
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		snaps, err := node.Snapshots()
		if err != nil {
			t.Fatal(err)
		}
		if s = snapshotOf(snaps, "busy"); s != nil {
			if missing = filesIn(s, dir, n); missing == 0 || time.Now().After(deadline) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot of the busy container: %+v", snaps)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d files missing from the busy container's profile", missing, n)
	}
	if s.Source.LostRecords != 0 || len(s.Source.LostByKind) != 0 {
		t.Errorf("the busy container lost %d (%v), want 0: every sighting was read", s.Source.LostRecords, s.Source.LostByKind)
	}
}

// With the map full and nothing reading the ring buffer, sightings are
// lost: the container that lost them says how many, per kind, at least as
// many as the files its profile misses; its neighbour, which lost nothing,
// says 0 (a node-wide count is never copied onto every container).
func TestANodeCountsLostEntriesPerContainerAndKind(t *testing.T) {
	layout := newKubeletLayout(t)
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mustMount(t), FileEntries: 64, RingBufferBytes: os.Getpagesize()})
	if err != nil {
		t.Fatal(err)
	}
	node := NewNodeRecorder(rec, containers.NewResolver(layout.Root), "node-a", logr.Discard())
	t.Cleanup(func() { node.Close(); rec.Close() })

	busy, quiet, _ := twoContainerPod(t, layout, node)
	// The quiet one opens a file first, while the map has room.
	dir := testDir(t)
	writeFile(t, filepath.Join(dir, "quiet-config"), "x")
	runIn(t, quiet, "open-many", filepath.Join(dir, "quiet-config"), "1")
	const n = 1000
	runIn(t, busy, "open-distinct", dir, fmt.Sprint(n))

	snaps, err := node.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	b, q := snapshotOf(snaps, "busy"), snapshotOf(snaps, "quiet")
	if b == nil || q == nil {
		t.Fatalf("snapshots %+v: want one per container", snaps)
	}
	missing := filesIn(b, dir, n)
	if missing == 0 {
		t.Fatalf("no file is missing with a full map and a full ring buffer: the test tests nothing")
	}
	lostFiles := b.Source.LostByKind[bpf.KindFile.String()]
	if lostFiles < int64(missing) {
		t.Errorf("the busy container says %d file sightings lost, but %d files are missing from its profile", lostFiles, missing)
	}
	var sum int64
	for _, c := range b.Source.LostByKind {
		sum += c
	}
	if b.Source.LostRecords != sum {
		t.Errorf("lostRecords %d is not the sum of lostByKind %v", b.Source.LostRecords, b.Source.LostByKind)
	}
	if q.Source.LostRecords != 0 || len(q.Source.LostByKind) != 0 {
		t.Errorf("the quiet container, which lost nothing, says %d lost (%v)", q.Source.LostRecords, q.Source.LostByKind)
	}
	if c, _ := rec.Counters(); uint64(lostFiles) != c[bpf.KindFile].Lost {
		t.Errorf("the busy container's %d lost file sightings differ from the node's %d", lostFiles, c[bpf.KindFile].Lost)
	}
}
