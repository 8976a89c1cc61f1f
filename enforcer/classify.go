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

	"github.com/go-logr/logr"
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

// classifyLoop classifies pending containers until ctx ends: every
// classifyTick while a policy names containers or containers are being
// continued, and otherwise when woken (wakeClassifier) or every
// classifyIdle. A node that holds nothing by name has its agent woken once
// a second, not fifty times.
func (c *PolicyController) classifyLoop(ctx context.Context) {
	t := time.NewTimer(classifyTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.classifyWake:
		}
		c.classify(ctx)
		c.recontinue()
		c.mu.Lock()
		busy := len(c.named) > 0 || len(c.continued) > 0
		c.mu.Unlock()
		next := classifyIdle
		if busy {
			next = classifyTick
		}
		t.Reset(next)
	}
}

// classifyTick is how soon a held container's first exec, stopped until its
// name is known, is looked at; classifyIdle how often the classifier looks
// when nothing is held by name (a missed wake costs at most that).
const (
	classifyTick = 20 * time.Millisecond
	classifyIdle = time.Second
)

// wakeClassifier has the classifier look now. c.mu may be held.
func (c *PolicyController) wakeClassifier() {
	select {
	case c.classifyWake <- struct{}{}:
	default: // a wake is pending already
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

// pendingContainer is a container's cgroup below a pod held for a policy
// of named containers, stopped at its first exec until it is classified.
type pendingContainer struct {
	id     uint64
	dir    string
	policy uint32
	ref    podRef
	// name is the container's name ("" for the pod sandbox) once known.
	name  string
	known bool
}

// classify decides, for each container cgroup created below a pod held
// for a policy of named containers, whether the policy applies (one of its
// containers) or not (another container, the pod sandbox), and continues
// the container, which its first exec stopped. A container whose name is
// not known yet stays stopped: the hold fails closed. Names are looked up
// (pod status, OCI config) without the controller's lock; the decision is
// made under it, for containers whose pod is still held for that policy.
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
	var found []pendingContainer
	for _, ref := range c.cgroupPods {
		if ref.cgroup == "" {
			continue
		}
		for _, dir := range childDirs(ref.cgroup) {
			if id, err := cgroupfs.ID(dir); err == nil {
				if policy, ok := pending[id]; ok {
					found = append(found, pendingContainer{id: id, dir: dir, policy: policy, ref: ref})
				}
			}
		}
	}
	c.mu.Unlock()
	for i := range found {
		found[i].name, found[i].known = c.containerName(ctx, found[i].ref, found[i].dir)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	current := found[:0]
	for _, p := range found {
		// The pod may have been released, or its policy changed, while
		// the names were looked up.
		if heldPod(c.cgroupPods, p.ref) {
			current = append(current, p)
		}
	}
	for _, dir := range classifyContainers(c.Enforcer, current, c.named, c.Log) {
		continueCgroup(dir)
		c.continued[dir] = time.Now()
	}
}

// heldPod says whether the controller still holds the pod as ref says.
func heldPod(pods map[uint64]podRef, ref podRef) bool {
	for _, r := range pods {
		if r == ref {
			return true
		}
	}
	return false
}

// classifyContainers holds each pending container its policy names to the
// policy and releases the others (the pod sandbox, containers the policy
// does not name); one whose name is not known yet stays pending, stopped.
// It returns the directories of the containers it classified, which are to
// be continued; one the kernel refused stays pending for the next round.
func classifyContainers(k cgroupHolds, found []pendingContainer, named map[uint32][]string, log logr.Logger) []string {
	var classified []string
	for _, p := range found {
		if !p.known {
			continue
		}
		held := p.name != "" && slices.Contains(named[p.policy], p.name)
		var err error
		if held {
			err = k.EnforceCgroup(p.id, p.policy, bpf.Hold{Live: true, Containers: true})
		} else {
			err = k.ReleaseCgroup(p.id)
		}
		if err != nil {
			log.Error(err, "classify a container", "cgroup", p.dir)
			continue
		}
		log.V(1).Info("classified a container", "pod", p.ref.pod, "container", p.name, "held", held)
		classified = append(classified, p.dir)
	}
	return classified
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
