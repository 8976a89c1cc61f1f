package generator

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The types below mirror the subset of Tetragon's cilium.io/v1alpha1
// TracingPolicyNamespaced that footprint writes, field for field with the
// JSON names of Tetragon's CRD (pkg/k8s/apis/cilium.io/v1alpha1 in
// cilium/tetragon). Importing Tetragon's module for its types would pull in
// most of Tetragon; the tests decode generated policies strictly into these
// types, so a misspelt field cannot slip through.

// TetragonAPIVersion is the API version of Tetragon's policies.
const TetragonAPIVersion = "cilium.io/v1alpha1"

// TracingPolicyNamespaced is Tetragon's namespaced tracing policy.
type TracingPolicyNamespaced struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       TracingPolicySpec `json:"spec"`
}

// TracingPolicySpec is the spec of a tracing policy.
type TracingPolicySpec struct {
	PodSelector       *metav1.LabelSelector `json:"podSelector,omitempty"`
	ContainerSelector *metav1.LabelSelector `json:"containerSelector,omitempty"`
	Options           []TetragonOption      `json:"options,omitempty"`
	KProbes           []KProbeSpec          `json:"kprobes,omitempty"`
}

// TetragonOption is one of a policy's options, e.g. policy-mode.
type TetragonOption struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// KProbeSpec hooks one kernel function.
type KProbeSpec struct {
	Call string `json:"call"`
	// Syscall is written even when false: Tetragon's default is true.
	Syscall   bool             `json:"syscall"`
	Message   string           `json:"message,omitempty"`
	Args      []KProbeArg      `json:"args,omitempty"`
	Selectors []KProbeSelector `json:"selectors,omitempty"`
	Tags      []string         `json:"tags,omitempty"`
}

// KProbeArg declares one argument of the hooked function.
type KProbeArg struct {
	Index uint32 `json:"index"`
	Type  string `json:"type"`
	Label string `json:"label,omitempty"`
}

// KProbeSelector filters calls in the kernel and acts on the ones that
// match. Selectors are tried in order; the first that matches applies its
// actions.
type KProbeSelector struct {
	MatchArgs    []ArgSelector    `json:"matchArgs,omitempty"`
	MatchActions []ActionSelector `json:"matchActions,omitempty"`
}

// ArgSelector compares one argument with values.
type ArgSelector struct {
	Index    uint32   `json:"index"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// ActionSelector is one action of a matching selector.
type ActionSelector struct {
	Action    string `json:"action"`
	ArgError  int32  `json:"argError,omitempty"`
	RateLimit string `json:"rateLimit,omitempty"`
}
