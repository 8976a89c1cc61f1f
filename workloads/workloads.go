// Package workloads is footprint's one description of the kinds of workload
// it profiles and enforces policies for: their names as the API and kubectl
// spell them, the API version they are served at, where their objects keep
// their pods' spec, and how a pod's controller references lead to its
// workload. It is pure logic, as generator and profiles that use it: the
// code that reads these objects from the API server is internal/kubepods.
package workloads

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// The kinds of workload, as the API spells them.
const (
	Deployment  = "Deployment"
	StatefulSet = "StatefulSet"
	DaemonSet   = "DaemonSet"
	Job         = "Job"
	CronJob     = "CronJob"
	// Pod is a pod's own workload: a bare pod's, and that of a pod whose
	// controller is not a workload (a bare ReplicaSet, an operator's
	// resource).
	Pod = "Pod"
	// ReplicaSet is not a workload: it stands between a Deployment and its
	// pods.
	ReplicaSet = "ReplicaSet"
)

// Kind describes one kind of workload.
type Kind struct {
	// Name is the kind as the API spells it: Deployment.
	Name string
	// APIVersion is the group version its objects are served at.
	APIVersion string
	// Spellings are the other lower-case names kubectl accepts for it:
	// plural and short names.
	Spellings []string
	// PodSpecPath is where its objects keep their pods' spec.
	PodSpecPath []string
}

var kinds = []Kind{
	{Name: Deployment, APIVersion: "apps/v1", Spellings: []string{"deployments", "deploy"}, PodSpecPath: []string{"spec", "template", "spec"}},
	{Name: StatefulSet, APIVersion: "apps/v1", Spellings: []string{"statefulsets", "sts"}, PodSpecPath: []string{"spec", "template", "spec"}},
	{Name: DaemonSet, APIVersion: "apps/v1", Spellings: []string{"daemonsets", "ds"}, PodSpecPath: []string{"spec", "template", "spec"}},
	{Name: Job, APIVersion: "batch/v1", Spellings: []string{"jobs"}, PodSpecPath: []string{"spec", "template", "spec"}},
	{Name: CronJob, APIVersion: "batch/v1", Spellings: []string{"cronjobs", "cj"}, PodSpecPath: []string{"spec", "jobTemplate", "spec", "template", "spec"}},
	{Name: Pod, APIVersion: "v1", Spellings: []string{"pods", "po"}, PodSpecPath: []string{"spec"}},
}

// Kinds are the names of the kinds of workload, in the order footprint
// lists them.
var Kinds = func() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return names
}()

// Lookup finds a kind by its name or any spelling kubectl accepts for it
// (deployment, deploy, Deployment, deployments), in any case.
func Lookup(name string) (Kind, bool) {
	name = strings.ToLower(name)
	i := slices.IndexFunc(kinds, func(k Kind) bool {
		return strings.ToLower(k.Name) == name || slices.Contains(k.Spellings, name)
	})
	if i < 0 {
		return Kind{}, false
	}
	return kinds[i], true
}

// ByName finds a kind by its name as the API spells it (Deployment).
func ByName(name string) (Kind, bool) {
	i := slices.IndexFunc(kinds, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	return kinds[i], true
}

// APIVersion returns the API version a workload kind is served at, "" for
// a kind that is not a workload's.
func APIVersion(kind string) string {
	k, _ := Lookup(kind)
	return k.APIVersion
}

// List names the kinds for a message: "Deployment, StatefulSet, DaemonSet,
// Job, CronJob and Pod"; lower-case ones with lower.
func List(lower bool, conjunction string) string {
	names := slices.Clone(Kinds)
	if lower {
		for i := range names {
			names[i] = strings.ToLower(names[i])
		}
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conjunction + " " + names[len(names)-1]
}

// Parse reads a workload the way kubectl names one, KIND/NAME
// (deployment/web, sts/db, Pod/debug), and returns a reference to it.
func Parse(s string) (*v1alpha1.WorkloadReference, error) {
	kind, name, ok := strings.Cut(s, "/")
	want := "want KIND/NAME with KIND one of " + List(true, "or") + ", e.g. deployment/web"
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("workload %q: %s", s, want)
	}
	k, known := Lookup(kind)
	if !known {
		return nil, fmt.Errorf("workload %q: unknown kind %q: %s", s, kind, want)
	}
	return &v1alpha1.WorkloadReference{APIVersion: k.APIVersion, Kind: k.Name, Name: name}, nil
}

// Owner is what a pod's controller of some kind says of the pod's
// workload.
type Owner struct {
	// Parent is the kind of the owner's own controller that is the
	// workload (a ReplicaSet's Deployment, a Job's CronJob): the owner must
	// be read to find it. "" when the owner says it all.
	Parent string
	// IsWorkload says the owner is the workload when no Parent controls
	// it (a Job, a StatefulSet); otherwise the pod is its own (a bare
	// ReplicaSet's pods).
	IsWorkload bool
}

// owners are the kinds of pod controller that lead to a workload; a pod
// controlled by anything else is profiled as a Pod.
var owners = map[string]Owner{
	ReplicaSet:  {Parent: Deployment},
	Job:         {Parent: CronJob, IsWorkload: true},
	StatefulSet: {IsWorkload: true},
	DaemonSet:   {IsWorkload: true},
}

// OwnerOf returns the rule for a pod controller's kind; false for a kind
// that does not lead to a workload.
func OwnerOf(kind string) (Owner, bool) {
	o, ok := owners[kind]
	return o, ok
}

// Of follows a pod's controller references up to the workload a user
// manages: Deployment (through its ReplicaSet), StatefulSet, DaemonSet,
// CronJob (through its Job), Job, or the pod itself, which is also what a
// pod controlled by anything else is profiled as. controller is the pod's
// (metav1.GetControllerOf: nil for none). parentOf reads an owner's own
// controller, and is called only for owners whose rule has a Parent: it
// returns nil when the owner has none or does not exist.
func Of(podName string, controller *metav1.OwnerReference, parentOf func(owner *metav1.OwnerReference) (*metav1.OwnerReference, error)) (v1alpha1.WorkloadReference, error) {
	pod := v1alpha1.WorkloadReference{Kind: Pod, Name: podName}
	if controller == nil {
		return pod, nil
	}
	rule, ok := OwnerOf(controller.Kind)
	if !ok {
		return pod, nil
	}
	if rule.Parent != "" {
		parent, err := parentOf(controller)
		if err != nil {
			return v1alpha1.WorkloadReference{}, err
		}
		if parent != nil && parent.Kind == rule.Parent {
			return v1alpha1.WorkloadReference{Kind: parent.Kind, Name: parent.Name}, nil
		}
	}
	if rule.IsWorkload {
		return v1alpha1.WorkloadReference{Kind: controller.Kind, Name: controller.Name}, nil
	}
	return pod, nil
}
