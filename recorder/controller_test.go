package recorder

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/bpf"
	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/containers"
	"github.com/footprint-dev/footprint/profiles"
	"github.com/footprint-dev/footprint/recorder/profilestore"
	"github.com/footprint-dev/footprint/test/envtest"
)

// TestAProfileRecordingFillsTheWorkloadsProfile runs the node agent's
// recording controller against a real API server and the real kernel: a
// ProfileRecording selects the app container of a Deployment's pod on this
// node; the pod's containers start after the recording exists, on a
// kubelet-like cgroup layout; the Deployment's Profile for the app container
// appears with what the container did, and none for the sidecar. The
// recording's status counts what it records, and a second recording whose
// selector matches nothing says so.
func TestAProfileRecordingFillsTheWorkloadsProfile(t *testing.T) {
	env := envtest.StartEnvironment(t)
	ns := envtest.Namespace(t, env.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const node = "node-a"

	layout := newKubeletLayout(t)
	rec, err := bpf.Load(bpf.Options{CgroupRoot: mustMount(t)})
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the manager stops (cleanups run last in, first out).
	t.Cleanup(func() { rec.Close() })
	nodeRec := NewNodeRecorder(rec, containers.NewResolver(layout.Root), node, logr.Discard())
	t.Cleanup(nodeRec.Close)

	mgr, startManager := envtest.NodeManager(t, env, node)
	store := profilestore.NewStore(env.Client, profilestore.Options{})
	c := &RecordingController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Node: node, Recorder: nodeRec,
		Writer: profilestore.NewWriter(store, profilestore.WriterOptions{}), FlushInterval: time.Hour, Log: logr.Discard(),
	}
	if err := c.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager()

	recording := &v1alpha1.ProfileRecording{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.ProfileRecordingSpec{
			PodSelector:       metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			ContainerSelector: []string{"app"},
		},
	}
	must(t, env.Client.Create(ctx, recording))
	nothing := &v1alpha1.ProfileRecording{
		ObjectMeta: metav1.ObjectMeta{Name: "nothing", Namespace: ns},
		Spec:       v1alpha1.ProfileRecordingSpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "none"}}},
	}
	must(t, env.Client.Create(ctx, nothing))

	// A Deployment, its ReplicaSet and one pod on this node (no
	// controller-manager runs here: the objects are made by hand).
	labels := map[string]string{"app": "web"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			// A request without a limit: the API server makes the pod Burstable.
			{Name: "app", Image: "app", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}},
			{Name: "sidecar", Image: "sidecar"},
		}},
	}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	must(t, env.Client.Create(ctx, deploy))
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: deploy.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	must(t, env.Client.Create(ctx, rs))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f-x2k", Namespace: ns, Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: *template.Spec.DeepCopy()}
	pod.Spec.NodeName = node
	must(t, env.Client.Create(ctx, pod))
	if pod.Status.QOSClass != corev1.PodQOSBurstable {
		t.Fatalf("pod QoS class %q, want Burstable", pod.Status.QOSClass)
	}
	pod.Status.Phase = corev1.PodPending
	must(t, env.Client.Status().Update(ctx, pod))

	// kubelet creates the pod's cgroup; the agent must watch it before the
	// runtime starts anything in it.
	podDir := "kubepods/burstable/pod" + string(pod.UID)
	podCg := layout.mkdir(podDir)
	eventually(t, "the pod cgroup is watched", func() bool {
		c.Reconcile(ctx, nodeKey) // the cgroup appeared after the pod event
		w, _ := rec.Watched()
		_, ok := w[podCg.ID]
		return ok
	})

	appID, sidecarID := randomID(t), randomID(t)
	app := layout.mkdir(podDir + "/" + appID)
	sidecar := layout.mkdir(podDir + "/" + sidecarID)
	dir := testDir(t)
	writeFile(t, filepath.Join(dir, "app-config"), "x")
	writeFile(t, filepath.Join(dir, "sidecar-config"), "x")
	runIn(t, app, "open-many", filepath.Join(dir, "app-config"), "2")
	runIn(t, sidecar, "open-many", filepath.Join(dir, "sidecar-config"), "1")
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "app", ContainerID: "containerd://" + appID, State: running, Image: "app", ImageID: "app"},
		{Name: "sidecar", ContainerID: "containerd://" + sidecarID, State: running, Image: "sidecar", ImageID: "sidecar"},
	}
	must(t, env.Client.Status().Update(ctx, pod))

	var stored v1alpha1.ProfileList
	eventually(t, "the app container's profile is written", func() bool {
		c.Reconcile(ctx, nodeKey)
		if err := c.Flush(ctx); err != nil {
			t.Logf("flush: %v", err)
		}
		if err := env.Client.List(ctx, &stored, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		return len(stored.Items) > 0
	})
	if len(stored.Items) != 1 {
		t.Fatalf("%d profiles, want 1 (the sidecar is not selected)", len(stored.Items))
	}
	p := stored.Items[0]
	if p.Spec.Workload == nil || p.Spec.Workload.Kind != "Deployment" || p.Spec.Workload.Name != "web" || p.Spec.Container != "app" {
		t.Errorf("profile %s is for %+v container %q, want Deployment web container app", p.Name, p.Spec.Workload, p.Spec.Container)
	}
	// The store normalises: the test's random directory is a glob there.
	if findFile(&p, profiles.NormalizePath(filepath.Join(dir, "app-config"))) == nil {
		t.Errorf("the profile lacks app-config: %+v", p.Spec.Files)
	}
	if findFile(&p, profiles.NormalizePath(filepath.Join(dir, "sidecar-config"))) != nil {
		t.Errorf("the profile holds what the sidecar did")
	}
	if len(p.Spec.Sources) == 0 || p.Spec.Sources[0].Node != node || p.Spec.Sources[0].Pod != pod.Name {
		t.Errorf("provenance = %+v, want node %s pod %s", p.Spec.Sources, node, pod.Name)
	}

	// The recording's status: this node's share and the totals.
	var got v1alpha1.ProfileRecording
	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(recording), &got))
	st := got.Status
	if st.Phase != v1alpha1.RecordingActive || st.MatchedPods != 1 || st.MatchedContainers != 1 || st.Events == 0 {
		t.Errorf("status phase %s, pods %d, containers %d, events %d: want Recording, 1, 1, some", st.Phase, st.MatchedPods, st.MatchedContainers, st.Events)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].Node != node || len(st.Profiles) != 1 || st.Profiles[0] != p.Name {
		t.Errorf("status nodes %+v, profiles %v: want node %s and profile %s", st.Nodes, st.Profiles, node, p.Name)
	}
	if c := apimeta.FindStatusCondition(st.Conditions, ConditionMatched); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Matched condition = %+v, want True", c)
	}
	// A recording whose selector matches nothing says so.
	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(nothing), &got))
	if c := apimeta.FindStatusCondition(got.Status.Conditions, ConditionMatched); c == nil || c.Status != metav1.ConditionFalse || c.Reason != "NoPodsMatched" {
		t.Errorf("the empty recording's Matched condition = %+v, want False/NoPodsMatched", c)
	} else if !strings.Contains(c.Message, "app=none") {
		t.Errorf("the message does not name the selector: %q", c.Message)
	}
	if got.Status.Phase != v1alpha1.RecordingPending {
		t.Errorf("the empty recording's phase is %s, want Pending", got.Status.Phase)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
