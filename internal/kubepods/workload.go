// Package kubepods answers, through the API server, what the node agent's
// recorder and enforcer and the kubectl plugin ask about a cluster's pods:
// which workload a pod belongs to (Workloads, WorkloadOf), the images its
// containers run (ContainerImages), which pods of a node an
// EnforcementPolicy selects (PolicyPods) and what it decides for each
// (DecidePod), how a workload selects its pods (NewWorkloadObject,
// WorkloadFrom), and which pods and Services an address belongs to
// (AddressResolver). The kinds of workload and their owner rules are
// package workloads'.
package kubepods

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/workloads"
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
	if owner == nil {
		return WorkloadOf(ctx, w.reader, pod)
	}
	if rule, ok := workloads.OwnerOf(owner.Kind); !ok || rule.Parent == "" {
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
	if err != nil || ref.Kind == workloads.Pod {
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

// WorkloadOf follows a pod's controller references up to the workload a
// user manages (workloads.Of), reading the owners that stand between with
// reader.
func WorkloadOf(ctx context.Context, reader client.Reader, pod *corev1.Pod) (v1alpha1.WorkloadReference, error) {
	return workloads.Of(pod.Name, metav1.GetControllerOf(pod), func(owner *metav1.OwnerReference) (*metav1.OwnerReference, error) {
		obj, ok := newOwner(owner.Kind)
		if !ok {
			return nil, fmt.Errorf("footprint cannot read a %s, the controller of pod %s/%s", owner.Kind, pod.Namespace, pod.Name)
		}
		if err := reader.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: owner.Name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		return metav1.GetControllerOf(obj), nil
	})
}

// newOwner is an empty object of a pod controller's kind that stands
// between a pod and its workload (workloads.Owner's Parent).
func newOwner(kind string) (client.Object, bool) {
	switch kind {
	case workloads.ReplicaSet:
		return &appsv1.ReplicaSet{}, true
	case workloads.Job:
		return &batchv1.Job{}, true
	}
	return nil, false
}
