// Package v1alpha1 holds footprint's API types in group footprint.dev: the
// ProfileRecording (which containers to record, what and for how long), the
// Profile (what a workload container was observed doing) and the
// EnforcementPolicy (what selected containers may do, enforced in the kernel).
// `kubectl get footprint` lists all three. The CRD manifests generated from
// these types are in deploy/crds.
// The same types are the file format of the local commands (`footprint record`
// writes a Profile as YAML), so a profile recorded on a laptop and one recorded
// in a cluster are interchangeable.
//
// +kubebuilder:object:generate=true
// +groupName=footprint.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "footprint.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this package's types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
