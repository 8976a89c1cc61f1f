package kubepods

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/workloads"
)

// Workload is what the kubectl plugin needs of a workload: how its pods
// are selected and the names of its containers.
type Workload struct {
	Ref *v1alpha1.WorkloadReference
	// Selector selects the workload's pods.
	Selector *metav1.LabelSelector
	// SelectorFrom says where the selector came from, for the user.
	SelectorFrom   string
	Containers     []string
	InitContainers []string
}

func (w *Workload) String() string { return w.Ref.Kind + " " + w.Ref.Name }

// DescribeContainers lists a workload's containers: "app, sidecar (init: setup)".
func (w *Workload) DescribeContainers() string {
	s := strings.Join(w.Containers, ", ")
	if len(w.InitContainers) > 0 {
		s += " (init: " + strings.Join(w.InitContainers, ", ") + ")"
	}
	return s
}

// NewWorkloadObject returns an empty object of a workload kind to read one
// into, and an empty list of that kind.
func NewWorkloadObject(kind string) (client.Object, client.ObjectList, error) {
	switch kind {
	case workloads.Deployment:
		return &appsv1.Deployment{}, &appsv1.DeploymentList{}, nil
	case workloads.StatefulSet:
		return &appsv1.StatefulSet{}, &appsv1.StatefulSetList{}, nil
	case workloads.DaemonSet:
		return &appsv1.DaemonSet{}, &appsv1.DaemonSetList{}, nil
	case workloads.Job:
		return &batchv1.Job{}, &batchv1.JobList{}, nil
	case workloads.CronJob:
		return &batchv1.CronJob{}, &batchv1.CronJobList{}, nil
	case workloads.Pod:
		return &corev1.Pod{}, &corev1.PodList{}, nil
	}
	return nil, nil, fmt.Errorf("workload kind %q: footprint knows %s", kind, workloads.List(false, "and"))
}

// WorkloadFrom reads the pod selector and the containers of a workload
// object read into NewWorkloadObject's object. A CronJob, which has no
// selector of its own, and a bare Pod are selected by their pods' labels.
func WorkloadFrom(ref *v1alpha1.WorkloadReference, namespace string, obj client.Object) (*Workload, error) {
	w := &Workload{Ref: ref, SelectorFrom: "its selector"}
	var template *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		w.Selector, template = o.Spec.Selector, &o.Spec.Template
	case *appsv1.StatefulSet:
		w.Selector, template = o.Spec.Selector, &o.Spec.Template
	case *appsv1.DaemonSet:
		w.Selector, template = o.Spec.Selector, &o.Spec.Template
	case *batchv1.Job:
		w.Selector, template = o.Spec.Selector, &o.Spec.Template
	case *batchv1.CronJob:
		// A CronJob has no selector of its own: its Jobs get one each.
		template = &o.Spec.JobTemplate.Spec.Template
		if len(template.Labels) == 0 {
			return nil, fmt.Errorf("cronjob %s has no labels on its pod template (spec.jobTemplate.spec.template.metadata.labels), and footprint selects pods by label: add one, e.g. app: %s", ref.Name, ref.Name)
		}
		w.Selector = &metav1.LabelSelector{MatchLabels: template.Labels}
		w.SelectorFrom = "the labels of its pod template"
	case *corev1.Pod:
		template = &corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}
		if len(o.Labels) == 0 {
			return nil, fmt.Errorf("pod %s has no labels, and footprint selects pods by label: label it first, e.g. kubectl label pod %s -n %s app=%s", ref.Name, ref.Name, namespace, ref.Name)
		}
		w.Selector = &metav1.LabelSelector{MatchLabels: o.Labels}
		w.SelectorFrom = "its labels"
	default:
		return nil, fmt.Errorf("%s %s: a %T is not a workload", ref.Kind, ref.Name, obj)
	}
	if w.Selector == nil || len(w.Selector.MatchLabels) == 0 && len(w.Selector.MatchExpressions) == 0 {
		return nil, fmt.Errorf("%s %s has no pod selector", strings.ToLower(ref.Kind), ref.Name)
	}
	for _, c := range template.Spec.Containers {
		w.Containers = append(w.Containers, c.Name)
	}
	for _, c := range template.Spec.InitContainers {
		w.InitContainers = append(w.InitContainers, c.Name)
	}
	return w, nil
}
