package enforcer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/internal/cgroupfs"
	"github.com/footprint-dev/footprint/internal/containers"
)

// defaultBundleDirs are where containerd and CRI-O keep a container's OCI
// config, which carries the container's name from its creation on: the
// node's /run as the DaemonSet mounts it at /host/run, and as seen by an
// agent running on the node itself.
var defaultBundleDirs = []string{
	"/host/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
	"/host/run/containers/storage/overlay-containers/%s/userdata/config.json",
	"/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
	"/run/containers/storage/overlay-containers/%s/userdata/config.json",
}

// classifyLoop classifies pending containers until ctx ends.
func (c *PolicyController) classifyLoop(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.classify(ctx)
			c.recontinue()
		}
	}
}

// recontinueFor is how long a classified container keeps getting SIGCONT:
// its exec may have read the pending hold just before classify replaced it
// and send its SIGSTOP just after classify's SIGCONT.
const recontinueFor = 2 * time.Second

func (c *PolicyController) recontinue() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for dir, at := range c.continued {
		if time.Since(at) > recontinueFor {
			delete(c.continued, dir)
			continue
		}
		continueCgroup(dir)
	}
}

// classify decides, for each container cgroup created below a pod held
// for a policy of named containers, whether the policy applies (one of its
// containers) or not (another container, the pod sandbox), and continues
// the container, which its first exec stopped. A container whose name is
// not known yet stays stopped: the hold fails closed.
func (c *PolicyController) classify(ctx context.Context) {
	c.mu.Lock()
	named := len(c.named)
	c.mu.Unlock()
	if named == 0 {
		return // no pending holds: spare the map walk every tick
	}
	pending, err := c.Enforcer.PendingCgroups()
	if err != nil || len(pending) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ref := range c.cgroupPods {
		if ref.cgroup == "" {
			continue
		}
		for _, dir := range childDirs(ref.cgroup) {
			id, err := cgroupfs.ID(dir)
			if err != nil {
				continue
			}
			policy, ok := pending[id]
			if !ok {
				continue
			}
			name, known := c.containerName(ctx, ref, dir)
			if !known {
				continue
			}
			if name != "" && slices.Contains(c.named[policy], name) {
				err = c.Enforcer.EnforceCgroup(id, policy, bpf.Hold{Live: true, Containers: true})
			} else {
				err = c.Enforcer.ReleaseCgroup(id)
			}
			if err != nil {
				c.Log.Error(err, "classify a container", "cgroup", dir)
				continue
			}
			c.Log.V(1).Info("classified a container", "pod", ref.pod, "container", name, "held", name != "" && slices.Contains(c.named[policy], name))
			continueCgroup(dir)
			c.continued[dir] = time.Now()
		}
	}
}

// containerName names the container of a cgroup below a pod's: from the
// pod's status when it lists the id, else from the runtime's OCI config.
// known is false when neither says yet; "" with known true is the sandbox.
func (c *PolicyController) containerName(ctx context.Context, ref podRef, dir string) (string, bool) {
	id, ok := containers.ParsePath(dir)
	if !ok || id.ContainerID == "" {
		return "", false
	}
	var pod corev1.Pod
	if err := c.Client.Get(ctx, ref.pod, &pod); err == nil {
		for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
			for _, cs := range list {
				if strings.HasSuffix(cs.ContainerID, "://"+id.ContainerID) {
					return cs.Name, true
				}
			}
		}
	}
	dirs := c.BundleDirs
	if len(dirs) == 0 {
		dirs = defaultBundleDirs
	}
	for _, pattern := range dirs {
		data, err := os.ReadFile(fmt.Sprintf(pattern, id.ContainerID))
		if err != nil {
			continue
		}
		var spec struct {
			Annotations map[string]string `json:"annotations"`
		}
		if json.Unmarshal(data, &spec) != nil {
			continue
		}
		a := spec.Annotations
		if a["io.kubernetes.cri.container-type"] == "sandbox" || a["io.kubernetes.cri-o.ContainerType"] == "sandbox" {
			return "", true
		}
		for _, key := range []string{"io.kubernetes.cri.container-name", "io.kubernetes.container.name"} {
			if name := a[key]; name != "" {
				return name, true
			}
		}
	}
	return "", false
}

// childDirs lists the cgroups directly below dir.
func childDirs(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// continueCgroup sends SIGCONT to every process in a cgroup and below.
func continueCgroup(dir string) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGCONT)
			}
		}
		return nil
	})
}
