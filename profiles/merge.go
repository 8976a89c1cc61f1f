package profiles

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// Merge combines two profiles of the same workload container (replicas,
// nodes, successive flushes of one recording, or several local runs) into
// one: the union of their entries, with access modes and flags united and the
// sources of both listed. Both are normalised first.
//
// Merge is commutative, associative and idempotent on spec and status, so
// merging the same partial profile twice (a retried update after a conflict,
// an agent that flushes a cumulative snapshot again) changes nothing. That is
// why an entry's count in the result is the larger of the two counts rather
// than their sum: the two may be the same observation. Per-replica totals stay
// exact in Sources, where each node and pod has its own line.
//
// The result's metadata is a's: to merge into a stored object, pass it first.
// Merging profiles of different workloads or containers is an error.
func Merge(a, b *v1alpha1.Profile) (*v1alpha1.Profile, error) {
	spec, err := MergeSpec(a.Spec, b.Spec)
	if err != nil {
		return nil, err
	}
	out := &v1alpha1.Profile{TypeMeta: a.TypeMeta, ObjectMeta: *a.ObjectMeta.DeepCopy(), Spec: spec}
	out.Status.Conditions = mergeConditions(a.Status.Conditions, b.Status.Conditions)
	return out, nil
}

// MergeSpec is Merge for specs alone.
func MergeSpec(a, b v1alpha1.ProfileSpec) (v1alpha1.ProfileSpec, error) {
	a, b = NormalizeSpec(a), NormalizeSpec(b)
	workload, err := mergeWorkloads(a.Workload, b.Workload)
	if err != nil {
		return v1alpha1.ProfileSpec{}, err
	}
	if a.Container != "" && b.Container != "" && a.Container != b.Container {
		return v1alpha1.ProfileSpec{}, fmt.Errorf("cannot merge profiles of different containers %q and %q: a profile describes one container", a.Container, b.Container)
	}
	return v1alpha1.ProfileSpec{
		Workload:     workload,
		Container:    minKnown(a.Container, b.Container),
		Command:      mergeCommands(a.Command, b.Command),
		Capabilities: foldCapabilities(a.Capabilities, b.Capabilities, maxCount),
		Files:        foldFiles(a.Files, b.Files, maxCount),
		Connections:  foldConnections(a.Connections, b.Connections, maxCount),
		Executables:  foldExecutables(a.Executables, b.Executables, maxCount),
		Sockets:      foldSockets(a.Sockets, b.Sockets, maxCount),
		Syscalls:     foldSyscalls(a.Syscalls, b.Syscalls),
		Collapsed:    foldCollapsed(a.Collapsed, b.Collapsed),
		Sources:      foldSources(a.Sources, b.Sources),
	}, nil
}

func mergeWorkloads(a, b *v1alpha1.WorkloadReference) (*v1alpha1.WorkloadReference, error) {
	switch {
	case a == nil && b == nil:
		return nil, nil
	case a == nil:
		return b.DeepCopy(), nil
	case b == nil:
		return a.DeepCopy(), nil
	}
	if a.Kind != b.Kind || a.Name != b.Name {
		return nil, fmt.Errorf("cannot merge profiles of different workloads %s/%s and %s/%s: a profile describes one workload container", a.Kind, a.Name, b.Kind, b.Name)
	}
	out := a.DeepCopy()
	out.APIVersion = minKnown(a.APIVersion, b.APIVersion)
	return out, nil
}

// mergeCommands keeps the command line of a local run. When two runs used
// different command lines, the first in sort order is kept: a fixed rule, so
// that merging stays commutative.
func mergeCommands(a, b []string) []string {
	switch {
	case len(a) == 0:
		return slices.Clone(b)
	case len(b) == 0:
		return slices.Clone(a)
	case slices.Compare(a, b) <= 0:
		return slices.Clone(a)
	default:
		return slices.Clone(b)
	}
}

// mergeConditions keeps one condition per type: the later transition, and
// between conditions that changed at the same time, the greater by status,
// reason and message, so the choice does not depend on argument order.
func mergeConditions(a, b []metav1.Condition) []metav1.Condition {
	byType := map[string]metav1.Condition{}
	for _, list := range [][]metav1.Condition{a, b} {
		for _, c := range list {
			if have, ok := byType[c.Type]; !ok || conditionLess(have, c) {
				byType[c.Type] = c
			}
		}
	}
	out := make([]metav1.Condition, 0, len(byType))
	for _, c := range byType {
		out = append(out, c)
	}
	slices.SortFunc(out, compareConditionTypes)
	return nilIfEmpty(out)
}

func conditionLess(a, b metav1.Condition) bool {
	if !a.LastTransitionTime.Equal(&b.LastTransitionTime) {
		return a.LastTransitionTime.Before(&b.LastTransitionTime)
	}
	for _, pair := range [][2]string{{string(a.Status), string(b.Status)}, {a.Reason, b.Reason}, {a.Message, b.Message}} {
		if pair[0] != pair[1] {
			return pair[0] < pair[1]
		}
	}
	return a.ObservedGeneration < b.ObservedGeneration
}

func compareConditionTypes(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) }
