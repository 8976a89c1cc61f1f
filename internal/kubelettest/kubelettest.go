// Package kubelettest lays out cgroups the way kubelet (cgroupfs driver)
// and containerd do, under a root of a test's own, so that the node agent's
// kernel side can be tested with real processes in real cgroups.
package kubelettest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// Driver is kubelet's cgroup driver.
type Driver string

const (
	// Cgroupfs: Root/kubepods/burstable/pod<uid>/<container id>.
	Cgroupfs Driver = "cgroupfs"
	// Systemd: Root/kubepods.slice/kubepods-burstable.slice/
	// kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope.
	Systemd Driver = "systemd"
)

// Layout is a kubelet-like cgroup tree for Burstable pods run by containerd.
type Layout struct {
	Root   string
	Driver Driver
	t      testing.TB
}

// New creates a cgroupfs-driver tree (see NewWithDriver).
func New(t testing.TB) Layout { return NewWithDriver(t, Cgroupfs) }

// NewWithDriver creates the tree's root and kubepods under the cgroup v2
// mount, laid out by driver, and removes everything below it when the test
// ends.
func NewWithDriver(t testing.TB, driver Driver) Layout {
	t.Helper()
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	l := Layout{Root: filepath.Join(mount, fmt.Sprintf("footprint-test-%d-%s", os.Getpid(), name)), Driver: driver, t: t}
	if driver == Systemd {
		l.Mkdir("kubepods.slice/kubepods-burstable.slice")
	} else {
		l.Mkdir("kubepods/burstable")
		l.Mkdir("kubepods/besteffort")
	}
	t.Cleanup(func() {
		// Deepest first: a cgroup with children cannot go.
		for _, pattern := range []string{"*/*/*/*/*", "*/*/*/*", "*/*/*", "*/*", "*", ""} {
			matches, _ := filepath.Glob(filepath.Join(l.Root, pattern))
			for i := len(matches) - 1; i >= 0; i-- {
				if fi, err := os.Stat(matches[i]); err == nil && fi.IsDir() {
					os.Remove(matches[i])
				}
			}
		}
	})
	return l
}

// Mkdir creates a cgroup at rel below the root.
func (l Layout) Mkdir(rel string) *cgroupfs.Cgroup {
	l.t.Helper()
	cg, err := cgroupfs.Create(filepath.Join(l.Root, rel))
	if err != nil {
		l.t.Fatal(err)
	}
	return cg
}

// PodDir is where kubelet puts a Burstable pod's cgroup, relative to Root.
func (l Layout) PodDir(uid string) string {
	if l.Driver == Systemd {
		return "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice"
	}
	return "kubepods/burstable/pod" + uid
}

// ContainerDir is where containerd puts a container's cgroup, relative to
// Root.
func (l Layout) ContainerDir(podUID, id string) string {
	if l.Driver == Systemd {
		return l.PodDir(podUID) + "/cri-containerd-" + id + ".scope"
	}
	return l.PodDir(podUID) + "/" + id
}

// ContainerID returns a random 64-hex container id, as containerd makes.
func ContainerID(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
