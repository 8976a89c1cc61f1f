package containers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// testRoot makes a fresh directory under the real cgroup2 mount for one
// test and removes it, with everything created beneath it, when the test
// ends. It returns the mount and the directory.
func testRoot(t *testing.T) (mount, root string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating cgroups needs root")
	}
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Skipf("no cgroup v2: %v", err)
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	cg, err := cgroupfs.Create(filepath.Join(mount, fmt.Sprintf("footprint-test-%d", os.Getpid()), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cg.Remove(); err != nil {
			t.Errorf("clean up: %v", err)
		}
		os.Remove(filepath.Dir(cg.Path)) // the per-process prefix, once empty
	})
	return mount, cg.Path
}

// mkcg creates a cgroup (and its parents) as kubelet or a runtime would.
// testRoot's clean-up removes it.
func mkcg(t *testing.T, dir string) Cgroup {
	t.Helper()
	cg, err := cgroupfs.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	return *cg
}

// newID makes a container id the way containerd, CRI-O and Docker do.
func newID(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// node is one node's cgroup layout: kubelet's cgroup driver and
// --cgroup-root, and the container runtime. Its methods compute paths the
// way kubelet's cgroup manager and the runtimes do, independently of the
// package under test.
type node struct {
	driver     string   // "cgroupfs" or "systemd"
	cgroupRoot []string // kubelet's --cgroup-root, split; nil for "/"
	runtime    Runtime
}

func (n node) String() string {
	root := "/" + strings.Join(n.cgroupRoot, "/")
	return fmt.Sprintf("%s driver, %s, cgroup-root %s", n.driver, n.runtime, root)
}

// podDir is the pod cgroup relative to the cgroup root. kubelet names it
// [root..., kubepods, qos, pod<uid>] (qos left out for Guaranteed); the
// cgroupfs driver joins that as a path, the systemd driver turns each
// prefix into a slice, escaping "-" in components as "_".
func (n node) podDir(qos corev1.PodQOSClass, uid types.UID) string {
	name := append(append([]string{}, n.cgroupRoot...), "kubepods")
	switch qos {
	case corev1.PodQOSBurstable:
		name = append(name, "burstable")
	case corev1.PodQOSBestEffort:
		name = append(name, "besteffort")
	}
	name = append(name, "pod"+string(uid))
	if n.driver == "cgroupfs" {
		return path.Join(name...)
	}
	var dirs []string
	unit := ""
	for _, c := range name {
		if unit != "" {
			unit += "-"
		}
		unit += strings.ReplaceAll(c, "-", "_")
		dirs = append(dirs, unit+".slice")
	}
	return path.Join(dirs...)
}

// containerDir is the name the runtime gives a container's cgroup in the
// pod cgroup.
func (n node) containerDir(id string) string {
	if n.driver == "cgroupfs" {
		if n.runtime == CRIO {
			return "crio-" + id
		}
		return id
	}
	return map[Runtime]string{Containerd: "cri-containerd-", CRIO: "crio-", Docker: "docker-"}[n.runtime] + id + ".scope"
}

// conmonDir is CRI-O's cgroup for the monitor of a container.
func (n node) conmonDir(id string) string {
	if n.driver == "cgroupfs" {
		return "crio-conmon-" + id
	}
	return "crio-conmon-" + id + ".scope"
}

// containerID is how pod status shows the container.
func (n node) containerID(id string) string { return string(n.runtime) + "://" + id }

// podWith returns a pod of the QoS class with a fresh UID.
func podWith(qos corev1.PodQOSClass) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-0", UID: uuid.NewUUID()},
		Status:     corev1.PodStatus{QOSClass: qos},
	}
}

var (
	running    = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	terminated = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	waiting    = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	crashLoop  = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
)

func status(name, containerID string, state corev1.ContainerState) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, ContainerID: containerID, State: state}
}

// rel is a cgroup's path as /proc/PID/cgroup shows it.
func rel(t *testing.T, mount, p string) string {
	t.Helper()
	r, err := filepath.Rel(mount, p)
	if err != nil {
		t.Fatal(err)
	}
	return "/" + r
}
