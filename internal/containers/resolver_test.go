package containers

import (
	"errors"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Every layout: both cgroup drivers, the three runtimes, the three QoS
// classes, and kubelet's --cgroup-root (kind's /kubelet, and a nested one).
// Each case lays out a pod the way kubelet and the runtime do, with a pod
// status to match, and resolves it both ways.
func TestResolverFindsPodAndContainerCgroupsInEveryLayout(t *testing.T) {
	for _, driver := range []string{"cgroupfs", "systemd"} {
		for _, rt := range runtimes {
			for _, cgroupRoot := range [][]string{nil, {"kubelet"}, {"custom", "nested"}} {
				for _, qos := range []corev1.PodQOSClass{corev1.PodQOSGuaranteed, corev1.PodQOSBurstable, corev1.PodQOSBestEffort} {
					n := node{driver: driver, cgroupRoot: cgroupRoot, runtime: rt}
					t.Run(strings.ReplaceAll(n.String(), " ", "_")+"/"+string(qos), func(t *testing.T) {
						testLayout(t, n, qos)
					})
				}
			}
		}
	}
}

func testLayout(t *testing.T, n node, qos corev1.PodQOSClass) {
	mount, root := testRoot(t)
	pod := podWith(qos)
	ids := map[string]string{}
	for _, c := range []string{"setup", "app", "sidecar", "restarting", "debug", "sandbox"} {
		ids[c] = newID(t)
	}
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup"}}
	pod.Spec.Containers = []corev1.Container{{Name: "app"}, {Name: "sidecar"}, {Name: "late"}, {Name: "restarting"}}
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{status("setup", n.containerID(ids["setup"]), terminated)}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		status("app", n.containerID(ids["app"]), running),
		status("sidecar", n.containerID(ids["sidecar"]), running),
		status("late", "", waiting),
		status("restarting", n.containerID(ids["restarting"]), crashLoop),
	}
	pod.Status.EphemeralContainerStatuses = []corev1.ContainerStatus{status("debug", n.containerID(ids["debug"]), running)}

	// kubelet creates the pod cgroup; the runtime creates the sandbox's and
	// the running containers' cgroups in it. The init container has exited
	// and its cgroup is gone; "late" and "restarting" have none yet.
	podCg := mkcg(t, filepath.Join(root, n.podDir(qos, pod.UID)))
	sandbox := mkcg(t, filepath.Join(podCg.Path, n.containerDir(ids["sandbox"])))
	created := map[string]Cgroup{}
	for _, c := range []string{"app", "sidecar", "debug"} {
		created[c] = mkcg(t, filepath.Join(podCg.Path, n.containerDir(ids[c])))
	}
	var conmon Cgroup
	if n.runtime == CRIO {
		conmon = mkcg(t, filepath.Join(podCg.Path, n.conmonDir(ids["app"])))
	}

	r := NewResolver(root)
	got, err := r.PodCgroup(pod)
	if err != nil {
		t.Fatal(err)
	}
	if got != podCg {
		t.Fatalf("PodCgroup = %+v, want %+v", got, podCg)
	}

	containers, err := r.ContainerCgroups(pod)
	if err != nil {
		t.Fatal(err)
	}
	want := []Container{
		{Name: "setup", Init: true, Runtime: n.runtime, ID: ids["setup"], State: CgroupGone},
		{Name: "app", Runtime: n.runtime, ID: ids["app"], State: CgroupPresent, Cgroup: created["app"]},
		{Name: "sidecar", Runtime: n.runtime, ID: ids["sidecar"], State: CgroupPresent, Cgroup: created["sidecar"]},
		{Name: "late", State: CgroupNotStarted},
		{Name: "restarting", Runtime: n.runtime, ID: ids["restarting"], State: CgroupNotStarted},
		{Name: "debug", Ephemeral: true, Runtime: n.runtime, ID: ids["debug"], State: CgroupPresent, Cgroup: created["debug"]},
	}
	if len(containers) != len(want) {
		t.Fatalf("ContainerCgroups = %+v\nwant %+v", containers, want)
	}
	for i := range want {
		if containers[i] != want[i] {
			t.Errorf("container %d = %+v\nwant %+v", i, containers[i], want[i])
		}
	}

	// Back from paths, absolute or as /proc/PID/cgroup shows them.
	identify := map[string]string{podCg.Path: "", sandbox.Path: ids["sandbox"]}
	for c, cg := range created {
		identify[cg.Path] = ids[c]
	}
	if conmon.Path != "" {
		identify[conmon.Path] = "" // CRI-O's monitor, not the container
	}
	for p, wantID := range identify {
		for _, p := range []string{p, rel(t, mount, p)} {
			uid, cid, ok := r.Identify(p)
			if !ok || uid != pod.UID || cid != wantID {
				t.Errorf("Identify(%s) = %s, %q, %v; want %s, %q, true", p, uid, cid, ok, pod.UID, wantID)
			}
		}
	}
	id, _ := ParsePath(created["app"].Path)
	if id.QOSClass != qos || id.PodCgroup != podCg.Path || id.ContainerCgroup != created["app"].Path {
		t.Errorf("ParsePath(%s) = %+v; want QoS %s, pod cgroup %s", created["app"].Path, id, qos, podCg.Path)
	}
	if n.driver == "systemd" && id.Runtime != n.runtime {
		t.Errorf("ParsePath(%s).Runtime = %q, want %q", created["app"].Path, id.Runtime, n.runtime)
	}
}

func TestParseContainerIDReadsRuntimeAndID(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name, in    string
		wantRuntime Runtime
		wantErr     string // substring; "" for success
	}{
		{name: "containerd", in: "containerd://" + id, wantRuntime: Containerd},
		{name: "cri-o", in: "cri-o://" + id, wantRuntime: CRIO},
		{name: "docker", in: "docker://" + id, wantRuntime: Docker},
		{name: "empty means not created", in: "", wantErr: "empty (the container has not been created yet)"},
		{name: "no scheme", in: id, wantErr: "want <runtime>://<id> as in pod status"},
		{name: "unknown runtime", in: "rkt://" + id, wantErr: `runtime "rkt" is not supported (supported: containerd, cri-o, docker)`},
		{name: "empty id", in: "containerd://", wantErr: `id "" is not 64 lowercase hex digits`},
		{name: "short id", in: "docker://0123abcd", wantErr: `id "0123abcd" is not 64 lowercase hex digits, which docker generates`},
		{name: "upper case", in: "containerd://" + strings.ToUpper(id), wantErr: "is not 64 lowercase hex digits"},
		{name: "path in id", in: "cri-o://../../" + id[6:], wantErr: "is not 64 lowercase hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, got, err := ParseContainerID(tt.in)
			if tt.wantErr == "" {
				if err != nil || rt != tt.wantRuntime || got != id {
					t.Fatalf("ParseContainerID(%q) = %q, %q, %v; want %q, %q", tt.in, rt, got, err, tt.wantRuntime, id)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadContainerID) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseContainerID(%q) error = %v; want ErrBadContainerID saying %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestIdentifyReadsPathsWithoutTakingStrayNamesForPods(t *testing.T) {
	const uid, uidU = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", "0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9"
	const static = "5f2b8e0c1d3a4b6c7d8e9f0a1b2c3d4e"
	id := strings.Repeat("fedcba9876543210", 4)
	other := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name, path string
		wantOK     bool
		wantUID    string
		wantID     string
		wantQoS    corev1.PodQOSClass
	}{
		{"cgroupfs guaranteed", "/kubepods/pod" + uid + "/" + id, true, uid, id, corev1.PodQOSGuaranteed},
		{"cgroupfs besteffort under the mount", "/sys/fs/cgroup/kubepods/besteffort/pod" + uid + "/" + id, true, uid, id, corev1.PodQOSBestEffort},
		{"cgroupfs crio", "/kubepods/burstable/pod" + uid + "/crio-" + id, true, uid, id, corev1.PodQOSBurstable},
		{"systemd containerd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + id + ".scope", true, uid, id, corev1.PodQOSBurstable},
		{"systemd guaranteed docker", "/kubepods.slice/kubepods-pod" + uidU + ".slice/docker-" + id + ".scope", true, uid, id, corev1.PodQOSGuaranteed},
		{"kind's cgroup-root", "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + id + ".scope", true, uid, id, corev1.PodQOSBestEffort},
		{"crun's container child", "/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + id + ".scope/container", true, uid, id, corev1.PodQOSGuaranteed},
		{"nested cgroups in the container", "/kubepods/pod" + uid + "/" + id + "/init.scope/x", true, uid, id, corev1.PodQOSGuaranteed},
		{"static pod hash", "/kubepods/burstable/pod" + static + "/" + id, true, static, id, corev1.PodQOSBurstable},
		{"another cgroup namespace", "/../../kubepods/pod" + uid + "/" + id, true, uid, id, corev1.PodQOSGuaranteed},
		{"pod cgroup itself", "/kubepods/pod" + uid, true, uid, "", corev1.PodQOSGuaranteed},
		{"crio conmon", "/kubepods/pod" + uid + "/crio-conmon-" + id, true, uid, "", corev1.PodQOSGuaranteed},
		{"unknown child", "/kubepods/pod" + uid + "/something", true, uid, "", corev1.PodQOSGuaranteed},
		{"innermost of nested pods", "/kubepods/pod" + uid + "/" + other + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + strings.ReplaceAll(static, "-", "_") + ".slice/cri-containerd-" + id + ".scope", true, static, id, corev1.PodQOSGuaranteed},
		{"kubepods itself", "/kubepods/burstable", false, "", "", ""},
		{"a service", "/system.slice/containerd.service", false, "", "", ""},
		{"pod-like name outside kubepods", "/mine/pod" + uid + "/" + id, false, "", "", ""},
		{"qos-like dir outside kubepods", "/mine/burstable/pod" + uid + "/" + id, false, "", "", ""},
		{"slice not under its parent slice", "/kubepods.slice/kubepods-burstable-pod" + uidU + ".slice/" + id, false, "", "", ""},
		{"not a uid", "/kubepods/podxyz/" + id, false, "", "", ""},
	}
	r := NewResolver("/sys/fs/cgroup")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotUID, gotID, ok := r.Identify(tt.path)
			if ok != tt.wantOK || string(gotUID) != tt.wantUID || gotID != tt.wantID {
				t.Fatalf("Identify(%s) = %q, %q, %v; want %q, %q, %v", tt.path, gotUID, gotID, ok, tt.wantUID, tt.wantID, tt.wantOK)
			}
			if got, _ := ParsePath(tt.path); got.QOSClass != tt.wantQoS {
				t.Fatalf("ParsePath(%s).QOSClass = %q, want %q", tt.path, got.QOSClass, tt.wantQoS)
			}
		})
	}
}

func TestPodCgroupErrorsSayWhatWasLookedForAndWhere(t *testing.T) {
	_, root := testRoot(t)
	cgroupfsNode := filepath.Join(root, "cgroupfs-node")
	systemdNode := filepath.Join(root, "systemd-node")
	empty := filepath.Join(root, "empty")
	mkcg(t, filepath.Join(cgroupfsNode, "kubepods", "burstable"))
	mkcg(t, filepath.Join(systemdNode, "kubepods.slice", "kubepods-besteffort.slice"))
	mkcg(t, empty)

	pod := podWith(corev1.PodQOSBurstable)
	uid := string(pod.UID)
	underscored := strings.ReplaceAll(uid, "-", "_")
	noUID := podWith(corev1.PodQOSBurstable)
	noUID.UID = ""
	badUID := podWith(corev1.PodQOSBurstable)
	badUID.UID = "../../etc"

	tests := []struct {
		name     string
		root     string
		pod      *corev1.Pod
		notFound bool
		want     []string
	}{
		{"pod missing under the cgroupfs layout", cgroupfsNode, pod, true, []string{
			"pod default/web-0 (uid " + uid + ", Burstable)",
			"no cgroup burstable/pod" + uid + " under " + filepath.Join(cgroupfsNode, "kubepods"),
			"not started on this node yet or is gone",
			"is kubelet's cgroup driver systemd or cgroupfs, and is cgroup v2 mounted at " + cgroupfsNode,
		}},
		{"pod missing under the systemd layout", systemdNode, pod, true, []string{
			"no cgroup kubepods-burstable.slice/kubepods-burstable-pod" + underscored + ".slice under " + filepath.Join(systemdNode, "kubepods.slice"),
		}},
		{"no kubepods at all", empty, pod, true, []string{
			"pod default/web-0 (uid " + uid + ", Burstable)",
			"no kubepods cgroup (kubepods for kubelet's cgroupfs driver, kubepods.slice for systemd) within 4 levels under " + empty,
			"is kubelet running on this node",
		}},
		{"root is not cgroup v2", t.TempDir(), pod, false, []string{"is not a cgroup v2 filesystem", "/proc/self/mountinfo says where"}},
		{"root does not exist", filepath.Join(empty, "nope"), pod, false, []string{"cgroup root " + filepath.Join(empty, "nope"), "no such file or directory"}},
		{"pod without uid", cgroupfsNode, noUID, false, []string{"pod default/web-0 has no UID"}},
		{"uid kubelet would not name a cgroup after", cgroupfsNode, badUID, false, []string{"uid ../../etc", "neither a UUID nor a static pod's 32 hex digit hash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewResolver(tt.root)
			_, err := r.PodCgroup(tt.pod)
			if err == nil {
				t.Fatal("PodCgroup found a cgroup")
			}
			if errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.notFound, tt.notFound)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if _, err := r.ContainerCgroups(tt.pod); err == nil || errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("ContainerCgroups error = %v; want the same kind as PodCgroup's", err)
			}
		})
	}
}

func TestContainerCgroupsRefusesContainerIDsItCannotRead(t *testing.T) {
	_, root := testRoot(t)
	n := node{driver: "cgroupfs", runtime: Containerd}
	pod := podWith(corev1.PodQOSBestEffort)
	mkcg(t, filepath.Join(root, n.podDir(corev1.PodQOSBestEffort, pod.UID)))
	pod.Spec.Containers = []corev1.Container{{Name: "app"}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", "rkt://"+newID(t), running)}

	_, err := NewResolver(root).ContainerCgroups(pod)
	if !errors.Is(err, ErrBadContainerID) || !strings.Contains(err.Error(), `container "app"`) || !strings.Contains(err.Error(), `runtime "rkt" is not supported`) {
		t.Fatalf("ContainerCgroups error = %v; want ErrBadContainerID naming container \"app\" and the runtime", err)
	}
}

func TestMirrorPodResolvesToItsStaticPodsCgroup(t *testing.T) {
	_, root := testRoot(t)
	n := node{driver: "systemd", runtime: Containerd}
	const hash = "5f2b8e0c1d3a4b6c7d8e9f0a1b2c3d4e"
	pod := podWith(corev1.PodQOSBurstable)
	pod.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: hash}
	want := mkcg(t, filepath.Join(root, n.podDir(corev1.PodQOSBurstable, hash)))

	r := NewResolver(root)
	got, err := r.PodCgroup(pod)
	if err != nil || got != want {
		t.Fatalf("PodCgroup = %+v, %v; want %+v", got, err, want)
	}
	if uid, _, ok := r.Identify(want.Path); !ok || uid != hash {
		t.Fatalf("Identify(%s) = %s, %v; want the static pod's hash %s", want.Path, uid, ok, hash)
	}
}

func TestPodCgroupFoundWhenItsQoSClassIsNotInStatusYet(t *testing.T) {
	_, root := testRoot(t)
	n := node{driver: "cgroupfs", runtime: Containerd}
	pod := podWith(corev1.PodQOSBestEffort)
	want := mkcg(t, filepath.Join(root, n.podDir(corev1.PodQOSBestEffort, pod.UID)))
	pod.Status.QOSClass = ""
	got, err := NewResolver(root).PodCgroup(pod)
	if err != nil || got != want {
		t.Fatalf("PodCgroup = %+v, %v; want %+v", got, err, want)
	}
}

func TestKubepodsSearchIsBounded(t *testing.T) {
	_, root := testRoot(t)
	n := node{driver: "cgroupfs", runtime: Containerd}
	tests := []struct {
		name       string
		cgroupRoot []string
		found      bool
	}{
		{"at the root", nil, true},
		{"at the deepest level searched", []string{"a", "b", "c"}, true},
		{"deeper than searched", []string{"a", "b", "c", "d"}, false},
		{"inside a scope (a nested kubelet's)", []string{"system.slice", "docker-x.scope"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodeRoot := filepath.Join(root, strings.ReplaceAll(tt.name, " ", "_"))
			n.cgroupRoot = tt.cgroupRoot
			pod := podWith(corev1.PodQOSGuaranteed)
			mkcg(t, filepath.Join(nodeRoot, n.podDir(corev1.PodQOSGuaranteed, pod.UID)))
			r := NewResolver(nodeRoot)
			_, err := r.PodCgroup(pod)
			if (err == nil) != tt.found {
				t.Fatalf("PodCgroup error = %v; want found %v", err, tt.found)
			}
			bases, _ := r.Kubepods()
			if tt.found && (len(bases) != 1 || bases[0] != path.Join(nodeRoot, path.Join(tt.cgroupRoot...), "kubepods")) {
				t.Fatalf("Kubepods() = %q", bases)
			}
		})
	}
}

func TestResolverFindsKubepodsAgainWhenKubeletMovesIt(t *testing.T) {
	_, root := testRoot(t)
	pod := podWith(corev1.PodQOSBurstable)
	r := NewResolver(root)

	// Before kubelet has run: nothing, and nothing cached.
	if _, err := r.PodCgroup(pod); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PodCgroup error = %v, want ErrNotFound", err)
	}
	before := node{driver: "cgroupfs", runtime: Containerd}
	podCg := mkcg(t, filepath.Join(root, before.podDir(corev1.PodQOSBurstable, pod.UID)))
	if got, err := r.PodCgroup(pod); err != nil || got != podCg {
		t.Fatalf("PodCgroup = %+v, %v; want %+v", got, err, podCg)
	}
	// Pod cgroups created after kubepods was cached are found.
	later := podWith(corev1.PodQOSGuaranteed)
	laterCg := mkcg(t, filepath.Join(root, before.podDir(corev1.PodQOSGuaranteed, later.UID)))
	if got, err := r.PodCgroup(later); err != nil || got != laterCg {
		t.Fatalf("PodCgroup = %+v, %v; want %+v", got, err, laterCg)
	}

	// kubelet restarted with the systemd driver and --cgroup-root=/kubelet.
	if err := podCg.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := (&Cgroup{Path: filepath.Join(root, "kubepods")}).Remove(); err != nil {
		t.Fatal(err)
	}
	after := node{driver: "systemd", cgroupRoot: []string{"kubelet"}, runtime: Containerd}
	moved := mkcg(t, filepath.Join(root, after.podDir(corev1.PodQOSBurstable, pod.UID)))
	if got, err := r.PodCgroup(pod); err != nil || got != moved {
		t.Fatalf("PodCgroup after kubelet moved = %+v, %v; want %+v", got, err, moved)
	}
}

// A container is covered from its first instruction because the agent
// resolves and watches the pod cgroup before the runtime creates the
// container's cgroup beneath it. Here a real process is cloned straight
// into the container's cgroup (as runc does) and /proc/PID/cgroup maps
// back to the pod and container.
func TestProcessInContainerCgroupIsIdentifiedAndUnderThePodCgroup(t *testing.T) {
	tests := []struct {
		name  string
		n     node
		child string // crun's child of the container's scope, if any
	}{
		{"cgroupfs containerd", node{driver: "cgroupfs", runtime: Containerd}, ""},
		{"systemd docker", node{driver: "systemd", runtime: Docker}, ""},
		{"systemd CRI-O with crun's container child", node{driver: "systemd", cgroupRoot: []string{"kubelet"}, runtime: CRIO}, "container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount, root := testRoot(t)
			pod := podWith(corev1.PodQOSBurstable)
			pod.Spec.Containers = []corev1.Container{{Name: "app"}}
			r := NewResolver(root)

			// kubelet creates the pod cgroup; the agent resolves it before
			// any container exists.
			podCg := mkcg(t, filepath.Join(root, tt.n.podDir(corev1.PodQOSBurstable, pod.UID)))
			watched, err := r.PodCgroup(pod)
			if err != nil || watched != podCg {
				t.Fatalf("PodCgroup = %+v, %v; want %+v", watched, err, podCg)
			}
			containers, err := r.ContainerCgroups(pod)
			if err != nil || len(containers) != 1 || containers[0].State != CgroupNotStarted {
				t.Fatalf("ContainerCgroups before start = %+v, %v; want app not started", containers, err)
			}

			// The runtime creates the container cgroup and starts the
			// container's first process directly in it.
			id := newID(t)
			ctrCg := mkcg(t, filepath.Join(podCg.Path, tt.n.containerDir(id)))
			procCg := ctrCg
			if tt.child != "" {
				procCg = mkcg(t, filepath.Join(ctrCg.Path, tt.child))
			}
			pid := startIn(t, procCg)
			pod.Status.ContainerStatuses = []corev1.ContainerStatus{status("app", tt.n.containerID(id), running)}

			p, err := ProcessCgroup(pid)
			if err != nil {
				t.Fatal(err)
			}
			if want := rel(t, mount, procCg.Path); p != want {
				t.Fatalf("/proc/%d/cgroup says %s, want %s", pid, p, want)
			}
			if !strings.HasPrefix(filepath.Join(mount, p), watched.Path+"/") {
				t.Errorf("process cgroup %s is not under the watched pod cgroup %s", p, watched.Path)
			}
			uid, cid, ok := r.Identify(p)
			if !ok || uid != pod.UID || cid != id {
				t.Errorf("Identify(%s) = %s, %q, %v; want %s, %q", p, uid, cid, ok, pod.UID, id)
			}
			if got, _ := ParsePath(p); got.ContainerCgroup != rel(t, mount, ctrCg.Path) {
				t.Errorf("ParsePath(%s).ContainerCgroup = %s, want %s", p, got.ContainerCgroup, rel(t, mount, ctrCg.Path))
			}
			containers, err = r.ContainerCgroups(pod)
			if err != nil || len(containers) != 1 || containers[0].State != CgroupPresent || containers[0].Cgroup != ctrCg {
				t.Fatalf("ContainerCgroups after start = %+v, %v; want app in %+v", containers, err, ctrCg)
			}
		})
	}
}

// startIn clones a sleeping process straight into cg and kills it when the
// test ends (before the cgroups are removed).
func startIn(t *testing.T, cg Cgroup) int {
	t.Helper()
	dir, err := cg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(dir.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process in %s: %v", cg.Path, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}
