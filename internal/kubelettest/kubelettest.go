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

	"github.com/footprint-dev/footprint/recorder/cgroupfs"
)

// Layout is a kubelet-like cgroup tree: Root/kubepods/{burstable,besteffort}/pod<uid>/<container id>.
type Layout struct {
	Root string
	t    testing.TB
}

// New creates the tree's root and kubepods under the cgroup v2 mount, and
// removes everything below it when the test ends.
func New(t testing.TB) Layout {
	t.Helper()
	mount, err := cgroupfs.Mount()
	if err != nil {
		t.Fatal(err)
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	l := Layout{Root: filepath.Join(mount, fmt.Sprintf("footprint-test-%d-%s", os.Getpid(), name)), t: t}
	l.Mkdir("kubepods/burstable")
	l.Mkdir("kubepods/besteffort")
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

// PodDir is where kubelet puts a Burstable pod's cgroup.
func PodDir(uid string) string { return "kubepods/burstable/pod" + uid }

// ContainerID returns a random 64-hex container id, as containerd makes.
func ContainerID(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
