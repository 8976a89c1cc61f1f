package kubepods

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func ownedPod(name string, rs *appsv1.ReplicaSet) *corev1.Pod {
	yes := true
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes,
	}}}}
}

// TestWorkloadsLookUpEachReplicaSetOnce resolves many pods of one
// Deployment with one API call, and never remembers a pod-specific answer.
func TestWorkloadsLookUpEachReplicaSetOnce(t *testing.T) {
	yes := true
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5c5f", Namespace: "shop", UID: types.UID("rs-1"),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "d-1", Controller: &yes}}}}
	gets := 0
	reader := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(rs).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			gets++
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	w := NewWorkloads(reader)
	ctx := context.Background()
	for _, name := range []string{"web-5c5f-a", "web-5c5f-b", "web-5c5f-a"} {
		ref, err := w.Of(ctx, ownedPod(name, rs))
		if err != nil || ref.Kind != "Deployment" || ref.Name != "web" {
			t.Fatalf("workload of %s = %+v, %v; want Deployment web", name, ref, err)
		}
	}
	if gets != 1 {
		t.Errorf("%d API reads for three pods of one ReplicaSet, want 1", gets)
	}

	// A ReplicaSet that is gone: each pod is its own workload, looked up
	// again next time (the answer was the pod's, not the ReplicaSet's).
	gone := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "shop", UID: types.UID("rs-2")}}
	for i, name := range []string{"old-a", "old-b"} {
		ref, err := w.Of(ctx, ownedPod(name, gone))
		if err != nil || ref.Kind != "Pod" || ref.Name != name {
			t.Fatalf("workload of %s = %+v, %v; want Pod %s", name, ref, err, name)
		}
		if gets != 2+i {
			t.Errorf("after %s: %d API reads, want %d", name, gets, 2+i)
		}
	}
}
