package generator

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/workloads"
)

// Target names the workload container an artifact is for. Zero fields are
// taken from the profile.
type Target struct {
	// Workload is the object that owns the container.
	Workload *v1alpha1.WorkloadReference
	// Container is the container's name in the pod template.
	Container string
	// Namespace is where the workload runs.
	Namespace string
}

// resolveTarget fills the target's blanks from the profile.
func resolveTarget(p *v1alpha1.Profile, t Target) Target {
	if t.Workload == nil && p.Spec.Workload != nil {
		t.Workload = p.Spec.Workload.DeepCopy()
	}
	if t.Workload != nil && t.Workload.APIVersion == "" {
		t.Workload.APIVersion = workloads.APIVersion(t.Workload.Kind)
	}
	if t.Container == "" {
		t.Container = p.Spec.Container
	}
	if t.Namespace == "" {
		t.Namespace = p.Namespace
	}
	return t
}

var errNoWorkload = errors.New("the profile names no workload (it was recorded from a local command): say which object it is for with --workload KIND/NAME, e.g. --workload deployment/web")

var errNoContainer = errors.New("the profile names no container: say which one with --container NAME")

// artifactName derives a name for a generated object: the profile's name,
// or the workload and container, or the command's program.
func artifactName(p *v1alpha1.Profile, t Target) string {
	switch {
	case p.Name != "":
		return p.Name
	case t.Workload != nil && t.Container != "":
		return dnsName(strings.ToLower(t.Workload.Name + "-" + t.Container))
	case t.Workload != nil:
		return dnsName(strings.ToLower(t.Workload.Name))
	case len(p.Spec.Command) > 0:
		return dnsName(strings.ToLower(path.Base(p.Spec.Command[0])))
	}
	return "footprint"
}

// dnsName makes s a valid object name: lower-case letters, digits and
// dashes, starting and ending with an alphanumeric, at most 63 characters.
func dnsName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.Trim(out[:63], "-")
	}
	if out == "" {
		return "footprint"
	}
	return out
}

// describeTarget writes "container app of Deployment web".
func describeTarget(t Target) string {
	var parts []string
	if t.Container != "" {
		parts = append(parts, fmt.Sprintf("container %q", t.Container))
	}
	if t.Workload != nil {
		parts = append(parts, fmt.Sprintf("%s %s", t.Workload.Kind, t.Workload.Name))
	}
	if len(parts) == 0 {
		return "the recorded command"
	}
	return strings.Join(parts, " of ")
}

// describeProfile says where a profile came from, for a header comment:
// "profile shop/web-app: 2 pods on 2 nodes, 2025-01-01 10:00 to 11:00 UTC".
func describeProfile(p *v1alpha1.Profile) string {
	name := p.Name
	if p.Namespace != "" {
		name = p.Namespace + "/" + name
	}
	if name == "" {
		name = "(unnamed)"
	}
	s := "profile " + name
	if len(p.Spec.Command) > 0 {
		s += " of `" + strings.Join(p.Spec.Command, " ") + "`"
	}
	sources := p.Spec.Sources
	if len(sources) == 0 {
		return s
	}
	var nodes, pods []string
	first, last := sources[0].FirstSeen.Time, sources[0].LastSeen.Time
	for _, src := range sources {
		if src.Node != "" && !slices.Contains(nodes, src.Node) {
			nodes = append(nodes, src.Node)
		}
		if src.Pod != "" && !slices.Contains(pods, src.Pod) {
			pods = append(pods, src.Pod)
		}
		if src.FirstSeen.Time.Before(first) {
			first = src.FirstSeen.Time
		}
		if src.LastSeen.Time.After(last) {
			last = src.LastSeen.Time
		}
	}
	var where []string
	if len(pods) > 0 {
		where = append(where, plural(len(pods), "pod", "pods"))
	} else {
		where = append(where, plural(len(sources), "run", "runs"))
	}
	if len(nodes) > 0 {
		where = append(where, "on "+plural(len(nodes), "node", "nodes"))
	}
	span := ""
	if !first.IsZero() {
		span = fmt.Sprintf(", %s to %s UTC", first.UTC().Format("2006-01-02 15:04"), last.UTC().Format("2006-01-02 15:04"))
	}
	return s + " (" + strings.Join(where, " ") + span + ")"
}

// recordedKinds says which kinds of event the profile's sources recorded,
// from their backends. known is false when no source says (an older or
// hand-written profile), in which case every kind is assumed recorded.
func recordedKinds(p *v1alpha1.Profile) (kinds map[string]bool, known bool) {
	kinds = map[string]bool{}
	for _, s := range p.Spec.Sources {
		for kind := range s.Backends {
			kinds[kind] = true
			known = true
		}
	}
	return kinds, known
}

// kindRecorded reports whether a kind of event was recorded, accepting the
// spellings a recorder may use for it.
func kindRecorded(p *v1alpha1.Profile, names ...string) bool {
	kinds, known := recordedKinds(p)
	if !known {
		return true
	}
	for _, n := range names {
		if kinds[n] {
			return true
		}
	}
	return false
}
