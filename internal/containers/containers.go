// Package containers is the node agent's container identity: it maps a
// Kubernetes Pod (its UID, QoS class and the container IDs in its status) to
// the cgroup v2 directories kubelet and the container runtime create for it
// on this node, and maps a cgroup path back to the pod and container it
// belongs to.
//
// Forward, the agent watches a selected pod's pod-level cgroup
// (Resolver.PodCgroup). Kubelet creates that cgroup before the pod's sandbox
// and containers, and the kernel programs match a process through the
// ancestors of its cgroup, so every container cgroup the runtime creates
// later beneath it is covered from the container's first instruction.
// Resolver.ContainerCgroups names the container cgroups that exist so far.
//
// Backward, when the kernel reports a new cgroup or a process under a
// watched pod cgroup, Resolver.Identify (or ParsePath) reads the pod UID and
// container ID from its path, which the agent matches against pod status.
//
// Layouts covered: kubelet's cgroupfs driver
// (kubepods/[burstable|besteffort/]pod<uid>/<container>) and systemd driver
// (kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/<unit>.scope),
// every QoS class, containerd, CRI-O and Docker container naming, cgroup v2
// unified or hybrid (the root given to NewResolver is the cgroup2 mount,
// wherever /proc/self/mountinfo has it: see cgroupfs.Mount), and kubelet's
// --cgroup-root, which moves kubepods below the root; that is found by a
// bounded search and cached.
//
// The package uses Kubernetes API types only; Pods come from the caller's
// own informer.
package containers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/footprint-dev/footprint/internal/cgroupfs"
)

// Runtime is the container runtime named in a container ID's scheme.
type Runtime string

// The runtimes whose naming the package knows.
const (
	Containerd Runtime = "containerd"
	CRIO       Runtime = "cri-o"
	Docker     Runtime = "docker"
)

var runtimes = []Runtime{Containerd, CRIO, Docker}

// ErrBadContainerID is wrapped by the errors ParseContainerID returns.
var ErrBadContainerID = errors.New("bad container ID")

// idLen is the length of the ids containerd, CRI-O and Docker generate: 32
// random bytes in hex.
const idLen = 64

// ParseContainerID splits a container ID as pod status carries it
// ("containerd://<64 hex digits>", "cri-o://<id>", "docker://<id>") into
// the runtime and the runtime's id, which names the container's cgroup.
func ParseContainerID(s string) (Runtime, string, error) {
	if s == "" {
		return "", "", fmt.Errorf("%w: empty (the container has not been created yet)", ErrBadContainerID)
	}
	scheme, id, ok := strings.Cut(s, "://")
	if !ok {
		return "", "", fmt.Errorf("%w %q: want <runtime>://<id> as in pod status, e.g. containerd://<%d hex digits>", ErrBadContainerID, s, idLen)
	}
	rt := Runtime(scheme)
	known := false
	for _, r := range runtimes {
		known = known || r == rt
	}
	if !known {
		return "", "", fmt.Errorf("%w %q: runtime %q is not supported (supported: containerd, cri-o, docker)", ErrBadContainerID, s, scheme)
	}
	if !isID(id) {
		return "", "", fmt.Errorf("%w %q: id %q is not %d lowercase hex digits, which %s generates", ErrBadContainerID, s, id, idLen, scheme)
	}
	return rt, id, nil
}

// isID says whether s looks like a runtime's container id.
func isID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Cgroup is a cgroup v2 directory and its id (what bpf_get_current_cgroup_id
// returns for processes in it).
type Cgroup = cgroupfs.Cgroup

// CgroupState says whether a container's cgroup exists.
type CgroupState int

const (
	// CgroupNotStarted: pod status has no container ID yet, or the runtime
	// has not created the cgroup yet, or the container is waiting to be
	// started again.
	CgroupNotStarted CgroupState = iota
	// CgroupPresent: the cgroup exists; Container.Cgroup is set.
	CgroupPresent
	// CgroupGone: the container has terminated and the runtime has removed
	// its cgroup.
	CgroupGone
)

func (s CgroupState) String() string {
	switch s {
	case CgroupNotStarted:
		return "not started"
	case CgroupPresent:
		return "present"
	case CgroupGone:
		return "gone"
	}
	return fmt.Sprintf("CgroupState(%d)", int(s))
}

// Container is one container of a pod and its cgroup.
type Container struct {
	// Name is the container's name in the pod spec.
	Name string
	// Init and Ephemeral say which list of the pod spec it is in.
	Init, Ephemeral bool
	// Runtime and ID are parsed from the container ID in pod status; both
	// are empty while status has none.
	Runtime Runtime
	ID      string
	// State says whether the cgroup exists; Cgroup is set only when it does.
	State  CgroupState
	Cgroup Cgroup
}
