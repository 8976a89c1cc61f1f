package generator

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// TetragonOptions shape a generated Tetragon policy.
type TetragonOptions struct {
	Target
	// Name of the policy; derived from the profile when empty.
	Name string
	// Mode Audit becomes Tetragon's monitor mode, Enforce its enforce mode.
	Mode v1alpha1.EnforcementMode
	// Action Deny overrides the hooked function's return with -EPERM; Kill
	// sends SIGKILL.
	Action v1alpha1.EnforcementAction
	// PodSelector selects the workload's pods by label. Required.
	PodSelector *metav1.LabelSelector
}

// Tetragon selectors: at most five per hook, tried in order, the first match
// applying its actions. footprint's translation puts the allowed values
// first with NoPost (allowed: no event, no action) and ends with a selector
// that acts on everything else.
const maxTetragonSelectors = 5

// capOptNoAudit is the kernel's CAP_OPT_NOAUDIT flag in security_capable's
// opts argument.
const capOptNoAudit = "2"

// GeneratedTetragon is a Tetragon policy and the notes explaining it.
type GeneratedTetragon struct {
	Policy *TracingPolicyNamespaced
	// hookNotes explain each kprobe, including how it is wider than the
	// footprint policy it was translated from.
	hookNotes []string
}

// Tetragon translates the EnforcementPolicy footprint would generate for the
// profile into a Tetragon TracingPolicyNamespaced, for clusters that already
// run Tetragon. Tetragon matches strings by equality and prefix only and
// does not see how a file is opened, so the translation is wider than the
// footprint policy in ways each hook's comment spells out.
func Tetragon(p *v1alpha1.Profile, opts TetragonOptions) (*GeneratedTetragon, error) {
	if opts.PodSelector == nil {
		return nil, ErrNeedPodSelector
	}
	t := resolveTarget(p, opts.Target)
	if t.Namespace == "" {
		// Tetragon's own loader refuses a TracingPolicyNamespaced without
		// one (tetra tracingpolicy add), though kubectl apply would fill
		// it in.
		return nil, ErrNeedNamespace
	}
	gen, err := Policy(p, PolicyOptions{Target: t, Name: opts.Name, Mode: opts.Mode, Action: opts.Action})
	if err != nil {
		return nil, err
	}
	spec := gen.Policy.Spec
	mode := "monitor"
	if spec.Mode == v1alpha1.ModeEnforce {
		mode = "enforce"
	}
	out := &GeneratedTetragon{Policy: &TracingPolicyNamespaced{
		APIVersion: TetragonAPIVersion,
		Kind:       "TracingPolicyNamespaced",
		Metadata:   metav1.ObjectMeta{Name: dnsName(gen.Policy.Name), Namespace: t.Namespace, Annotations: gen.Policy.Annotations},
		Spec: TracingPolicySpec{
			PodSelector: opts.PodSelector.DeepCopy(),
			Options:     []TetragonOption{{Name: "policy-mode", Value: mode}},
		},
	}}
	if t.Container != "" {
		out.Policy.Spec.ContainerSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "name", Operator: metav1.LabelSelectorOpIn, Values: []string{t.Container}},
		}}
	}
	violation := []ActionSelector{{Action: "Override", ArgError: -1}, {Action: "Post", RateLimit: "1m"}}
	if spec.Action == v1alpha1.ActionKill {
		violation = []ActionSelector{{Action: "Sigkill"}, {Action: "Post", RateLimit: "1m"}}
	}
	who := describeTarget(t)
	if c := spec.Capabilities; c != nil {
		out.addCapabilities(c, violation, who)
	}
	if f := spec.Files; f != nil {
		var paths []string
		for _, r := range f.Allow {
			paths = append(paths, r.Path)
		}
		out.addPathHook("security_file_open", "file", paths, violation, "file open outside the profile of "+who,
			"File opens (security_file_open). WIDER than the footprint policy: Tetragon does not see how a file is opened, so every allowed path may be opened for any access; "+
				"and changes made without an open (truncate, unlink, rename, link, symlink, mknod, mkdir, chmod, chown, utimes) are not in this policy at all.", true)
	}
	if e := spec.Executables; e != nil {
		var paths []string
		for _, r := range e.Allow {
			paths = append(paths, r.Path)
		}
		out.addPathHook("security_bprm_check", "linux_binprm", paths, violation, "execution outside the profile of "+who,
			"Executions (security_bprm_check), by the path of the program the kernel runs.", false)
	}
	if c := spec.Connect; c != nil {
		out.addConnect(c, violation, who)
	}
	return out, nil
}

func (g *GeneratedTetragon) addHook(k KProbeSpec, note string) {
	g.Policy.Spec.KProbes = append(g.Policy.Spec.KProbes, k)
	g.hookNotes = append(g.hookNotes, note)
}

func allowed(args ...ArgSelector) KProbeSelector {
	return KProbeSelector{MatchArgs: args, MatchActions: []ActionSelector{{Action: "NoPost"}}}
}

func (g *GeneratedTetragon) addCapabilities(c *v1alpha1.CapabilityRules, violation []ActionSelector, who string) {
	names := slices.Clone(c.Allow)
	note := "Capability checks (security_capable). Probes (CAP_OPT_NOAUDIT) are left alone, as in footprint's policy.\n" +
		"WIDER: none. NARROWER: Tetragon sees a check before the kernel decides it, so a check the kernel\n" +
		"would refuse anyway is acted on too (harmless with Override; with Sigkill the process dies)."
	for _, n := range c.AllowInUserNamespace {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(c.AllowInUserNamespace) > 0 {
		note = strings.Replace(note, "WIDER: none.", "WIDER: "+strings.Join(c.AllowInUserNamespace, ", ")+" allowed in every user namespace, not only ones the workload created.", 1)
	}
	var numbers []string
	for _, n := range names {
		num, err := profiles.ParseCapability(n)
		if err != nil {
			continue // the policy was validated: unreachable
		}
		numbers = append(numbers, strconv.Itoa(num))
	}
	selectors := []KProbeSelector{allowed(ArgSelector{Index: 3, Operator: "Mask", Values: []string{capOptNoAudit}})}
	if len(numbers) > 0 {
		selectors = append(selectors, allowed(ArgSelector{Index: 2, Operator: "Equal", Values: numbers}))
	}
	selectors = append(selectors, KProbeSelector{MatchActions: violation})
	g.addHook(KProbeSpec{
		Call: "security_capable", Syscall: false,
		Message: "capability outside the profile of " + who,
		// Every argument up to the last one filtered on is declared, so
		// that a selector's index is both the function's argument number
		// and the position in this list.
		Args:      []KProbeArg{{Index: 0, Type: "nop"}, {Index: 1, Type: "nop"}, {Index: 2, Type: "int", Label: "capability"}, {Index: 3, Type: "int", Label: "opts"}},
		Selectors: selectors,
	}, note)
}

// addPathHook hooks a function whose first argument names a file, allowing
// the policy's path patterns: a literal path by equality, `dir/**` as dir
// and the prefix "dir/", and a pattern with `*` by the prefix before its
// first `*` (wider: Tetragon has no single-component wildcard).
func (g *GeneratedTetragon) addPathHook(call, argType string, patterns []string, violation []ActionSelector, message, note string, pseudoFiles bool) {
	var exact, prefixes, widened []string
	for _, p := range patterns {
		literal, recursive := strings.CutSuffix(p, "/**")
		if p == "/**" {
			literal, recursive = "", true
		}
		if i := strings.Index(literal+"/", "/*/"); i >= 0 {
			prefix := literal[:i+1]
			widened = append(widened, fmt.Sprintf("%s as every path under %s", p, prefix))
			prefixes = appendNew(prefixes, prefix)
			continue
		}
		if recursive {
			if literal != "" {
				exact = appendNew(exact, literal)
			}
			prefixes = appendNew(prefixes, literal+"/")
			continue
		}
		exact = appendNew(exact, literal)
	}
	slices.Sort(exact)
	slices.Sort(prefixes)
	var selectors []KProbeSelector
	if pseudoFiles {
		// Pipes, sockets and anonymous inodes have no path in the
		// filesystem; footprint's policy does not govern them either.
		selectors = append(selectors, allowed(ArgSelector{Index: 0, Operator: "NotPrefix", Values: []string{"/"}}))
	}
	if len(exact) > 0 {
		selectors = append(selectors, allowed(ArgSelector{Index: 0, Operator: "Equal", Values: exact}))
	}
	if len(prefixes) > 0 {
		selectors = append(selectors, allowed(ArgSelector{Index: 0, Operator: "Prefix", Values: prefixes}))
	}
	selectors = append(selectors, KProbeSelector{MatchActions: violation})
	if len(widened) > 0 {
		note += "\nWIDER: Tetragon has no single-component wildcard, so it allows " + listAtMost(widened, 4) + "."
	}
	g.addHook(KProbeSpec{Call: call, Syscall: false, Message: message, Args: []KProbeArg{{Index: 0, Type: argType}}, Selectors: selectors}, note)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// destinationGroup is the addresses allowed on one protocol and port.
type destinationGroup struct {
	protocols []string
	ports     []string
	addresses []string
}

func (g *GeneratedTetragon) addConnect(c *v1alpha1.ConnectRules, violation []ActionSelector, who string) {
	var groups []*destinationGroup
	for _, r := range c.Allow {
		proto := "IPPROTO_" + string(r.Protocol)
		// Generated policies allow single ports, never ranges (EndPort).
		port := strconv.Itoa(int(r.Port))
		address := r.CIDR
		if prefix, err := netip.ParsePrefix(r.CIDR); err == nil && prefix.IsSingleIP() {
			address = prefix.Addr().String()
		}
		i := slices.IndexFunc(groups, func(d *destinationGroup) bool { return d.protocols[0] == proto && d.ports[0] == port })
		if i < 0 {
			groups = append(groups, &destinationGroup{protocols: []string{proto}, ports: []string{port}})
			i = len(groups) - 1
		}
		groups[i].addresses = appendNew(groups[i].addresses, address)
	}
	note := "Connects (security_socket_connect): each selector allows some addresses on one protocol and port.\n" +
		"Datagrams sent without connect() (sendto) are not covered; footprint's own policy covers them."
	// One selector is kept for acting on everything else.
	if room := maxTetragonSelectors - 1; len(groups) > room {
		merged := &destinationGroup{}
		for _, d := range groups[room-1:] {
			merged.protocols = appendNew(merged.protocols, d.protocols[0])
			merged.ports = appendNew(merged.ports, d.ports[0])
			for _, a := range d.addresses {
				merged.addresses = appendNew(merged.addresses, a)
			}
		}
		groups = append(groups[:room-1], merged)
		note += "\nWIDER: Tetragon allows at most five selectors per hook, so the last selector allows any of its\naddresses on any of its ports and protocols."
	}
	var selectors []KProbeSelector
	for _, d := range groups {
		selectors = append(selectors, allowed(
			ArgSelector{Index: 0, Operator: "Protocol", Values: d.protocols},
			ArgSelector{Index: 1, Operator: "SAddr", Values: d.addresses},
			ArgSelector{Index: 1, Operator: "SPort", Values: d.ports},
		))
	}
	selectors = append(selectors, KProbeSelector{
		MatchArgs:    []ArgSelector{{Index: 1, Operator: "Family", Values: []string{"AF_INET", "AF_INET6"}}},
		MatchActions: violation,
	})
	g.addHook(KProbeSpec{
		Call: "security_socket_connect", Syscall: false,
		Message:   "connect outside the profile of " + who,
		Args:      []KProbeArg{{Index: 0, Type: "socket"}, {Index: 1, Type: "sockaddr"}, {Index: 2, Type: "int"}},
		Selectors: selectors,
	}, note)
}

// TetragonYAML writes the Tetragon policy with notes on each hook.
func TetragonYAML(p *v1alpha1.Profile, opts TetragonOptions) ([]byte, error) {
	g, err := Tetragon(p, opts)
	if err != nil {
		return nil, err
	}
	root, err := fromObject(g.Policy)
	if err != nil {
		return nil, err
	}
	for i, note := range g.hookNotes {
		commentAbove(root, wrap(note, 100), "spec", "kprobes", i)
		for j, k := range g.Policy.Spec.KProbes[i].Selectors {
			if len(k.MatchActions) > 0 && k.MatchActions[0].Action != "NoPost" {
				commentAbove(root, "everything else: "+describeActions(k.MatchActions), "spec", "kprobes", i, "selectors", j)
			}
		}
		if g.Policy.Spec.KProbes[i].Call == "security_capable" {
			for j, k := range g.Policy.Spec.KProbes[i].Selectors {
				for a, arg := range k.MatchArgs {
					for v, value := range arg.Values {
						if n, err := strconv.Atoi(value); err == nil && arg.Index == 2 {
							commentLine(root, profiles.CapabilityName(n), "spec", "kprobes", i, "selectors", j, "matchArgs", a, "values", v)
						}
					}
				}
			}
		}
	}
	commentLine(root, "monitor reports; enforce acts", "spec", "options", 0, "value")
	t := resolveTarget(p, opts.Target)
	header := fmt.Sprintf("Tetragon TracingPolicyNamespaced for %s,\nfrom the %s.\n", describeTarget(t), describeProfile(p)) +
		"Translated from the EnforcementPolicy `footprint export policy` writes; Tetragon matches paths by\n" +
		"equality and prefix only, so the notes on each hook say where this policy is wider.\n" +
		"Override needs a kernel built with CONFIG_BPF_KPROBE_OVERRIDE (5.7 or later for security_ functions).\n" +
		"Apply with:\n  kubectl apply -f THIS_FILE"
	return encodeYAML(document(header, root))
}

func describeActions(actions []ActionSelector) string {
	for _, a := range actions {
		switch a.Action {
		case "Override":
			return fmt.Sprintf("the call fails with error %d (EPERM) and an event is posted at most once a minute", -a.ArgError)
		case "Sigkill":
			return "the process is killed and an event is posted at most once a minute"
		}
	}
	return "an event is posted"
}
