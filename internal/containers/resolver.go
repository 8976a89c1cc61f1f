package containers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// ErrNotFound is wrapped by the errors PodCgroup and ContainerCgroups return
// when the pod's cgroup does not exist (yet, or any more) on this node.
var ErrNotFound = errors.New("pod cgroup not found")

// SearchDepth is how many levels below the cgroup root the Resolver looks
// for kubepods cgroups: enough for kubelet's --cgroup-root (kind's
// kubelet.slice/kubelet-kubepods.slice is two levels down), without walking
// the whole tree.
const SearchDepth = 4

// searchDirs bounds how many directories one search reads.
const searchDirs = 4096

// Resolver finds pods' and containers' cgroups under one cgroup v2 root.
// The kubepods cgroups it finds are cached: lookups then cost a few stat
// calls, and a lookup that misses searches again only when a cached
// kubepods cgroup has gone or the last search is older than 30 seconds. It
// is safe for concurrent use.
type Resolver struct {
	root string

	mu       sync.Mutex
	bases    []base    // nil until a search found some
	searched time.Time // when bases were last searched for
}

// researchAfter is how long a miss waits before it may search again for
// kubepods cgroups that all still exist: a kubelet that started after the
// agent, next to a stray kubepods directory found first.
const researchAfter = 30 * time.Second

// NewResolver returns a Resolver for the cgroup v2 filesystem mounted at
// cgroupRoot (cgroupfs.Mount says where: /sys/fs/cgroup on unified hosts,
// /sys/fs/cgroup/unified on hybrid ones; a host's in the agent's container).
func NewResolver(cgroupRoot string) *Resolver {
	return &Resolver{root: filepath.Clean(cgroupRoot)}
}

// Root is the cgroup root the Resolver searches.
func (r *Resolver) Root() string { return r.root }

// Kubepods returns the kubepods cgroups kubelet put its pods under
// (<root>/kubepods, <root>/kubepods.slice, or deeper with --cgroup-root),
// searching SearchDepth levels below the root the first time.
func (r *Resolver) Kubepods() ([]string, error) {
	bases, err := r.cachedBases()
	var paths []string
	for _, b := range bases {
		paths = append(paths, b.path)
	}
	return paths, err
}

// PodParents returns the directories kubelet makes pods' cgroups in (each
// kubepods cgroup and its QoS class directories) that exist, with their
// cgroup ids: a cgroup made directly in one is a pod's (or, for a QoS
// class directory made after the search, one of those).
func (r *Resolver) PodParents() ([]Cgroup, error) {
	bases, err := r.cachedBases()
	if err != nil {
		return nil, err
	}
	var out []Cgroup
	for _, b := range bases {
		for _, dir := range b.podParents() {
			id, err := cgroupfs.ID(dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue // no pod of that QoS class yet
			}
			if err != nil {
				return nil, err
			}
			out = append(out, Cgroup{Path: dir, ID: id})
		}
	}
	return out, nil
}

// CgroupUID is the UID kubelet names the pod's cgroup after, as ParsePath
// reads it back: the pod's, or for a static pod's mirror pod kubelet's hash
// of the static pod.
func CgroupUID(pod *corev1.Pod) types.UID { return types.UID(podUID(pod)) }

func (r *Resolver) cachedBases() ([]base, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bases != nil {
		return r.bases, nil
	}
	bases, err := r.search()
	if err != nil {
		return nil, err
	}
	r.bases, r.searched = bases, time.Now()
	return bases, nil
}

// research is called when a pod is not under the cached kubepods cgroups.
// It searches again when one of them has gone (kubelet restarted with
// another driver or --cgroup-root) or the last search is older than
// researchAfter, and says whether it did.
func (r *Resolver) research(stale []base) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	again := time.Since(r.searched) > researchAfter
	for _, b := range stale {
		if _, err := os.Stat(b.path); errors.Is(err, fs.ErrNotExist) {
			again = true
		}
	}
	if !again {
		return false
	}
	bases, err := r.search()
	if err != nil {
		return false
	}
	r.bases, r.searched = bases, time.Now()
	return true
}

// search walks breadth first from the root, SearchDepth levels down, for
// kubepods cgroups. It does not descend into them, into systemd scopes
// (leaf units: containers and services, where a nested kubelet's pods would
// be), or past searchDirs directories.
func (r *Resolver) search() ([]base, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(r.root, &st); err != nil {
		return nil, fmt.Errorf("cgroup root %s: %w", r.root, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("cgroup root %s is not a cgroup v2 filesystem: on hybrid hosts cgroup v2 is mounted beside the v1 hierarchies (e.g. /sys/fs/cgroup/unified); /proc/self/mountinfo says where", r.root)
	}
	var found []base
	level, read := []string{r.root}, 0
	for depth := 0; depth < SearchDepth && len(level) > 0; depth++ {
		var next []string
		for _, dir := range level {
			if read == searchDirs {
				break
			}
			read++
			entries, err := os.ReadDir(dir)
			if err != nil {
				if dir == r.root {
					return nil, fmt.Errorf("search cgroup root %s for kubepods: %w", r.root, err)
				}
				continue // removed meanwhile, or unreadable: not kubelet's
			}
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				if b, ok := baseOf(dir, e.Name()); ok {
					found = append(found, b)
				} else if !strings.HasSuffix(e.Name(), ".scope") {
					next = append(next, filepath.Join(dir, e.Name()))
				}
			}
		}
		level = next
	}
	return found, nil
}

// podUID is the UID kubelet names the pod's cgroup after: the pod's, or
// for a static pod's mirror pod kubelet's hash of the static pod.
func podUID(pod *corev1.Pod) string {
	if h := pod.Annotations[corev1.MirrorPodAnnotationKey]; h != "" {
		return h
	}
	return string(pod.UID)
}

// describe names a pod in errors.
func describe(pod *corev1.Pod) string {
	qos := string(pod.Status.QOSClass)
	if qos == "" {
		qos = "QoS class not in status"
	}
	return fmt.Sprintf("pod %s/%s (uid %s, %s)", pod.Namespace, pod.Name, podUID(pod), qos)
}

// qosOrder is the QoS classes to look under, the pod's own first: kubelet
// computes the class itself and an empty status says nothing.
func qosOrder(q corev1.PodQOSClass) []corev1.PodQOSClass {
	all := []corev1.PodQOSClass{corev1.PodQOSGuaranteed, corev1.PodQOSBurstable, corev1.PodQOSBestEffort}
	order := []corev1.PodQOSClass{q}
	for _, c := range all {
		if c != q {
			order = append(order, c)
		}
	}
	if q == "" {
		order = order[1:]
	}
	return order
}

// PodCgroup returns the pod-level cgroup kubelet created for the pod. It
// exists before any of the pod's containers starts, and their cgroups are
// created beneath it. The error wraps ErrNotFound when the pod has no
// cgroup on this node (not started here yet, or gone).
func (r *Resolver) PodCgroup(pod *corev1.Pod) (Cgroup, error) {
	uid := podUID(pod)
	if uid == "" {
		return Cgroup{}, fmt.Errorf("pod %s/%s has no UID", pod.Namespace, pod.Name)
	}
	if !uidRE.MatchString(uid) {
		return Cgroup{}, fmt.Errorf("%s: the UID is neither a UUID nor a static pod's 32 hex digit hash, so kubelet did not name a cgroup after it", describe(pod))
	}
	bases, err := r.cachedBases()
	if err != nil {
		return Cgroup{}, fmt.Errorf("%s: %w", describe(pod), err)
	}
	cg, found, err := r.lookPod(bases, pod.Status.QOSClass, uid)
	if err == nil && !found && r.research(bases) {
		// A kubepods cgroup was gone: kubelet was reconfigured.
		if bases, err = r.cachedBases(); err == nil {
			cg, found, err = r.lookPod(bases, pod.Status.QOSClass, uid)
		}
	}
	if err != nil {
		return Cgroup{}, fmt.Errorf("%s: %w", describe(pod), err)
	}
	if found {
		return cg, nil
	}
	if len(bases) == 0 {
		// Nothing was found: search again next time.
		return Cgroup{}, fmt.Errorf("%s: %w: no kubepods cgroup (kubepods for kubelet's cgroupfs driver, kubepods.slice for systemd) within %d levels under %s: is kubelet running on this node with cgroups per QoS, and is %s the cgroup v2 mount?",
			describe(pod), ErrNotFound, SearchDepth, r.root, r.root)
	}
	var looked, under []string
	for _, b := range bases {
		rel, _ := filepath.Rel(b.path, b.podPath(pod.Status.QOSClass, uid))
		looked = append(looked, rel)
		under = append(under, b.path)
	}
	return Cgroup{}, fmt.Errorf("%s: %w: no cgroup %s under %s (nor under another QoS class): the pod has not started on this node yet or is gone; if it runs here, is kubelet's cgroup driver systemd or cgroupfs, and is cgroup v2 mounted at %s?",
		describe(pod), ErrNotFound, strings.Join(looked, " or "), strings.Join(under, " or "), r.root)
}

// lookPod looks for the pod's cgroup under each kubepods cgroup.
func (r *Resolver) lookPod(bases []base, qos corev1.PodQOSClass, uid string) (Cgroup, bool, error) {
	for _, b := range bases {
		for _, q := range qosOrder(qos) {
			p := b.podPath(q, uid)
			id, err := cgroupfs.ID(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return Cgroup{}, false, err
			}
			return Cgroup{Path: p, ID: id}, true, nil
		}
	}
	return Cgroup{}, false, nil
}

// ContainerCgroups returns the pod's containers (init containers first,
// then containers, then ephemeral containers, each in spec order) with
// their cgroups. A container whose cgroup does not exist is reported with
// its State, not as an error. The error wraps ErrNotFound when the pod's
// own cgroup does not exist, and ErrBadContainerID when pod status carries
// a container ID the package cannot read.
func (r *Resolver) ContainerCgroups(pod *corev1.Pod) ([]Container, error) {
	pc, err := r.PodCgroup(pod)
	if err != nil {
		return nil, err
	}
	// One read of the pod cgroup names every container cgroup in it.
	dirs := map[string]string{} // runtime id -> directory name
	entries, err := os.ReadDir(pc.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: list container cgroups: %w", describe(pod), err)
	}
	for _, e := range entries {
		if _, id, ok := containerComponent(e.Name()); ok && e.IsDir() {
			dirs[id] = e.Name()
		}
	}

	var out []Container
	add := func(name string, init, ephemeral bool, statuses []corev1.ContainerStatus) error {
		c := Container{Name: name, Init: init, Ephemeral: ephemeral}
		var st *corev1.ContainerStatus
		for i := range statuses {
			if statuses[i].Name == name {
				st = &statuses[i]
				break
			}
		}
		if st != nil && st.ContainerID != "" {
			rt, id, err := ParseContainerID(st.ContainerID)
			if err != nil {
				return fmt.Errorf("%s: container %q: %w", describe(pod), name, err)
			}
			c.Runtime, c.ID = rt, id
			c.State = CgroupGone
			if st.State.Terminated == nil && st.State.Running == nil {
				c.State = CgroupNotStarted // waiting: its next instance has not started
			}
			if dir, ok := dirs[id]; ok {
				p := path.Join(pc.Path, dir)
				cgid, err := cgroupfs.ID(p)
				switch {
				case err == nil:
					c.State, c.Cgroup = CgroupPresent, Cgroup{Path: p, ID: cgid}
				case !errors.Is(err, fs.ErrNotExist):
					return fmt.Errorf("%s: container %q: %w", describe(pod), name, err)
				}
			}
		}
		out = append(out, c)
		return nil
	}
	for _, c := range pod.Spec.InitContainers {
		if err := add(c.Name, true, false, pod.Status.InitContainerStatuses); err != nil {
			return nil, err
		}
	}
	for _, c := range pod.Spec.Containers {
		if err := add(c.Name, false, false, pod.Status.ContainerStatuses); err != nil {
			return nil, err
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if err := add(c.Name, false, true, pod.Status.EphemeralContainerStatuses); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Identify reads the pod UID and the runtime's container id from a cgroup
// path in any of the layouts, as ParsePath does. containerID is "" when the
// path is the pod cgroup itself or a cgroup of the runtime's own (CRI-O's
// conmon); it is the sandbox's id for the pod's pause container. ok is false
// when the path is not in a pod's cgroup.
func (r *Resolver) Identify(cgroupPath string) (podUID types.UID, containerID string, ok bool) {
	id, ok := ParsePath(cgroupPath)
	return id.PodUID, id.ContainerID, ok
}

// ProcessCgroup returns the cgroup v2 path of a process as /proc/PID/cgroup
// shows it (relative to the reader's cgroup namespace root), to pass to
// Identify.
func ProcessCgroup(pid int) (string, error) {
	file := fmt.Sprintf("/proc/%d/cgroup", pid)
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("cgroup of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("cgroup of process %d: no cgroup v2 line (0::) in %s: is cgroup v2 mounted?", pid, file)
}
