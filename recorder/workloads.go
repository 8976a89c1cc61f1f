package recorder

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// Workloads resolves pods to their workloads (WorkloadOf), remembering the
// workload of each ReplicaSet and Job it looked up, by UID: that never
// changes, and the controllers resolve every selected pod on every
// reconcile, which kubelet's cgroup events make frequent. Entries are
// looked up again after workloadTTL (a ReplicaSet can be adopted by another
// Deployment). The zero value is not usable: NewWorkloads.
type Workloads struct {
	reader client.Reader
	mu     sync.Mutex
	owners map[types.UID]ownerEntry
}

type ownerEntry struct {
	ref     v1alpha1.WorkloadReference
	fetched time.Time
}

const workloadTTL = 10 * time.Minute

// NewWorkloads resolves with reader (the API server: the agent caches only
// its own node's pods).
func NewWorkloads(reader client.Reader) *Workloads {
	return &Workloads{reader: reader, owners: map[types.UID]ownerEntry{}}
}

// Of returns the workload of pod, as WorkloadOf.
func (w *Workloads) Of(ctx context.Context, pod *corev1.Pod) (v1alpha1.WorkloadReference, error) {
	owner := metav1.GetControllerOf(pod)
	if owner == nil || (owner.Kind != "ReplicaSet" && owner.Kind != "Job") {
		return WorkloadOf(ctx, w.reader, pod) // no lookup needed
	}
	now := time.Now()
	w.mu.Lock()
	if e, ok := w.owners[owner.UID]; ok && now.Sub(e.fetched) <= workloadTTL {
		w.mu.Unlock()
		return e.ref, nil
	}
	w.mu.Unlock()
	ref, err := WorkloadOf(ctx, w.reader, pod)
	// A bare-pod answer is the pod's own (its owner was not found): not
	// the owner's to remember.
	if err != nil || ref.Kind == "Pod" {
		return ref, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for uid, e := range w.owners {
		if now.Sub(e.fetched) > workloadTTL {
			delete(w.owners, uid)
		}
	}
	w.owners[owner.UID] = ownerEntry{ref: ref, fetched: now}
	return ref, nil
}
