package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Summarize computes the summary `kubectl get profiles` shows from the spec:
// the number of distinct capabilities, of file, connection and executable
// entries, of system calls, the recording that last added to the profile, the pods, nodes and images
// observed and the time span. Writers call it (and store the result
// through the status subresource) whenever they change the spec.
func (s *ProfileSpec) Summarize() *ProfileSummary {
	sum := &ProfileSummary{
		Files:       int32(len(s.Files)),
		Connections: int32(len(s.Connections)),
		Executables: int32(len(s.Executables)),
	}
	for _, set := range s.Syscalls {
		sum.Syscalls += int32(len(set.Names))
	}
	caps := map[string]bool{}
	for _, c := range s.Capabilities {
		caps[c.Name] = true
	}
	sum.Capabilities = int32(len(caps))
	pods, nodes, images := map[string]bool{}, map[string]bool{}, map[Image]bool{}
	var latest metav1.Time
	for _, src := range s.Sources {
		if src.Pod != "" {
			pods[src.Pod] = true
		}
		if src.Node != "" {
			nodes[src.Node] = true
		}
		for _, img := range src.Images {
			images[img] = true
		}
		if !src.FirstSeen.IsZero() && (sum.FirstSeen == nil || src.FirstSeen.Before(sum.FirstSeen)) {
			sum.FirstSeen = src.FirstSeen.DeepCopy()
		}
		if !src.LastSeen.IsZero() && (sum.LastSeen == nil || sum.LastSeen.Before(&src.LastSeen)) {
			sum.LastSeen = src.LastSeen.DeepCopy()
		}
		if src.Recording != "" && (sum.Recording == "" || !src.LastSeen.Before(&latest)) {
			sum.Recording, latest = src.Recording, src.LastSeen
		}
	}
	sum.Pods, sum.Nodes, sum.Images = int32(len(pods)), int32(len(nodes)), int32(len(images))
	return sum
}

// Summarize refreshes the profile's status summary from its spec.
func (p *Profile) Summarize() {
	p.Status.Summary = p.Spec.Summarize()
}
