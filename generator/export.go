package generator

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// ExportOptions are the choices of Export. Each artifact reads the ones
// its own options have.
type ExportOptions struct {
	Target
	// Name names the generated object (default: the profile's).
	Name          string
	Mode          v1alpha1.EnforcementMode
	Action        v1alpha1.EnforcementAction
	Unpreventable v1alpha1.UnpreventableAction
	PodSelector   *metav1.LabelSelector
	// AllowDirectories widen a policy on purpose (PolicyOptions).
	AllowDirectories []string
	// InitContainer and SeccompLocalhost are a securityContext patch's
	// (SecurityContextOptions).
	InitContainer    bool
	SeccompLocalhost string
	// Resolver resolves a NetworkPolicy's destinations (nil: IP blocks).
	Resolver AddressResolver
	// SeccompFormat is a seccomp profile's: "oci" (the JSON runtimes
	// load) or "spo" (a Security Profiles Operator SeccompProfile).
	SeccompFormat string
}

// UnknownFormatError is a seccomp format Export does not write.
type UnknownFormatError struct{ Format string }

func (e *UnknownFormatError) Error() string {
	return fmt.Sprintf("seccomp format %q: use oci (the JSON runtimes load) or spo (a Security Profiles Operator SeccompProfile)", e.Format)
}

// Export writes one artifact of a profile, by the name footprint export
// gives it: securitycontext (SecurityContextPatch), policy (PolicyYAML),
// networkpolicy (NetworkPolicyYAML), tetragon (TetragonYAML) or seccomp
// (Seccomp, as OCI JSON or a SeccompProfile). notes say what a seccomp
// profile allows more widely than recorded; they come with an error too.
func Export(p *v1alpha1.Profile, artifact string, o ExportOptions) (out []byte, notes []string, err error) {
	switch artifact {
	case "securitycontext":
		out, err = SecurityContextPatch(p, SecurityContextOptions{Target: o.Target, InitContainer: o.InitContainer, SeccompLocalhost: o.SeccompLocalhost})
	case "policy":
		out, err = PolicyYAML(p, PolicyOptions{Target: o.Target, Name: o.Name, Mode: o.Mode, Action: o.Action, Unpreventable: o.Unpreventable, PodSelector: o.PodSelector, AllowDirectories: o.AllowDirectories})
	case "networkpolicy":
		out, err = NetworkPolicyYAML(p, NetworkPolicyOptions{Target: o.Target, Name: o.Name, PodSelector: o.PodSelector, Resolver: o.Resolver})
	case "tetragon":
		out, err = TetragonYAML(p, TetragonOptions{Target: o.Target, Name: o.Name, Mode: o.Mode, Action: o.Action, PodSelector: o.PodSelector})
	case "seccomp":
		return exportSeccomp(p, o)
	default:
		err = fmt.Errorf("unknown artifact %q: use securitycontext, policy, networkpolicy, tetragon or seccomp", artifact)
	}
	return out, nil, err
}

// exportSeccomp writes the profile's seccomp allow-list in the format asked
// for.
func exportSeccomp(p *v1alpha1.Profile, o ExportOptions) ([]byte, []string, error) {
	s, err := Seccomp(p, SeccompOptions{Mode: o.Mode})
	if err != nil {
		return nil, nil, err
	}
	switch o.SeccompFormat {
	case "oci":
		out, err := s.JSON()
		return out, s.Notes, err
	case "spo":
		name := o.Name
		if name == "" {
			name = p.Name
		}
		namespace := o.Namespace
		if namespace == "" {
			namespace = p.Namespace
		}
		if name == "" {
			return nil, s.Notes, errors.New("a SeccompProfile needs a name: give --name (the profile has none)")
		}
		out, err := yaml.Marshal(SPOSeccomp(s, name, namespace))
		return out, s.Notes, err
	}
	return nil, s.Notes, &UnknownFormatError{Format: o.SeccompFormat}
}
