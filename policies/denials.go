package policies

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Denial is one profile entry a policy would not allow.
type Denial struct {
	Kind    profiles.EntryKind
	Entry   string  // the entry as a profile table shows it
	Verdict Verdict // what the enforcer would do: Audit, Deny or Kill
	Reason  string  // the matcher's explanation
	Count   int64   // how often the profile saw it
}

// WouldDeny lists what the workload did, according to its profile, that the
// policy would not allow: the violations it would report in Audit mode, or
// the operations it would stop in Enforce mode. Capability checks the kernel
// refused anyway and probes are not listed, as the policy does not govern
// them. An entry that stands for many paths (`/proc/*/status`, `dir/**`) is
// listed when the policy does not allow every path it stands for.
func WouldDeny(p *v1alpha1.Profile, policy *v1alpha1.EnforcementPolicy) ([]Denial, error) {
	m, err := NewMatcher(&policy.Spec)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", policy.Name, err)
	}
	spec := profiles.NormalizeSpec(p.Spec)
	var out []Denial
	for _, c := range spec.Capabilities {
		n, err := profiles.ParseCapability(c.Name)
		if err != nil {
			continue // a capability newer than footprint: no policy can name it
		}
		d := m.Capability(CapabilityCheck{Capability: n, UserNamespace: c.UserNamespace, NoAudit: c.Probe, WouldBeGranted: c.Verdict == v1alpha1.VerdictGranted})
		if !d.Allowed {
			out = append(out, Denial{Kind: profiles.KindCapability, Entry: profiles.CapabilityEntryName(c), Verdict: d.Verdict, Reason: d.Reason, Count: c.Count})
		}
	}
	for _, f := range spec.Files {
		if d, ok := firstRefusal(f.Path, m.maxRuleDepth(), func(path string) Decision { return m.FileOpen(path, f.Access...) }); !ok {
			out = append(out, Denial{Kind: profiles.KindFile, Entry: f.Path + " (" + profiles.JoinAccess(f.Access) + ")", Verdict: d.Verdict, Reason: d.Reason, Count: f.Count})
		}
	}
	for _, c := range spec.Connections {
		ip, err := netip.ParseAddr(c.Address)
		if err != nil {
			continue // validated profiles hold addresses only
		}
		if d := m.Connect(c.Protocol, ip, uint16(c.Port)); !d.Allowed {
			out = append(out, Denial{Kind: profiles.KindConnection, Entry: profiles.ConnectionName(c), Verdict: d.Verdict, Reason: d.Reason, Count: c.Count})
		}
	}
	for _, s := range spec.Sockets {
		if d := m.Socket(s.SocketRule); !d.Allowed {
			out = append(out, Denial{Kind: profiles.KindSocket, Entry: profiles.SocketName(s.SocketRule), Verdict: d.Verdict, Reason: d.Reason, Count: s.Count})
		}
	}
	for _, e := range spec.Executables {
		if d, ok := firstRefusal(e.Path, m.maxRuleDepth(), m.Exec); !ok {
			out = append(out, Denial{Kind: profiles.KindExecutable, Entry: e.Path, Verdict: d.Verdict, Reason: d.Reason, Count: e.Count})
		}
	}
	return out, nil
}

// anyName stands for "whatever name is here" when a profile glob is checked
// against a policy. It cannot be a real file name (it holds a NUL), so only
// a policy `*` or `**` can match it, which is exactly when the policy allows
// every name the glob stands for.
const anyName = "\x00any"

// instances returns concrete paths standing for every path a profile
// pattern covers, for the purpose of asking a policy about them: a component
// holding `*` becomes anyName, and `**` becomes every depth from none up to
// one more than the policy's deepest rule. Past that depth only a policy
// `/**` rule can match, and one that matches there matches all deeper paths.
func instances(pattern string, maxRuleDepth int) []string {
	if !strings.HasPrefix(pattern, "/") {
		return []string{pattern}
	}
	paths := []string{""}
	for _, c := range profiles.SplitPath(pattern) {
		var next []string
		switch {
		case c == anyDescendants:
			for _, p := range paths {
				suffix := ""
				for depth := 0; depth <= maxRuleDepth+1; depth++ {
					next = append(next, p+suffix)
					suffix += "/" + anyName
				}
			}
		case strings.Contains(c, anyComponent):
			for _, p := range paths {
				next = append(next, p+"/"+anyName)
			}
		default:
			for _, p := range paths {
				next = append(next, p+"/"+c)
			}
		}
		paths = next
		if len(paths) > 4096 { // a pathological pattern: check a sample
			paths = paths[:4096]
		}
	}
	for i, p := range paths {
		if p == "" {
			paths[i] = "/"
		}
	}
	return paths
}

// firstRefusal checks every instance of a profile path pattern and returns
// the first decision that refuses one.
func firstRefusal(pattern string, maxRuleDepth int, decide func(string) Decision) (Decision, bool) {
	for _, path := range instances(pattern, maxRuleDepth) {
		if d := decide(path); !d.Allowed {
			d.Reason = strings.ReplaceAll(d.Reason, anyName, "*")
			return d, false
		}
	}
	return Decision{Allowed: true}, true
}

// maxRuleDepth is the number of components of the policy's deepest path rule.
func (m *Matcher) maxRuleDepth() int {
	depth := 0
	for _, r := range m.files {
		depth = max(depth, len(r.components))
	}
	for _, r := range m.executables {
		depth = max(depth, len(r.components))
	}
	return depth
}
