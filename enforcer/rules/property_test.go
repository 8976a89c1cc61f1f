package rules

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// randomPattern returns a policy path pattern over the shared vocabulary;
// with long, some literal components are longer than the kernel matches.
func randomPattern(r *rand.Rand, long bool) string {
	switch r.IntN(20) {
	case 0:
		return "/"
	case 1:
		return "/**"
	}
	depth := 1 + r.IntN(4)
	parts := make([]string, 0, depth+1)
	for range depth {
		switch n := r.IntN(20); {
		case n < 6:
			parts = append(parts, "*")
		case long && n == 6:
			parts = append(parts, strings.Repeat("L", MaxComponentLen+1+r.IntN(3)))
		default:
			parts = append(parts, vocabulary[r.IntN(len(vocabulary))])
		}
	}
	if r.IntN(4) == 0 {
		parts = append(parts, "**")
	}
	return joinPath(parts)
}

func randomAccess(r *rand.Rand) []v1alpha1.FileAccessMode {
	a := Access(1 + r.IntN(int(AccessAll)))
	return a.Modes()
}

var cidrVocabulary = []string{
	"10.0.0.0/8", "10.96.0.10/32", "10.0.3.0/24", "10.0.3.7/32", "0.0.0.0/0", "127.0.0.1/32",
	"192.0.2.0/25", "192.0.2.128/25", "fd00::/64", "fd00::1/128", "::/0", "::/64", "::/80",
	"::1/128", "64:ff9b::/96", "::fffe:0:0/95", "::ffff:0:0:0/96", "2001:db8::/32", "128.0.0.0/1",
}

var portVocabulary = []int32{0, 1, 53, 80, 443, 8080, 65535}

func randomConnectRule(r *rand.Rand) v1alpha1.ConnectRule {
	rule := v1alpha1.ConnectRule{
		CIDR:     cidrVocabulary[r.IntN(len(cidrVocabulary))],
		Protocol: []v1alpha1.Protocol{v1alpha1.ProtocolTCP, v1alpha1.ProtocolUDP}[r.IntN(2)],
		Port:     portVocabulary[r.IntN(len(portVocabulary))],
	}
	switch r.IntN(8) {
	case 0:
		end := min(rule.Port+int32(r.IntN(40)), 65535)
		rule.EndPort = &end
	case 1:
		rule.Port = 0
		end := int32(65535)
		rule.EndPort = &end
	case 2:
		end := rule.Port
		rule.EndPort = &end
	}
	return rule
}

func randomSpec(r *rand.Rand, long bool) *v1alpha1.EnforcementPolicySpec {
	spec := &v1alpha1.EnforcementPolicySpec{}
	if r.IntN(5) > 0 {
		spec.Files = &v1alpha1.FileRules{}
		for range r.IntN(12) {
			spec.Files.Allow = append(spec.Files.Allow, v1alpha1.FileRule{Path: randomPattern(r, long), Access: randomAccess(r)})
		}
	}
	if r.IntN(5) > 0 {
		spec.Executables = &v1alpha1.ExecutableRules{}
		for range r.IntN(6) {
			spec.Executables.Allow = append(spec.Executables.Allow, v1alpha1.ExecutableRule{Path: randomPattern(r, long)})
		}
	}
	if r.IntN(5) > 0 {
		spec.Connect = &v1alpha1.ConnectRules{}
		for range r.IntN(8) {
			spec.Connect.Allow = append(spec.Connect.Allow, randomConnectRule(r))
		}
	}
	if r.IntN(5) > 0 {
		spec.Capabilities = &v1alpha1.CapabilityRules{}
		for _, name := range []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE", "CAP_KILL", "CAP_BPF"} {
			if r.IntN(3) == 0 {
				spec.Capabilities.Allow = append(spec.Capabilities.Allow, name)
			}
			if r.IntN(4) == 0 {
				spec.Capabilities.AllowInUserNamespace = append(spec.Capabilities.AllowInUserNamespace, name)
			}
		}
	}
	return spec
}

// randomProbes returns the paths, addresses and ports to try on a spec.
func randomProbes(r *rand.Rand, spec *v1alpha1.EnforcementPolicySpec) probes {
	var pr probes
	pr.paths = slices.Clone(fixedProbes)
	if spec.Files != nil {
		for _, rule := range spec.Files.Allow {
			pr.paths = rulePathProbes(r, rule.Path, pr.paths)
		}
	}
	if spec.Executables != nil {
		for _, rule := range spec.Executables.Allow {
			pr.paths = rulePathProbes(r, rule.Path, pr.paths)
		}
	}
	for range 10 {
		parts := make([]string, r.IntN(6))
		for i := range parts {
			parts[i] = randomComponent(r)
		}
		pr.paths = append(pr.paths, joinPath(parts))
	}
	pr.paths = append(pr.paths, fmt.Sprintf("/proc/%d/status", r.IntN(1<<22)), fmt.Sprintf("/proc/%d/task/%d/stat", r.IntN(1<<22), r.IntN(1<<22)))

	pr.ports = []uint16{0, 1, 52, 53, 54, 443, 8080, 65534, 65535}
	for _, s := range []string{"10.0.3.7", "10.0.3.8", "10.96.0.10", "127.0.0.1", "192.0.2.127", "192.0.2.128", "8.8.8.8", "fd00::1", "fd00::2", "::1", "2001:db8::1", "::", "::ffff:10.0.3.7", "::ffff:8.8.8.8", "64:ff9b::a00:307", "::fffe:0:1", "::ffff:0:0:1"} {
		pr.addrs = append(pr.addrs, netip.MustParseAddr(s))
	}
	if spec.Connect != nil {
		for _, rule := range spec.Connect.Allow {
			p := netip.MustParsePrefix(rule.CIDR)
			first := p.Masked().Addr()
			last := lastAddr(p)
			pr.addrs = append(pr.addrs, first, last, first.Prev(), last.Next())
			if first.Is4() {
				pr.addrs = append(pr.addrs, netip.AddrFrom16(first.As16()))
			}
			pr.ports = append(pr.ports, uint16(rule.Port), uint16(max(rule.Port-1, 0)), uint16(min(rule.Port+1, 65535)))
			if rule.EndPort != nil {
				pr.ports = append(pr.ports, uint16(*rule.EndPort), uint16(min(*rule.EndPort+1, 65535)))
			}
		}
	}
	pr.addrs = slices.DeleteFunc(pr.addrs, func(a netip.Addr) bool { return !a.IsValid() })
	slices.Sort(pr.ports)
	pr.ports = slices.Compact(pr.ports)
	return pr
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// TestCompiledAgreesWithMatcher is the main property: on thousands of
// random policies, the kernel model of the compiled rules decides every file
// open (every access combination), exec, connect and capability check the
// way policies.Matcher does: exactly, when the compiler reports no
// widening.
func TestCompiledAgreesWithMatcher(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	cases := 3000
	if testing.Short() {
		cases = 300
	}
	compiled := 0
	for i := range cases {
		spec := randomSpec(r, false)
		c, err := CompileSpec(spec)
		if err != nil {
			if isTooMany(err) {
				continue
			}
			t.Fatalf("case %d: %v", i, err)
		}
		compiled++
		if len(c.Widened) > 0 {
			t.Fatalf("case %d: widened without long components: %q", i, c.Widened)
		}
		checkAgreement(t, spec, c, randomProbes(r, spec))
	}
	if compiled < cases*9/10 {
		t.Fatalf("only %d of %d random policies compiled", compiled, cases)
	}
}

// TestWidenedPoliciesAllowOnlyWhatTheNotesSay: with literal components longer
// than MaxComponentLen, the compiled rules agree exactly with the policy as
// the notes say it is enforced (long components as *), never allow less than
// the policy, and allow more only with a note.
func TestWidenedPoliciesAllowOnlyWhatTheNotesSay(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	cases := 2000
	if testing.Short() {
		cases = 200
	}
	widened := 0
	for i := range cases {
		spec := randomSpec(r, true)
		c, err := CompileSpec(spec)
		if err != nil {
			if isTooMany(err) {
				continue
			}
			t.Fatalf("case %d: %v", i, err)
		}
		if len(c.Widened) > 0 {
			widened++
		}
		checkAgreement(t, spec, c, randomProbes(r, spec))
	}
	if widened < cases/10 {
		t.Fatalf("only %d of %d policies were widened: the test does not exercise widening", widened, cases)
	}
}

func isTooMany(err error) bool {
	var inv *InvalidPolicyError
	return errors.As(err, &inv) && strings.Contains(err.Error(), "Too many")
}

// TestRuleOrderDoesNotMatter: the same rules in any order compile into the
// same trees, connect entries and masks; only the order of the notes follows
// the rules.
func TestRuleOrderDoesNotMatter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 500 {
		spec := randomSpec(r, true)
		a, err := CompileSpec(spec)
		if err != nil {
			continue
		}
		shuffled := spec.DeepCopy()
		if f := shuffled.Files; f != nil {
			r.Shuffle(len(f.Allow), func(i, j int) { f.Allow[i], f.Allow[j] = f.Allow[j], f.Allow[i] })
		}
		if e := shuffled.Executables; e != nil {
			r.Shuffle(len(e.Allow), func(i, j int) { e.Allow[i], e.Allow[j] = e.Allow[j], e.Allow[i] })
		}
		if c := shuffled.Connect; c != nil {
			r.Shuffle(len(c.Allow), func(i, j int) { c.Allow[i], c.Allow[j] = c.Allow[j], c.Allow[i] })
		}
		if c := shuffled.Capabilities; c != nil {
			r.Shuffle(len(c.Allow), func(i, j int) { c.Allow[i], c.Allow[j] = c.Allow[j], c.Allow[i] })
		}
		b, err := CompileSpec(shuffled)
		if err != nil {
			t.Fatalf("case %d: the shuffled policy fails: %v", i, err)
		}
		// Notes name the rule by its index, which the shuffle changes.
		if len(a.Widened) != len(b.Widened) {
			t.Fatalf("case %d: %d notes, then %d", i, len(a.Widened), len(b.Widened))
		}
		a.Widened, b.Widened = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("case %d: rule order changes the result:\n%+v\nvs\n%+v", i, a, b)
		}
		again, _ := CompileSpec(spec)
		if !reflect.DeepEqual(again.Files, a.Files) || !reflect.DeepEqual(again.Connect, a.Connect) {
			t.Fatalf("case %d: compiling twice differs", i)
		}
	}
}

// TestCapabilitiesEveryName checks every known capability in both lists.
func TestCapabilitiesEveryName(t *testing.T) {
	spec := &v1alpha1.EnforcementPolicySpec{Capabilities: &v1alpha1.CapabilityRules{}}
	for n := 0; n <= profiles.MaxCapability; n++ {
		spec.Capabilities.Allow = append(spec.Capabilities.Allow, profiles.CapabilityName(n))
		if n%2 == 0 {
			spec.Capabilities.AllowInUserNamespace = append(spec.Capabilities.AllowInUserNamespace, profiles.CapabilityName(n))
		}
	}
	c, err := CompileSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(1)<<(profiles.MaxCapability+1) - 1; c.Capabilities.Allowed != want {
		t.Fatalf("Allowed = %#x, want %#x", c.Capabilities.Allowed, want)
	}
	checkAgreement(t, spec, c, probes{})
}
