package recorder

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/cgroupcmd"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
	"github.com/footprint-dev/footprint/internal/kubelettest"
)

func newKubeletLayout(t *testing.T) kubeletLayout { return kubeletLayout{kubelettest.New(t)} }

func newKubeletLayoutWith(t *testing.T, d kubelettest.Driver) kubeletLayout {
	return kubeletLayout{kubelettest.NewWithDriver(t, d)}
}

type kubeletLayout struct{ kubelettest.Layout }

func (l kubeletLayout) mkdir(rel string) *cgroupfs.Cgroup { return l.Mkdir(rel) }

func randomID(t *testing.T) string { return kubelettest.ContainerID(t) }

// runIn runs the test binary performing action in cg, as a container's
// first process.
func runIn(t *testing.T, cg *cgroupfs.Cgroup, action string, args ...string) {
	t.Helper()
	cmd := helperCommand(t, action, args...)
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		t.Fatal(err)
	}
	res, err := cgroupcmd.Run(context.Background(), cg, cgroupcmd.Options{Path: path, Args: cmd, Stderr: os.Stderr, MountNamespace: true})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s in %s: exit %d, %v", action, cg.Path, res.ExitCode, err)
	}
}

// TestANodeRecordsSelectedContainersFromTheirFirstInstruction puts a pod on
// a kubelet-like cgroup layout, selects it before any container exists,
// then starts the containers the way a runtime does: the selected container
// is recorded from its first exec, the sidecar and the sandbox are not.
func TestANodeRecordsSelectedContainersFromTheirFirstInstruction(t *testing.T) {
	for _, driver := range []kubelettest.Driver{kubelettest.Cgroupfs, kubelettest.Systemd} {
		t.Run(string(driver), func(t *testing.T) { testNodeRecording(t, newKubeletLayoutWith(t, driver)) })
	}
}

// startNodeRecorder loads the recorder and drives it for node-a's pods on
// layout, until the test ends.
func startNodeRecorder(t *testing.T, layout kubeletLayout) (*bpf.Recorder, *NodeRecorder) {
	t.Helper()
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mustMount(t)})
	if err != nil {
		t.Fatal(err)
	}
	node := NewNodeRecorder(rec, containers.NewResolver(layout.Root), "node-a", logr.Discard())
	t.Cleanup(func() {
		node.Close()
		rec.Close()
	})
	return rec, node
}

func testNodeRecording(t *testing.T, layout kubeletLayout) {
	rec, node := startNodeRecorder(t, layout)

	uid := types.UID("5f1c2d3e-0000-4000-8000-00000000000" + fmt.Sprint(os.Getpid()%10))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: uid},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app"}, {Name: "sidecar"}}},
	}
	layout.mkdir(layout.PodDir(string(uid)))
	sel := Selection{Recording: "web", Namespace: "shop", Kinds: bpf.AllKinds, Containers: []string{"app"}, Pods: []*corev1.Pod{pod}}
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}

	// The runtime starts the sandbox and the containers after the pod's
	// cgroup is watched; the pod status learns their ids later still.
	sandbox := layout.mkdir(layout.ContainerDir(string(uid), randomID(t)))
	appID, sidecarID := randomID(t), randomID(t)
	app := layout.mkdir(layout.ContainerDir(string(uid), appID))
	sidecar := layout.mkdir(layout.ContainerDir(string(uid), sidecarID))
	dir := testDir(t)
	for _, name := range []string{"app-config", "sidecar-config", "sandbox-file"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}
	runIn(t, sandbox, "open-many", filepath.Join(dir, "sandbox-file"), "1")
	runIn(t, app, "open-many", filepath.Join(dir, "app-config"), "3")
	runIn(t, sidecar, "open-many", filepath.Join(dir, "sidecar-config"), "1")

	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "app", ContainerID: "containerd://" + appID, State: running},
		{Name: "sidecar", ContainerID: "containerd://" + sidecarID, State: running},
	}
	node.Select([]Selection{sel})

	snaps, err := node.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].Container != "app" || snaps[0].Pod.Name != "web-1" || snaps[0].Recording != "web" {
		t.Fatalf("snapshots = %+v, want one, of container app", snaps)
	}
	s := snaps[0]
	var files []string
	for _, f := range s.Spec.Files {
		files = append(files, f.Path)
		if f.Path == filepath.Join(dir, "app-config") && f.Count != 3 {
			t.Errorf("app-config opened %d times, want 3", f.Count)
		}
	}
	for _, want := range []string{filepath.Join(dir, "app-config")} {
		if !contains(files, want) {
			t.Errorf("app's profile lacks %s: %v", want, files)
		}
	}
	for _, unwanted := range []string{filepath.Join(dir, "sidecar-config"), filepath.Join(dir, "sandbox-file")} {
		if contains(files, unwanted) {
			t.Errorf("app's profile holds %s, which another container opened", unwanted)
		}
	}
	if s.Source.Node != "node-a" || s.Source.Pod != "web-1" || s.Source.Recording != "web" {
		t.Errorf("source = %+v", s.Source)
	}
	// The sidecar's entries were forgotten in the kernel.
	entries, err := rec.Sweep(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.CgroupID == sidecar.ID {
			t.Errorf("the sidecar's entries are still in the kernel: %+v", e)
			break
		}
	}

	// A recording that ends stops the kernel recording the pod.
	node.Select(nil)
	watched, err := rec.Watched()
	if err != nil {
		t.Fatal(err)
	}
	for id := range watched {
		if id == app.ID || id == sidecar.ID || id == sandbox.ID {
			t.Errorf("cgroup %d still watched after the recording ended", id)
		}
	}
}

// TestANodeRecordsSocketsWithConnectionsWhenARecordingNamesItsKinds: a
// recording that names its kinds (kubectl footprint record names every one
// but sockets, which come with connections) records a container's bind. A
// profile without it would give a policy that refuses the server's own
// listening port on its next start, while its sources say sockets were
// recorded.
func TestANodeRecordsSocketsWithConnectionsWhenARecordingNamesItsKinds(t *testing.T) {
	layout := newKubeletLayout(t)
	_, node := startNodeRecorder(t, layout)
	uid := types.UID(fmt.Sprintf("7a1c2d3e-0000-4000-8000-%012d", os.Getpid()))
	appID := randomID(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: uid},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + appID,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	layout.mkdir(layout.PodDir(string(uid)))
	app := layout.mkdir(layout.ContainerDir(string(uid), appID))
	kinds := bpf.KindSet(0).With(bpf.KindFile).With(bpf.KindConnect)
	sel := Selection{Recording: "web", Namespace: "shop", Kinds: kinds, Pods: []*corev1.Pod{pod}}
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}
	runIn(t, app, "tcp-listen", "127.0.0.1:0")

	snaps, err := node.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 {
		t.Fatalf("snapshots = %+v, want the app's", snaps)
	}
	s := snaps[0]
	if _, ok := s.Source.Backends["sockets"]; !ok {
		t.Fatalf("the source does not name a sockets backend: %v", s.Source.Backends)
	}
	for _, e := range s.Spec.Sockets {
		if e.Operation == v1alpha1.SocketBind && e.Address == "127.0.0.1" && e.Protocol == v1alpha1.ProtocolTCP {
			return
		}
	}
	t.Errorf("the profile has no bind of 127.0.0.1 (sockets %+v), though its source says sockets were recorded", s.Spec.Sockets)
}

// A recording of system calls only has entries with no first sighting:
// its source must keep the start its first snapshot gave it, or each flush
// makes it a new source of the Profile (and a write).
func TestANodeKeepsTheStartOfASourceWhoseEntriesCarryNone(t *testing.T) {
	layout := newKubeletLayout(t)
	_, node := startNodeRecorder(t, layout)
	uid := types.UID(fmt.Sprintf("7a1c2d3e-0000-4000-8001-%012d", os.Getpid()))
	appID := randomID(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: uid},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + appID,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	layout.mkdir(layout.PodDir(string(uid)))
	app := layout.mkdir(layout.ContainerDir(string(uid), appID))
	sel := Selection{Recording: "web", Namespace: "shop", Kinds: bpf.KindSet(0).With(bpf.KindSyscall), Pods: []*corev1.Pod{pod}}
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}
	runIn(t, app, "tcp-listen", "127.0.0.1:0")

	var starts []metav1.Time
	for range 2 {
		snaps, err := node.Snapshots()
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) != 1 || len(snaps[0].Spec.Syscalls) == 0 {
			t.Fatalf("snapshots = %+v, want the app's system calls", snaps)
		}
		starts = append(starts, snaps[0].Source.FirstSeen)
		time.Sleep(1100 * time.Millisecond) // the next second
	}
	if !starts[0].Equal(&starts[1]) {
		t.Errorf("the source started at %s in the first snapshot and at %s in the next: two sources of one pod", starts[0], starts[1])
	}
}

// TestANodeLeavesTheContainerRuntimesSetUpOutOfProfiles starts a container
// the way runc does: its init enters the container's cgroup from outside,
// sets the container up (reads, CAP_SYS_ADMIN), re-executes itself, then
// executes the entrypoint in the container's own mount namespace. Then it
// execs into the running container the same way (kubectl exec). Only what
// the entrypoint and the exec'd command do is the container's profile.
func TestANodeLeavesTheContainerRuntimesSetUpOutOfProfiles(t *testing.T) {
	layout := newKubeletLayoutWith(t, kubelettest.Cgroupfs)
	_, node := startNodeRecorder(t, layout)

	uid := types.UID("7a2b3c4d-0000-4000-8000-00000000000" + fmt.Sprint(os.Getpid()%10))
	appID := randomID(t)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: uid},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app"}}},
	}
	layout.mkdir(layout.PodDir(string(uid)))
	sel := Selection{Recording: "web", Namespace: "shop", Kinds: bpf.AllKinds, Pods: []*corev1.Pod{pod}}
	if problems := node.Select([]Selection{sel}); len(problems) > 0 {
		t.Fatalf("select: %v", problems)
	}
	app := layout.mkdir(layout.ContainerDir(string(uid), appID))
	dir := testDir(t)
	for _, name := range []string{"runtime-start", "runtime-start-2", "entrypoint-config", "runtime-exec", "runtime-exec-2", "exec-config"} {
		writeFile(t, filepath.Join(dir, name), "x")
	}
	runtimeInit := func(first, second string, container []string) {
		t.Helper()
		cmd := helperCommand(t, "runtime-init", append([]string{filepath.Join(dir, first), filepath.Join(dir, second)}, container...)...)
		path, _ := exec.LookPath(cmd[0])
		res, err := cgroupcmd.Run(context.Background(), app, cgroupcmd.Options{Path: path, Args: cmd, Stderr: os.Stderr})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("runtime init: exit %d, %v", res.ExitCode, err)
		}
	}
	runtimeInit("runtime-start", "runtime-start-2", helperCommand(t, "open-many", filepath.Join(dir, "entrypoint-config"), "2"))
	runtimeInit("runtime-exec", "runtime-exec-2", helperCommand(t, "open-many", filepath.Join(dir, "exec-config"), "1"))

	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + appID,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	node.Select([]Selection{sel})
	snaps, err := node.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 {
		t.Fatalf("snapshots = %+v, want one, of container app", snaps)
	}
	var files []string
	for _, f := range snaps[0].Spec.Files {
		files = append(files, f.Path)
	}
	for _, want := range []string{"entrypoint-config", "exec-config"} {
		if !contains(files, filepath.Join(dir, want)) {
			t.Errorf("the profile lacks %s, which the container opened: %v", want, files)
		}
	}
	for _, unwanted := range []string{"runtime-start", "runtime-start-2", "runtime-exec", "runtime-exec-2"} {
		if contains(files, filepath.Join(dir, unwanted)) {
			t.Errorf("the profile holds %s, which the runtime's init opened", unwanted)
		}
	}
	for _, c := range snaps[0].Spec.Capabilities {
		if c.Name == "CAP_SYS_ADMIN" && !c.Probe {
			t.Errorf("the profile holds CAP_SYS_ADMIN (%+v): the runtime's init unshared the mount namespace, not the container", c)
		}
	}
}

func mustMount(t *testing.T) string {
	m, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
