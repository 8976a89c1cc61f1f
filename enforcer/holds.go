package enforcer

import (
	"fmt"

	"github.com/footprint-dev/footprint/bpf"
)

// cgroupHolds is the part of the kernel the policy controller's holds
// drive (bpf.Enforcer's enforced_cgroups map), so that the moves between
// holds can be tested without a kernel.
type cgroupHolds interface {
	HoldPending(cgroupID uint64, policyID uint32) error
	EnforceCgroup(cgroupID uint64, policyID uint32, h bpf.Hold) error
	ReleaseCgroup(cgroupID uint64) error
	PendingCgroups() (map[uint64]uint32, error)
}

// hold is a cgroup held to a policy. A cgroup moves between these states:
//
//	unheld ──► pending ──► held (pod) ──► released
//	   │          │
//	   └──────────┴──────► held (container) ──► released
//
// A pod of a policy that names containers is pending: each new container
// below it stops at its first exec until classify names it (held, or
// released). A pod of a policy for all its containers is held from its
// containers' first exec on; a running container at once.
type hold struct {
	policy    uint32
	container bool
	// pending holds a pod for a policy of named containers: its new
	// containers wait for classify.
	pending bool
}

// holdChange is what applyHolds did to the holds of one reconcile.
type holdChange struct {
	// continued are the held containers' cgroups that had stopped at
	// their first exec for a pending hold: held now, they are to be
	// continued.
	continued []string
	errs      []error
}

// applyHolds moves every cgroup from the hold it has (held, which it
// updates) to the one it should have (want): new and changed holds are
// written, those no longer wanted released. A hold or release the kernel
// refuses leaves held as it was, so that the next reconcile tries again. A container
// that stopped at its first exec for a pending hold and is now held by
// name (it was in the pod's status before classify saw it) is to be
// continued, as classify would have: its directory (from paths) is in
// continued.
func applyHolds(k cgroupHolds, held, want map[uint64]hold, paths map[uint64]string, named bool) holdChange {
	var out holdChange
	// The stopped containers, read once and only when a container's hold
	// changes under a policy that names containers.
	var stopped map[uint64]uint32
	for id, cur := range want {
		if prev, ok := held[id]; ok && prev == cur {
			continue
		}
		if stopped == nil && cur.container && named {
			if stopped, _ = k.PendingCgroups(); stopped == nil {
				stopped = map[uint64]uint32{}
			}
		}
		var err error
		if cur.pending {
			err = k.HoldPending(id, cur.policy)
		} else {
			err = k.EnforceCgroup(id, cur.policy, bpf.Hold{Live: cur.container, Containers: true})
		}
		if err != nil {
			out.errs = append(out.errs, fmt.Errorf("hold cgroup %d to policy %d: %w", id, cur.policy, err))
			continue
		}
		held[id] = cur
		if _, ok := stopped[id]; ok && paths[id] != "" {
			out.continued = append(out.continued, paths[id])
		}
	}
	for id := range held {
		if _, ok := want[id]; ok {
			continue
		}
		if err := k.ReleaseCgroup(id); err != nil {
			out.errs = append(out.errs, fmt.Errorf("release cgroup %d: %w", id, err))
			continue
		}
		delete(held, id)
	}
	return out
}
