package containers

import (
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// How kubelet names cgroups. With the cgroupfs driver a cgroup name is a
// path: <cgroup-root>/kubepods/<qos>/pod<uid>, where <qos> is burstable or
// besteffort and is left out for Guaranteed pods. With the systemd driver
// each prefix of that name becomes a slice whose name joins the components
// with "-" after replacing the "-" inside each with "_":
// kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice,
// and a --cgroup-root of /kubelet (as kind sets) turns that into
// kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/...
//
// Under the pod cgroup the runtime names each container's cgroup (the
// pod's sandbox, the pause container, gets one as well):
//
//	runtime     cgroupfs driver   systemd driver
//	containerd  <id>              cri-containerd-<id>.scope
//	CRI-O       crio-<id>         crio-<id>.scope
//	Docker      <id>              docker-<id>.scope
//
// CRI-O adds crio-conmon-<id>[.scope] for its monitor process, which is not
// the container, and crun under systemd on cgroup v2 puts the container's
// processes in a "container" child of the scope.

// kubepods is the component kubelet puts every pod under.
const kubepods = "kubepods"

// qosDir is the QoS class's component in kubelet's cgroup name ("" for
// Guaranteed pods, which sit directly under kubepods).
func qosDir(q corev1.PodQOSClass) string {
	switch q {
	case corev1.PodQOSBurstable:
		return "burstable"
	case corev1.PodQOSBestEffort:
		return "besteffort"
	}
	return ""
}

// base is a kubepods cgroup: the directory kubelet puts every pod under.
type base struct {
	path string
	// stem is the systemd slice name without ".slice" ("kubepods",
	// "kubelet-kubepods"); "" for the cgroupfs driver.
	stem string
}

// baseOf says whether a directory name is a kubepods cgroup.
func baseOf(dir, name string) (base, bool) {
	if name == kubepods {
		return base{path: path.Join(dir, name)}, true
	}
	if stem, ok := strings.CutSuffix(name, ".slice"); ok && (stem == kubepods || strings.HasSuffix(stem, "-"+kubepods)) {
		return base{path: path.Join(dir, name), stem: stem}, true
	}
	return base{}, false
}

func (b base) systemd() bool { return b.stem != "" }

// podParents are the directories podPath puts pods in, one per QoS class.
func (b base) podParents() []string {
	var dirs []string
	for _, q := range []corev1.PodQOSClass{corev1.PodQOSGuaranteed, corev1.PodQOSBurstable, corev1.PodQOSBestEffort} {
		dirs = append(dirs, path.Dir(b.podPath(q, "x")))
	}
	return dirs
}

// qosDirs are the QoS class directories podParents has in the kubepods
// cgroup itself, by name, with their paths.
func (b base) qosDirs() map[string]string {
	dirs := map[string]string{}
	for _, q := range []corev1.PodQOSClass{corev1.PodQOSBurstable, corev1.PodQOSBestEffort} {
		dir := path.Dir(b.podPath(q, "x"))
		dirs[path.Base(dir)] = dir
	}
	return dirs
}

// podPath is where kubelet puts the cgroup of a pod of the QoS class.
func (b base) podPath(q corev1.PodQOSClass, uid string) string {
	qos := qosDir(q)
	if !b.systemd() {
		return path.Join(b.path, qos, "pod"+uid)
	}
	uid = strings.ReplaceAll(uid, "-", "_")
	if qos == "" {
		return path.Join(b.path, b.stem+"-pod"+uid+".slice")
	}
	s := b.stem + "-" + qos
	return path.Join(b.path, s+".slice", s+"-pod"+uid+".slice")
}

// uidPattern is what a pod UID looks like: a UUID from the API server, or
// for a static pod the 32 hex digits of kubelet's hash of it.
// The systemd driver writes the UUID's dashes as underscores.
const (
	uidPattern        = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}`
	systemdUIDPattern = `[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}|[0-9a-f]{32}`
)

var (
	uidRE           = regexp.MustCompile(`^(?:` + uidPattern + `)$`)
	cgroupfsPodRE   = regexp.MustCompile(`^pod(` + uidPattern + `)$`)
	systemdPodRE    = regexp.MustCompile(`^(.*)-pod(` + systemdUIDPattern + `)\.slice$`)
	qosClassOfDir   = map[string]corev1.PodQOSClass{"burstable": corev1.PodQOSBurstable, "besteffort": corev1.PodQOSBestEffort}
	runtimeOfPrefix = map[string]Runtime{"cri-containerd-": Containerd, "crio-": CRIO, "docker-": Docker}
)

// Identity is what a cgroup path says about the pod and container it
// belongs to.
type Identity struct {
	// PodUID is the UID in the pod cgroup's name: the pod's UID, or for a
	// static pod kubelet's hash of it (its mirror pod's
	// kubernetes.io/config.mirror annotation).
	PodUID types.UID
	// QOSClass is the QoS class the pod cgroup sits under.
	QOSClass corev1.PodQOSClass
	// PodCgroup is the path up to and including the pod's cgroup.
	PodCgroup string
	// ContainerID is the runtime's id of the container (or of the pod's
	// sandbox) whose cgroup the path is or lies in; "" when the path is the
	// pod cgroup itself or a cgroup of the runtime's own (CRI-O's conmon).
	ContainerID string
	// Runtime is the runtime the container cgroup's name points to; "" when
	// the name does not tell (containerd and Docker both use the bare id
	// with the cgroupfs driver).
	Runtime Runtime
	// ContainerCgroup is the path up to and including the container's
	// cgroup; below it are the container's own cgroups (crun's "container"
	// child, systemd inside a container).
	ContainerCgroup string
}

// ParsePath reads the pod and container from a cgroup path in any of the
// layouts: a directory under the cgroup2 mount
// (/sys/fs/cgroup/kubepods/...) or a path as /proc/PID/cgroup shows it
// (/kubepods/..., or /../kubepods/... from inside another cgroup
// namespace). ok is false when the path is not in a pod's cgroup. When pods
// are nested (a kubelet running in a container), the innermost pod wins.
func ParsePath(p string) (id Identity, ok bool) {
	p = path.Clean(p)
	comps := strings.Split(p, "/")
	for i := len(comps) - 1; i >= 0; i-- {
		uid, qos, ok := podComponent(comps, i)
		if !ok {
			continue
		}
		id = Identity{PodUID: types.UID(uid), QOSClass: qos, PodCgroup: strings.Join(comps[:i+1], "/")}
		if i+1 < len(comps) {
			if rt, cid, ok := containerComponent(comps[i+1]); ok {
				id.ContainerID, id.Runtime = cid, rt
				id.ContainerCgroup = strings.Join(comps[:i+2], "/")
			}
		}
		return id, true
	}
	return Identity{}, false
}

// podComponent says whether comps[i] is a pod cgroup in kubelet's layout,
// checking its parents too so that a stray directory named like one is not
// taken for a pod.
func podComponent(comps []string, i int) (uid string, qos corev1.PodQOSClass, ok bool) {
	name := comps[i]
	parent := func(n int) string {
		if i-n < 0 {
			return ""
		}
		return comps[i-n]
	}
	if m := cgroupfsPodRE.FindStringSubmatch(name); m != nil {
		switch {
		case parent(1) == kubepods:
			return m[1], corev1.PodQOSGuaranteed, true
		case qosClassOfDir[parent(1)] != "" && parent(2) == kubepods:
			return m[1], qosClassOfDir[parent(1)], true
		}
		return "", "", false
	}
	if m := systemdPodRE.FindStringSubmatch(name); m != nil {
		uid, slice := strings.ReplaceAll(m[2], "_", "-"), m[1]
		// slice is <stem>[-<qos>] and must be the parent slice.
		if parent(1) != slice+".slice" {
			return "", "", false
		}
		for dir, q := range qosClassOfDir {
			if stem, ok := strings.CutSuffix(slice, "-"+dir); ok {
				if _, ok := baseOf("", stem+".slice"); ok && parent(2) == stem+".slice" {
					return uid, q, true
				}
			}
		}
		if _, ok := baseOf("", slice+".slice"); ok {
			return uid, corev1.PodQOSGuaranteed, true
		}
	}
	return "", "", false
}

// containerComponent reads the runtime's id from the name of a cgroup
// directly under a pod cgroup; ok is false for names that are not a
// container's, CRI-O's conmon among them.
func containerComponent(name string) (Runtime, string, bool) {
	unit, scope := strings.CutSuffix(name, ".scope")
	i := strings.LastIndexByte(unit, '-')
	prefix, id := unit[:i+1], unit[i+1:]
	if !isID(id) || prefix == "crio-conmon-" {
		return "", "", false
	}
	if prefix == "" && !scope {
		return "", id, true // containerd or Docker with the cgroupfs driver
	}
	// Other runtimes name their scopes <name>-<id>.scope too (podman's
	// libpod-<id>.scope): the id is still the container's.
	return runtimeOfPrefix[prefix], id, true
}
