package kubepods

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

// ContainerImages are the images a pod's container is known by: the one
// kubelet reports it running (with its digest once it has started) and,
// when the pod spec names another (a bare pod whose image was changed and
// whose container has not restarted yet), that one too. The first is what
// the container ran, for a profile's source; a policy must know each.
func ContainerImages(pod *corev1.Pod, container string) []v1alpha1.Image {
	var specified v1alpha1.Image
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		if i := slices.IndexFunc(list, func(c corev1.Container) bool { return c.Name == container }); i >= 0 {
			specified = profiles.ParseImageReference(list[i].Image)
		}
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		i := slices.IndexFunc(list, func(s corev1.ContainerStatus) bool { return s.Name == container })
		if i < 0 || (list[i].Image == "" && list[i].ImageID == "") {
			continue
		}
		running := profiles.ImageFromStatus(list[i].Image, list[i].ImageID)
		if specified.Name == "" || specified.Name == running.Name || specified.Digest != "" && specified.Digest == running.Digest {
			return []v1alpha1.Image{running}
		}
		return []v1alpha1.Image{running, specified}
	}
	if specified == (v1alpha1.Image{}) {
		return nil
	}
	return []v1alpha1.Image{specified}
}

// PodImageDecision is the mode a policy applies to a pod: the pod is held
// in Audit as a whole when one of its selected containers runs an image
// the policy holds in Audit (its cgroup is held before the containers
// start, so it cannot be held per container from their first instruction).
type PodImageDecision struct {
	Mode v1alpha1.EnforcementMode
	// Record are the selected containers to record into the policy's
	// profile: they run images the policy was not recorded from.
	Record []string
	// Images are the decisions per image the pod's selected containers
	// run.
	Images map[v1alpha1.Image]policies.ImageDecision
}

// DecidePod applies DecideImage to each container of pod the policy
// selects.
func DecidePod(policy *v1alpha1.EnforcementPolicySpec, pod *corev1.Pod) PodImageDecision {
	out := PodImageDecision{Mode: policy.Mode, Images: map[v1alpha1.Image]policies.ImageDecision{}}
	if out.Mode == "" {
		out.Mode = v1alpha1.ModeAudit
	}
	var named []string
	if policy.Selector != nil {
		named = policy.Selector.Containers
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if len(named) > 0 && !slices.Contains(named, c.Name) {
				continue
			}
			record := false
			for _, img := range ContainerImages(pod, c.Name) {
				d := policies.DecideImage(policy, img)
				out.Images[img] = d
				if d.Mode == v1alpha1.ModeAudit {
					out.Mode = v1alpha1.ModeAudit
				}
				record = record || d.Record
			}
			if record {
				out.Record = append(out.Record, c.Name)
			}
		}
	}
	return out
}

// PolicyPods lists the pods on node that an EnforcementPolicy selects: by
// label, and by workload through workloads.
func PolicyPods(ctx context.Context, c client.Client, workloads *Workloads, node string, p *v1alpha1.EnforcementPolicy) ([]*corev1.Pod, error) {
	sel := p.Spec.Selector
	if sel == nil {
		return nil, nil
	}
	selector := labels.Everything()
	if sel.PodSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(sel.PodSelector)
		if err != nil {
			return nil, fmt.Errorf("spec.selector.podSelector: %w", err)
		}
		selector = s
	}
	var list corev1.PodList
	if err := c.List(ctx, &list, client.InNamespace(p.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("list the pods policy %s/%s selects: %w", p.Namespace, p.Name, err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		pod := &list.Items[i]
		if pod.Spec.NodeName != node || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if sel.Workload != nil {
			w, err := workloads.Of(ctx, pod)
			if err != nil {
				return nil, fmt.Errorf("find the workload of pod %s/%s: %w", pod.Namespace, pod.Name, err)
			}
			if w.Kind != sel.Workload.Kind || w.Name != sel.Workload.Name {
				continue
			}
		}
		out = append(out, pod)
	}
	return out, nil
}
