package rules

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
)

// checkInvariants checks the structural promises of the package doc.
func checkInvariants(t testing.TB, c *Compiled) {
	t.Helper()
	for _, tree := range []struct {
		name string
		t    *PathTree
	}{{"files", c.Files}, {"executables", c.Executables}} {
		if tree.t == nil {
			continue
		}
		nodes := tree.t.Nodes
		if len(nodes) == 0 || len(nodes) > MaxPathNodes {
			t.Fatalf("%s: %d nodes", tree.name, len(nodes))
		}
		if r := nodes[0]; r.Parent != -1 || r.Name != "" || r.Wildcard {
			t.Fatalf("%s: root is %+v", tree.name, r)
		}
		for i, n := range nodes {
			if n.Descendants&^n.Access != 0 {
				t.Fatalf("%s: node %d (%s): Descendants %s not within Access %s", tree.name, i, tree.t.Pattern(i), n.Descendants, n.Access)
			}
			if tree.name == "executables" && (n.Access|n.Descendants)&^AccessExec != 0 {
				t.Fatalf("executables: node %d grants %s", i, n.Access)
			}
			if i == 0 {
				continue
			}
			if n.Parent < 0 || n.Parent >= i {
				t.Fatalf("%s: node %d has parent %d", tree.name, i, n.Parent)
			}
			if n.Wildcard != (n.Name == "") {
				t.Fatalf("%s: node %d: wildcard %v with name %q", tree.name, i, n.Wildcard, n.Name)
			}
			if len(n.Name) > MaxComponentLen || strings.ContainsAny(n.Name, "/\x00") {
				t.Fatalf("%s: node %d: bad name %q", tree.name, i, n.Name)
			}
			if i > 1 && compareNodes(nodes[i-1], n) >= 0 {
				t.Fatalf("%s: nodes %d and %d are not in (Parent, Wildcard, Name) order: %+v, %+v", tree.name, i-1, i, nodes[i-1], n)
			}
		}
	}
	if !c.ConnectGoverned && len(c.Connect) > 0 {
		t.Fatalf("connect rules without ConnectGoverned")
	}
	if len(c.Connect) > MaxConnectRules {
		t.Fatalf("%d connect rules", len(c.Connect))
	}
	for i, r := range c.Connect {
		if !r.Prefix.Addr().Is6() || r.Prefix.Masked() != r.Prefix || r.Prefix.Addr().Zone() != "" {
			t.Fatalf("connect[%d]: prefix %s is not a masked IPv6 prefix", i, r.Prefix)
		}
		if r.AnyPort && r.Port != 0 {
			t.Fatalf("connect[%d]: AnyPort with port %d", i, r.Port)
		}
		if i > 0 && compareConnectRules(c.Connect[i-1], r) >= 0 {
			t.Fatalf("connect rules %d and %d out of order: %v, %v", i-1, i, c.Connect[i-1], r)
		}
	}
}

// enforcedSpec rewrites a spec the way the compiler enforces it (literal
// components longer than MaxComponentLen become *), so that the compiled
// rules must agree exactly with the rewritten spec's policies.Matcher.
func enforcedSpec(spec *v1alpha1.EnforcementPolicySpec) (*v1alpha1.EnforcementPolicySpec, bool) {
	out := spec.DeepCopy()
	changed := false
	rewrite := func(p string) string {
		if !strings.HasPrefix(p, "/") {
			return p
		}
		parts := strings.Split(p, "/")
		for i, c := range parts {
			if c != "*" && c != "**" && len(c) > MaxComponentLen {
				parts[i] = "*"
				changed = true
			}
		}
		return strings.Join(parts, "/")
	}
	if out.Files != nil {
		for i := range out.Files.Allow {
			out.Files.Allow[i].Path = rewrite(out.Files.Allow[i].Path)
		}
	}
	if out.Executables != nil {
		for i := range out.Executables.Allow {
			out.Executables.Allow[i].Path = rewrite(out.Executables.Allow[i].Path)
		}
	}
	return out, changed
}

// matcherGranted is the access a policies.Matcher grants a path, bit by bit.
func matcherGranted(m *policies.Matcher, path string) Access {
	var a Access
	for _, am := range accessModes {
		if m.FileOpen(path, am.mode).Allowed {
			a |= am.bit
		}
	}
	return a
}

var allProtocols = []v1alpha1.Protocol{v1alpha1.ProtocolTCP, v1alpha1.ProtocolUDP, v1alpha1.ProtocolSCTP}

// probes are the operations the agreement check tries.
type probes struct {
	paths []string
	addrs []netip.Addr
	ports []uint16
}

// checkAgreement compares the compiled policy with the reference semantics
// on the probes: exactly against the spec as enforced, and never narrower
// than the spec itself; wider only when Widened says so.
func checkAgreement(t testing.TB, spec *v1alpha1.EnforcementPolicySpec, c *Compiled, pr probes) {
	t.Helper()
	checkInvariants(t, c)
	exactSpec, widened := enforcedSpec(spec)
	if widened != (len(c.Widened) > 0) {
		t.Fatalf("spec is widened: %v, but Widened = %q", widened, c.Widened)
	}
	exact, err := policies.NewMatcher(exactSpec)
	if err != nil {
		t.Fatalf("the enforced spec is invalid: %v", err)
	}
	original, err := policies.NewMatcher(spec)
	if err != nil {
		t.Fatalf("Compile accepted a spec policies.Matcher refuses: %v", err)
	}
	if c.Mode == "" || c.Action == "" {
		t.Fatalf("mode %q action %q not defaulted", c.Mode, c.Action)
	}

	for i, p := range pr.paths {
		// The policy grants an open when each requested mode is granted by
		// some matching rule, so comparing the granted masks compares every
		// access combination; every 8th path also asks FileOpen itself for
		// each of the 31 combinations.
		want := matcherGranted(exact, p)
		if c.Files != nil && strings.HasPrefix(p, "/") {
			if entering := allowedOrEnteringNodes(c.Files, p); entering != c.Files.Allowed(p) {
				t.Fatalf("files: %q: the two forms of the walk differ: %s vs %s", p, entering, c.Files.Allowed(p))
			}
			if granted := c.Files.Allowed(p); granted != want {
				t.Fatalf("files: %q: compiled grants %s, policy (as enforced) grants %s\npolicy: %s\ntree:\n%s", p, granted, want, describeFiles(exactSpec), c.Files)
			}
		}
		orig := want
		if widened {
			orig = matcherGranted(original, p)
		}
		for _, req := range requestsToCheck {
			got := c.FileAllowed(p, req)
			wantAllowed := want.Covers(req)
			if i%8 == 0 {
				wantAllowed = exact.FileOpen(p, req.Modes()...).Allowed
			}
			if got != wantAllowed {
				t.Fatalf("files: %s of %q: compiled %v, policy (as enforced) %v\npolicy: %s\ntree:\n%s", req, p, got, wantAllowed, describeFiles(exactSpec), c.Files)
			}
			if origAllowed := orig.Covers(req); origAllowed && !got {
				t.Fatalf("files: %s of %q: the policy allows it, the compiled rules do not", req, p)
			} else if got && !origAllowed && len(c.Widened) == 0 {
				t.Fatalf("files: %s of %q: the compiled rules allow more than the policy without a Widened note", req, p)
			}
		}
		got := c.ExecAllowed(p)
		if want := exact.Exec(p).Allowed; got != want {
			t.Fatalf("executables: %q: compiled %v, policy (as enforced) %v\nrules: %v\ntree:\n%s", p, got, want, exactSpec.Executables, c.Executables)
		}
		if orig := original.Exec(p).Allowed; orig && !got || got && !orig && len(c.Widened) == 0 {
			t.Fatalf("executables: %q: compiled %v, policy %v, widened %q", p, got, orig, c.Widened)
		}
	}

	for _, proto := range allProtocols {
		num, _ := ProtocolNumber(proto)
		for _, a := range pr.addrs {
			for _, port := range pr.ports {
				got := c.ConnectAllowed(num, a, port)
				if want := original.Connect(proto, a, port).Allowed; got != want {
					t.Fatalf("connect %s %s port %d: compiled %v, policy %v\nrules: %+v\ncompiled: %v", proto, a, port, got, want, spec.Connect, c.Connect)
				}
			}
		}
	}

	for n := 0; n < 64; n++ {
		for _, userNS := range []bool{false, true} {
			got := c.CapabilityAllowed(n, userNS)
			want := original.Capability(policies.CapabilityCheck{Capability: n, UserNamespace: userNS, WouldBeGranted: true}).Allowed
			if got != want {
				t.Fatalf("capability %d (user namespace %v): compiled %v, policy %v", n, userNS, got, want)
			}
		}
	}
	if c.Capabilities != nil {
		var mask uint64
		for _, n := range original.AllowedCapabilities() {
			mask |= 1 << n
		}
		if mask != c.Capabilities.Allowed {
			t.Fatalf("capabilities: compiled %#x, policy's AllowedCapabilities %#x", c.Capabilities.Allowed, mask)
		}
	}
}

func describeFiles(spec *v1alpha1.EnforcementPolicySpec) string {
	if spec.Files == nil {
		return "<files not governed>"
	}
	var s []string
	for _, r := range spec.Files.Allow {
		s = append(s, fmt.Sprintf("%s %v", r.Path, r.Access))
	}
	return strings.Join(s, ", ")
}

// rulePathProbes returns concrete paths around a rule path: instances of it
// (each * and ** filled in several ways), their parents, siblings and
// children.
func rulePathProbes(r *rand.Rand, rule string, out []string) []string {
	if !strings.HasPrefix(rule, "/") {
		return out
	}
	parts := strings.Split(strings.TrimPrefix(rule, "/"), "/")
	if rule == "/" {
		parts = nil
	}
	for range 3 {
		var inst []string
		for i, c := range parts {
			switch {
			case c == "**" && i == len(parts)-1:
				for range r.IntN(4) {
					inst = append(inst, randomComponent(r))
				}
			case c == "*":
				inst = append(inst, randomComponent(r))
			default:
				inst = append(inst, c)
			}
		}
		out = append(out, joinPath(inst))
		for i := range inst {
			out = append(out, joinPath(inst[:i]))
		}
		if len(inst) > 0 {
			sib := slices.Clone(inst)
			sib[len(sib)-1] = randomComponent(r)
			out = append(out, joinPath(sib))
			if long := inst[len(inst)-1]; len(long) > MaxComponentLen {
				// Same first MaxComponentLen bytes, different name.
				sib[len(sib)-1] = long[:MaxComponentLen]
				out = append(out, joinPath(sib))
			}
		}
		out = append(out, joinPath(append(slices.Clone(inst), randomComponent(r))))
		out = append(out, joinPath(append(slices.Clone(inst), randomComponent(r), randomComponent(r))))
	}
	return out
}

func joinPath(parts []string) string {
	return "/" + strings.Join(parts, "/")
}

// vocabulary is the component names random rules and paths share, so that
// they overlap.
var vocabulary = []string{
	"etc", "passwd", "proc", "self", "1", "42", "status", "tmp", "a", "b",
	".hidden", "..data", "usr", "lib", "x", "app", "log",
	strings.Repeat("c", MaxComponentLen),
}

func randomComponent(r *rand.Rand) string {
	switch r.IntN(12) {
	case 0:
		return fmt.Sprint(r.IntN(100000))
	case 1:
		return strings.Repeat("d", MaxComponentLen+1+r.IntN(200)) // longer than the kernel matches literally
	case 2:
		return strings.Repeat("c", MaxComponentLen) + "c" // a long name sharing a 63-byte literal's bytes
	default:
		return vocabulary[r.IntN(len(vocabulary))]
	}
}

// fixedProbes are paths worth trying against any policy.
var fixedProbes = []string{
	"/", "/etc", "/etc/passwd", "/etc/shadow", "/proc/1/status", "/proc/self/status",
	"/proc/4242/task/17/stat", "/tmp/" + strings.Repeat("t", 255), "/a/b/x", "/*", "/**",
	"pipe:[1234]", "", "etc/passwd", "/etc/", "/etc//passwd", "/etc/./passwd", "/etc/../etc/passwd", "//",
}

// allowedOrEnteringNodes is the walk in the form that ORs a node's
// Descendants on entering it; the package doc says it is equivalent to
// Allowed because Descendants ⊆ Access.
func allowedOrEnteringNodes(t *PathTree, path string) Access {
	if !canonical(path) {
		return 0
	}
	node := 0
	granted := t.Nodes[0].Descendants
	for _, c := range strings.Split(path, "/")[1:] {
		if c == "" {
			break // the root
		}
		next := -1
		if len(c) <= MaxComponentLen {
			next = t.child(node, false, c)
		}
		if next < 0 {
			next = t.child(node, true, "")
		}
		if next < 0 {
			return granted
		}
		node = next
		granted |= t.Nodes[node].Descendants
	}
	return granted | t.Nodes[node].Access
}

// requestsToCheck are the access requests the agreement checks try: every
// combination of the open bits, each change bit alone and with read, and
// every bit at once (all 2^15 combinations would take minutes a policy).
var requestsToCheck = func() []Access {
	opens := AccessRead | AccessWrite | AccessExec | AccessCreate | AccessTruncate
	var out []Access
	for req := Access(1); req <= opens; req++ {
		out = append(out, req)
	}
	for bit := AccessTruncate << 1; bit != 0 && bit <= AccessAll; bit <<= 1 {
		out = append(out, bit, bit|AccessRead)
	}
	return append(out, AccessAll)
}()
