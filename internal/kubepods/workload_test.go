package kubepods

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// TestWorkloadOfReadsTheOwnersBetweenAPodAndItsWorkload resolves pods
// against a real API server: through a ReplicaSet to its Deployment,
// through a Job to its CronJob, and to the pod itself or the Job when the
// owner in between is gone or has no workload above it.
func TestWorkloadOfReadsTheOwnersBetweenAPodAndItsWorkload(t *testing.T) {
	env, ns := apiServer(t)
	ctx := testContext(t)
	c := env.Client
	labels := map[string]string{"app": "web"}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec("")}
	create := func(obj client.Object) {
		t.Helper()
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	create(deploy)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f", Namespace: ns, OwnerReferences: controlledBy("apps/v1", "Deployment", "web", string(deploy.UID))},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	create(rs)
	bareRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	create(bareRS)
	jobTemplate := corev1.PodTemplateSpec{Spec: podSpec("")}
	jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}}}
	create(cron)
	cronJob := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Namespace: ns, OwnerReferences: controlledBy("batch/v1", "CronJob", "nightly", string(cron.UID))},
		Spec: batchv1.JobSpec{Template: jobTemplate}}
	create(cronJob)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: ns}, Spec: batchv1.JobSpec{Template: jobTemplate}}
	create(job)

	for _, tc := range []struct {
		pod   string
		owner []metav1.OwnerReference
		want  string
	}{
		{"bare", nil, "Pod/bare"},
		{"web-7d9f-x2k", controlledBy("apps/v1", "ReplicaSet", rs.Name, string(rs.UID)), "Deployment/web"},
		{"bare-rs-pod", controlledBy("apps/v1", "ReplicaSet", bareRS.Name, string(bareRS.UID)), "Pod/bare-rs-pod"},
		{"gone-rs-pod", controlledBy("apps/v1", "ReplicaSet", "gone", "gone-uid"), "Pod/gone-rs-pod"},
		{"nightly-1-abc", controlledBy("batch/v1", "Job", cronJob.Name, string(cronJob.UID)), "CronJob/nightly"},
		{"once-abc", controlledBy("batch/v1", "Job", job.Name, string(job.UID)), "Job/once"},
		{"gone-job-pod", controlledBy("batch/v1", "Job", "gone", "gone-uid"), "Job/gone"},
		{"db-0", controlledBy("apps/v1", "StatefulSet", "db", "sts-uid"), "StatefulSet/db"},
		{"agent-x", controlledBy("apps/v1", "DaemonSet", "agent", "ds-uid"), "DaemonSet/agent"},
		{"widget-pod", controlledBy("example.com/v1", "Widget", "w", "w-uid"), "Pod/widget-pod"},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.pod, Namespace: ns, OwnerReferences: tc.owner}, Spec: podSpec("node-a")}
			create(pod)
			got, err := WorkloadOf(ctx, c, pod)
			if err != nil || got.Kind+"/"+got.Name != tc.want {
				t.Errorf("WorkloadOf(%s) = %+v, %v; want %s", tc.pod, got, err, tc.want)
			}
			cached, err := NewWorkloads(c).Of(ctx, pod)
			if err != nil || cached != got {
				t.Errorf("Workloads.Of(%s) = %+v, %v; want what WorkloadOf says, %+v", tc.pod, cached, err, got)
			}
		})
	}
}

// TestPolicyPodsAreThoseOfTheNodeTheSelectorAndTheWorkloadName selects,
// of the pods in a real API server, the running ones on the node that the
// policy's labels select and that belong to its workload.
func TestPolicyPodsAreThoseOfTheNodeTheSelectorAndTheWorkloadName(t *testing.T) {
	env, ns := apiServer(t)
	ctx := testContext(t)
	c := env.Client
	pod := func(name, node string, labels map[string]string, phase corev1.PodPhase, owner []metav1.OwnerReference) {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, OwnerReferences: owner}, Spec: podSpec(node)}
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if phase != "" {
			p.Status.Phase = phase
			if err := c.Status().Update(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	web := map[string]string{"app": "web"}
	pod("web-a", "node-a", web, corev1.PodRunning, controlledBy("apps/v1", "StatefulSet", "web", "sts-web"))
	pod("web-b", "node-b", web, corev1.PodRunning, controlledBy("apps/v1", "StatefulSet", "web", "sts-web"))
	pod("web-done", "node-a", web, corev1.PodSucceeded, controlledBy("apps/v1", "StatefulSet", "web", "sts-web"))
	pod("web-failed", "node-a", web, corev1.PodFailed, controlledBy("apps/v1", "StatefulSet", "web", "sts-web"))
	pod("web-pending", "node-a", web, "", controlledBy("apps/v1", "StatefulSet", "web", "sts-web"))
	pod("web-other", "node-a", web, corev1.PodRunning, controlledBy("apps/v1", "StatefulSet", "other", "sts-other"))
	pod("db-a", "node-a", map[string]string{"app": "db"}, corev1.PodRunning, controlledBy("apps/v1", "StatefulSet", "web", "sts-web"))

	policy := func(sel *v1alpha1.PolicySelector) *v1alpha1.EnforcementPolicy {
		return &v1alpha1.EnforcementPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: v1alpha1.EnforcementPolicySpec{Selector: sel}}
	}
	for _, tc := range []struct {
		name    string
		sel     *v1alpha1.PolicySelector
		want    []string
		wantErr string
	}{
		{"no selector selects nothing", nil, nil, ""},
		{"labels", &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: web}}, []string{"web-a", "web-other", "web-pending"}, ""},
		{"labels and workload", &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchLabels: web}, Workload: &v1alpha1.WorkloadReference{Kind: "StatefulSet", Name: "web"}}, []string{"web-a", "web-pending"}, ""},
		{"workload alone", &v1alpha1.PolicySelector{Workload: &v1alpha1.WorkloadReference{Kind: "StatefulSet", Name: "web"}}, []string{"db-a", "web-a", "web-pending"}, ""},
		{"a bad selector", &v1alpha1.PolicySelector{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}}, nil, "spec.selector.podSelector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods, err := PolicyPods(ctx, c, NewWorkloads(c), "node-a", policy(tc.sel))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PolicyPods = %d pods, %v; want an error naming %s", len(pods), err, tc.wantErr)
				}
				return
			}
			var names []string
			for _, p := range pods {
				names = append(names, p.Name)
			}
			slices.Sort(names)
			if err != nil || !slices.Equal(names, tc.want) {
				t.Errorf("PolicyPods = %v, %v; want %v", names, err, tc.want)
			}
		})
	}
}

func TestWorkloadFromReadsEachKindsSelectorAndContainers(t *testing.T) {
	labels := map[string]string{"app": "web"}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}, InitContainers: []corev1.Container{{Name: "setup"}}}}
	for _, tc := range []struct {
		kind     string
		obj      client.Object
		from     string
		wantErr  string
		selector string
	}{
		{kind: "Deployment", obj: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: sel, Template: template}}, from: "its selector"},
		{kind: "StatefulSet", obj: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Selector: sel, Template: template}}, from: "its selector"},
		{kind: "DaemonSet", obj: &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: sel, Template: template}}, from: "its selector"},
		{kind: "Job", obj: &batchv1.Job{Spec: batchv1.JobSpec{Selector: sel, Template: template}}, from: "its selector"},
		{kind: "CronJob", obj: &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}}, from: "the labels of its pod template"},
		{kind: "Pod", obj: &corev1.Pod{ObjectMeta: template.ObjectMeta, Spec: template.Spec}, from: "its labels"},
		{kind: "CronJob", obj: &batchv1.CronJob{}, wantErr: "cronjob web has no labels on its pod template"},
		{kind: "Pod", obj: &corev1.Pod{}, wantErr: "pod web has no labels, and footprint selects pods by label: label it first, e.g. kubectl label pod web -n shop app=web"},
		{kind: "Deployment", obj: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: template}}, wantErr: "deployment web has no pod selector"},
	} {
		t.Run(tc.kind+"/"+tc.from, func(t *testing.T) {
			ref := &v1alpha1.WorkloadReference{Kind: tc.kind, Name: "web"}
			w, err := WorkloadFrom(ref, "shop", tc.obj)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("WorkloadFrom = %+v, %v; want an error saying %q", w, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := metav1.FormatLabelSelector(w.Selector); got != "app=web" || w.SelectorFrom != tc.from {
				t.Errorf("selector %s from %q, want app=web from %q", got, w.SelectorFrom, tc.from)
			}
			if got := w.DescribeContainers(); got != "app, sidecar (init: setup)" || w.String() != tc.kind+" web" {
				t.Errorf("%s has containers %q, want app, sidecar (init: setup)", w, got)
			}
		})
	}
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"} {
		if obj, list, err := NewWorkloadObject(kind); err != nil || obj == nil || list == nil {
			t.Errorf("NewWorkloadObject(%s) = %T, %T, %v", kind, obj, list, err)
		}
	}
	if _, _, err := NewWorkloadObject("ReplicaSet"); err == nil || !strings.Contains(err.Error(), "footprint knows Deployment, StatefulSet, DaemonSet, Job, CronJob and Pod") {
		t.Errorf("NewWorkloadObject(ReplicaSet) = %v, want an error naming the kinds footprint knows", err)
	}
}
