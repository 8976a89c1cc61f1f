package recorder

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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

var (
	imageV1 = v1alpha1.Image{Name: "docker.io/library/app:v1", Digest: "sha256:" + strings.Repeat("1", 64)}
	imageV2 = v1alpha1.Image{Name: "docker.io/library/app:v2", Digest: "sha256:" + strings.Repeat("2", 64)}
)

// TestAPodRunningANewImageIsRecordedIntoItsPolicysProfile runs the
// recording controller against a real API server and the real kernel,
// with no ProfileRecording: an EnforcementPolicy recorded from app:v1
// selects a Deployment's pod whose container runs app:v2. What the
// container does goes into the Deployment's Profile as a source of the
// policy's, with the image; once the policy is promoted to app:v2 the pod
// is no longer recorded.
func TestAPodRunningANewImageIsRecordedIntoItsPolicysProfile(t *testing.T) {
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
	t.Cleanup(func() { rec.Close() })
	nodeRec := NewNodeRecorder(rec, containers.NewResolver(layout.Root), node, logr.Discard())
	t.Cleanup(nodeRec.Close)
	mgr, startManager := envtest.NodeManager(t, env, node)
	c := &RecordingController{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Node: node, Recorder: nodeRec,
		Writer: profilestore.NewWriter(profilestore.NewStore(env.Client, profilestore.Options{}), profilestore.WriterOptions{}), FlushInterval: time.Hour, Log: logr.Discard(),
	}
	if err := c.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	startManager()

	labels := map[string]string{"app": "web"}
	policy := &v1alpha1.EnforcementPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns},
		Spec: v1alpha1.EnforcementPolicySpec{
			Selector: &v1alpha1.PolicySelector{Workload: &v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}, Containers: []string{"app"}},
			Mode:     v1alpha1.ModeEnforce,
			Images:   []v1alpha1.Image{imageV1},
			Files:    &v1alpha1.FileRules{Allow: []v1alpha1.FileRule{{Path: "/etc/app.conf", Access: []v1alpha1.FileAccessMode{"read"}}}},
			Profile:  "web-app",
		},
	}
	must(t, env.Client.Create(ctx, policy))
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:v2"}}}}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	must(t, env.Client.Create(ctx, deploy))
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5c4b", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: deploy.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	must(t, env.Client.Create(ctx, rs))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-5c4b-q7z", Namespace: ns, Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: *template.Spec.DeepCopy()}
	pod.Spec.NodeName = node
	must(t, env.Client.Create(ctx, pod))

	// From the pod's cgroup on: the spec's image name is already new.
	podDir := "kubepods/" + strings.ToLower(string(pod.Status.QOSClass)) + "/pod" + string(pod.UID)
	podCg := layout.mkdir(podDir)
	eventually(t, "the pod cgroup is watched for the policy", func() bool {
		c.Reconcile(ctx, nodeKey)
		w, _ := rec.Watched()
		_, ok := w[podCg.ID]
		return ok
	})
	appID := randomID(t)
	app := layout.mkdir(podDir + "/" + appID)
	dir := testDir(t)
	writeFile(t, filepath.Join(dir, "v2-config"), "x")
	runIn(t, app, "open-many", filepath.Join(dir, "v2-config"), "1")
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://" + appID,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, Image: imageV2.Name, ImageID: "docker.io/library/app@" + imageV2.Digest}}
	must(t, env.Client.Status().Update(ctx, pod))

	var stored v1alpha1.Profile
	eventually(t, "the new image's behaviour is in the profile", func() bool {
		c.Reconcile(ctx, nodeKey)
		if err := c.Flush(ctx); err != nil {
			t.Logf("flush: %v", err)
		}
		var list v1alpha1.ProfileList
		must(t, env.Client.List(ctx, &list, client.InNamespace(ns)))
		if len(list.Items) == 0 {
			return false
		}
		stored = list.Items[0]
		return findFile(&stored, profiles.NormalizePath(filepath.Join(dir, "v2-config"))) != nil
	})
	if stored.Name != policy.Spec.Profile || stored.Spec.Container != "app" || stored.Spec.Workload == nil || stored.Spec.Workload.Name != "web" {
		t.Errorf("recorded into profile %s for %+v container %q, want %s, the policy's profile", stored.Name, stored.Spec.Workload, stored.Spec.Container, policy.Spec.Profile)
	}
	if len(stored.Spec.Sources) != 1 {
		t.Fatalf("sources = %+v, want one", stored.Spec.Sources)
	}
	src := stored.Spec.Sources[0]
	if src.Policy != policy.Name || src.Recording != "" || src.Pod != pod.Name || !reflect.DeepEqual(src.Images, []v1alpha1.Image{imageV2}) {
		t.Errorf("source = %+v, want the policy's, for pod %s, image %+v", src, pod.Name, imageV2)
	}
	// Only the kinds the policy enforces are recorded for it: promoting
	// it must not start enforcing a kind from the new image's pods alone.
	if _, ok := src.Backends["files"]; !ok || len(src.Backends) != 1 {
		t.Errorf("the source names backends %v, want files alone (the policy enforces files only)", src.Backends)
	}

	// Promoted: nothing of the pod is recorded any more.
	must(t, env.Client.Get(ctx, client.ObjectKeyFromObject(policy), policy))
	policy.Spec.Images = append(policy.Spec.Images, imageV2)
	must(t, env.Client.Update(ctx, policy))
	eventually(t, "the promoted pod is no longer recorded", func() bool {
		c.Reconcile(ctx, nodeKey)
		return len(nodeRec.Selections()) == 0
	})
	if w, _ := rec.Watched(); w[podCg.ID].Kinds != 0 {
		t.Errorf("the pod cgroup is still watched for %v", w[podCg.ID].Kinds)
	}
}
