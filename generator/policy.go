package generator

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/policies"
	"github.com/footprint-dev/footprint/profiles"
)

// AnnotationProfile records, on a generated object, the profile it came from.
const AnnotationProfile = "footprint.dev/profile"

// unpreventable is the policy's field for a choice: empty for Audit, the
// default, so that a policy states only what differs from it.
func unpreventable(u v1alpha1.UnpreventableAction) v1alpha1.UnpreventableAction {
	if u == v1alpha1.UnpreventableKill {
		return u
	}
	return ""
}

// PolicyOptions shape a generated EnforcementPolicy.
type PolicyOptions struct {
	Target
	// Name of the policy; derived from the profile when empty.
	Name string
	// Mode is Audit (the default) or Enforce.
	Mode v1alpha1.EnforcementMode
	// Action is Deny (the default) or Kill.
	Action v1alpha1.EnforcementAction
	// Unpreventable is Audit (the default) or Kill: what Enforce mode does
	// where a node cannot refuse an operation.
	Unpreventable v1alpha1.UnpreventableAction
	// UnknownImages is the mode for pods running an image the profile was
	// not recorded from; empty leaves it to the API server's default
	// (Audit).
	UnknownImages v1alpha1.EnforcementMode
	// PodSelector, when set, narrows the selector to pods with these labels.
	PodSelector *metav1.LabelSelector
	// AllowDirectories widen the policy on purpose: each directory becomes
	// one `dir/**` rule granting every access mode the profile shows below
	// it, so that files the workload did not happen to open during the
	// recording are allowed too.
	AllowDirectories []string
}

// GeneratedPolicy is an EnforcementPolicy and the evidence for its rules.
type GeneratedPolicy struct {
	Policy *v1alpha1.EnforcementPolicy

	capabilityCounts map[string]int64
	notGoverned      []string          // capability entries the policy does not govern, and why
	fileNotes        map[string]string // by rule path: counts and widening
	connectNotes     []string          // by rule index
	socketNotes      []string          // by rule index
	// socketsUnrecorded names socket routes the recording's backends did
	// not see, which the policy refuses where a kernel can hold them.
	socketsUnrecorded []string
	// filesUnrecorded names file routes the recording's backends did not
	// see, likewise.
	filesUnrecorded []string
	executableNotes map[string]string // by rule path
	notRecorded     []string          // kinds left unenforced because they were not recorded
	skipped         []string          // profile entries that need no rule
}

// Policy generates an EnforcementPolicy that allows exactly what the profile
// shows and nothing more, except where the kernel's path language forces a
// wider rule (a partial-component glob such as `..*` becomes `*`, a `**`
// inside a path becomes a trailing `/**`) and where opts.AllowDirectories
// asks for it. Kinds of event the recording did not cover are left
// unenforced rather than denied wholesale.
func Policy(p *v1alpha1.Profile, opts PolicyOptions) (*GeneratedPolicy, error) {
	t := resolveTarget(p, opts.Target)
	spec := profiles.NormalizeSpec(p.Spec)
	g := &GeneratedPolicy{capabilityCounts: map[string]int64{}, fileNotes: map[string]string{}, executableNotes: map[string]string{}}
	mode, action := opts.Mode, opts.Action
	if mode == "" {
		mode = v1alpha1.ModeAudit
	}
	if action == "" {
		action = v1alpha1.ActionDeny
	}
	name := opts.Name
	if name == "" {
		name = artifactName(p, t)
	}
	policy := &v1alpha1.EnforcementPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "EnforcementPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.Namespace},
		Spec: v1alpha1.EnforcementPolicySpec{Mode: mode, Action: action, Unpreventable: unpreventable(opts.Unpreventable), Profile: p.Name,
			Images: profiles.ImagesOf(spec), UnknownImages: opts.UnknownImages, Routes: recordedRoutes(p)},
	}
	if p.Name != "" {
		policy.Annotations = map[string]string{AnnotationProfile: p.Name}
	}
	if t.Workload != nil || opts.PodSelector != nil {
		sel := &v1alpha1.PolicySelector{Workload: t.Workload, PodSelector: opts.PodSelector}
		if t.Container != "" {
			sel.Containers = []string{t.Container}
		}
		policy.Spec.Selector = sel
	}

	if kindRecorded(p, "capabilities") {
		policy.Spec.Capabilities = g.capabilityRules(spec.Capabilities)
	} else {
		g.notRecorded = append(g.notRecorded, "capabilities")
	}
	if kindRecorded(p, "files") {
		rules, err := g.fileRules(spec.Files, opts.AllowDirectories)
		if err != nil {
			return nil, err
		}
		policy.Spec.Files = rules
		g.filesUnrecorded = fileRoutesUnrecorded(p)
	} else {
		g.notRecorded = append(g.notRecorded, "files")
	}
	if kindRecorded(p, "connections") {
		policy.Spec.Connect = g.connectRules(spec.Connections)
	} else {
		g.notRecorded = append(g.notRecorded, "connections")
	}
	if kindRecorded(p, "sockets") {
		policy.Spec.Sockets = g.socketRules(spec.Sockets, socketRoutesUnrecorded(p))
	} else {
		g.notRecorded = append(g.notRecorded, "sockets")
	}
	if kindRecorded(p, "executables") {
		policy.Spec.Executables = g.executableRules(spec.Executables)
	} else {
		g.notRecorded = append(g.notRecorded, "executables")
	}
	// Every process makes system calls: none recorded means they were
	// not recorded (a profile from before footprint recorded them).
	if kindRecorded(p, "syscalls") && len(spec.Syscalls) > 0 {
		policy.Spec.Syscalls = &v1alpha1.SyscallRules{Allow: spec.Syscalls}
	} else {
		g.notRecorded = append(g.notRecorded, "syscalls")
	}
	if errs := policies.Validate(policy); len(errs) > 0 {
		// The rules come from a validated profile through the same path
		// language checks, so this is a bug, not bad input.
		return nil, fmt.Errorf("generated an invalid policy (please report this): %w", errs.ToAggregate())
	}
	g.Policy = policy
	return g, nil
}

func (g *GeneratedPolicy) capabilityRules(entries []v1alpha1.CapabilityEntry) *v1alpha1.CapabilityRules {
	rules := &v1alpha1.CapabilityRules{}
	for _, c := range entries {
		_, err := profiles.ParseCapability(c.Name)
		switch {
		case c.Probe:
			g.notGoverned = append(g.notGoverned, fmt.Sprintf("%s checked %s without auditing: probes are not governed", c.Name, times(c.Count)))
		case c.Verdict == v1alpha1.VerdictDenied:
			g.notGoverned = append(g.notGoverned, fmt.Sprintf("%s denied %s: the kernel refuses it anyway", c.Name, times(c.Count)))
		case err != nil:
			g.notGoverned = append(g.notGoverned, fmt.Sprintf("%s granted %s: unknown to footprint, so no policy can allow it", c.Name, times(c.Count)))
		case c.UserNamespace:
			if !slices.Contains(rules.AllowInUserNamespace, c.Name) {
				rules.AllowInUserNamespace = append(rules.AllowInUserNamespace, c.Name)
			}
			g.capabilityCounts["userns/"+c.Name] += c.Count
		default:
			if !slices.Contains(rules.Allow, c.Name) {
				rules.Allow = append(rules.Allow, c.Name)
			}
			g.capabilityCounts[c.Name] += c.Count
		}
	}
	return rules
}

// ruleAccess collects the access modes granted to each rule path.
type ruleAccess struct {
	order  []string
	access map[string][]v1alpha1.FileAccessMode
	counts map[string]int64
	widen  map[string][]string
}

func newRuleAccess() *ruleAccess {
	return &ruleAccess{access: map[string][]v1alpha1.FileAccessMode{}, counts: map[string]int64{}, widen: map[string][]string{}}
}

func (r *ruleAccess) add(pattern string, access []v1alpha1.FileAccessMode, count int64, widening string) {
	if _, ok := r.access[pattern]; !ok {
		r.order = append(r.order, pattern)
	}
	r.access[pattern] = unionModes(r.access[pattern], access)
	r.counts[pattern] += count
	if widening != "" && !slices.Contains(r.widen[pattern], widening) {
		r.widen[pattern] = append(r.widen[pattern], widening)
	}
}

func (r *ruleAccess) remove(pattern string) {
	delete(r.access, pattern)
	delete(r.counts, pattern)
	delete(r.widen, pattern)
	r.order = slices.DeleteFunc(r.order, func(p string) bool { return p == pattern })
}

var accessOrder = v1alpha1.FileAccessModes

func unionModes(a, b []v1alpha1.FileAccessMode) []v1alpha1.FileAccessMode {
	var out []v1alpha1.FileAccessMode
	for _, m := range accessOrder {
		if slices.Contains(a, m) || slices.Contains(b, m) {
			out = append(out, m)
		}
	}
	return out
}

func subsetModes(a, b []v1alpha1.FileAccessMode) bool {
	for _, m := range a {
		if !slices.Contains(b, m) {
			return false
		}
	}
	return true
}

// PolicyPattern rewrites a profile path into the policy's kernel-matchable
// language, and says how that widened it ("" when it did not). ok is false
// for a path the policy does not govern (pipe:[*] and other paths outside the
// filesystem).
func PolicyPattern(profilePath string) (pattern, widening string, ok bool) {
	if !strings.HasPrefix(profilePath, "/") {
		return "", "", false
	}
	components := strings.Split(strings.TrimPrefix(path.Clean(profilePath), "/"), "/")
	if len(components) == 1 && components[0] == "" {
		return "/", "", true
	}
	var out []string
	var notes []string
	for i, c := range components {
		switch {
		case c == "**" && i == len(components)-1:
			out = append(out, c)
		case c == "**" || strings.Contains(c, "**"):
			notes = append(notes, fmt.Sprintf("%s has ** inside it: the kernel matches directory prefixes, so everything below /%s is allowed", profilePath, strings.Join(out, "/")))
			out = append(out, "**")
			return "/" + strings.Join(out, "/"), strings.Join(notes, "; "), true
		case c != "*" && strings.Contains(c, "*"):
			notes = append(notes, fmt.Sprintf("%q in %s matches any name here: the kernel matches whole components", c, profilePath))
			out = append(out, "*")
		default:
			out = append(out, c)
		}
	}
	return "/" + strings.Join(out, "/"), strings.Join(notes, "; "), true
}

func (g *GeneratedPolicy) fileRules(entries []v1alpha1.FileEntry, allowDirectories []string) (*v1alpha1.FileRules, error) {
	rules := newRuleAccess()
	// Read-only system trees become one read-only rule each, and entries a
	// recorded glob already grants in full are dropped (profiles.FoldFiles):
	// neither grants a write, create or truncate that was not seen.
	entries, folds := profiles.FoldFiles(entries)
	foldNotes := map[string]string{}
	for _, f := range folds {
		foldNotes[f.Glob] = f.Reason
	}
	for _, f := range entries {
		pattern, widening, ok := PolicyPattern(f.Path)
		if !ok {
			g.skipped = append(g.skipped, fmt.Sprintf("%s: not a filesystem path; the policy does not govern it", f.Path))
			continue
		}
		if note := foldNotes[f.Path]; note != "" {
			widening = joinNotes(widening, note)
		}
		rules.add(pattern, f.Access, f.Count, widening)
	}
	for _, dir := range allowDirectories {
		if err := g.allowDirectory(rules, dir); err != nil {
			return nil, err
		}
	}
	// A rule that a broader rule (`*` or `/**`) already grants in full adds
	// nothing. This is checked again on the policy's patterns because
	// widening a partial glob to `*` can make a rule cover others
	// (`global/pg_internal.init.*` becomes `global/*`, which covers
	// `global/pg_control`). Of two rules covering each other (equal
	// patterns are one rule already) the first in order stays.
	for _, p := range slices.Clone(rules.order) {
		for _, q := range rules.order {
			if p != q && strings.Contains(q, "*") && coversPolicyPattern(q, p) && subsetModes(rules.access[p], rules.access[q]) {
				rules.counts[q] += rules.counts[p]
				rules.remove(p)
				break
			}
		}
	}
	slices.Sort(rules.order)
	out := &v1alpha1.FileRules{}
	for _, p := range rules.order {
		out.Allow = append(out.Allow, v1alpha1.FileRule{Path: p, Access: rules.access[p]})
		note := "opened " + times(rules.counts[p])
		if w := rules.widen[p]; len(w) > 0 {
			note += "; WIDER than observed: " + strings.Join(w, "; ")
		}
		g.fileNotes[p] = note
	}
	return out, nil
}

// coversPolicyPattern reports whether policy pattern q matches every path
// policy pattern p matches: component by component, q's `*` covers any one
// component of p (a literal or a `*`), and a trailing `/**` of q covers
// whatever p has from there on, p's own `/**` included. A `*` of q never
// covers p's `/**`, which stands for any number of components.
func coversPolicyPattern(q, p string) bool {
	qc, pc := splitPolicyPattern(q), splitPolicyPattern(p)
	for i, c := range qc {
		if c == "**" && i == len(qc)-1 {
			return true
		}
		if i >= len(pc) || pc[i] == "**" || c != "*" && c != pc[i] {
			return false
		}
	}
	return len(qc) == len(pc)
}

// splitPolicyPattern splits a policy pattern into its components; "/" has
// none.
func splitPolicyPattern(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func (g *GeneratedPolicy) allowDirectory(rules *ruleAccess, dir string) error {
	clean := path.Clean(dir)
	if !strings.HasPrefix(dir, "/") || clean == "/" {
		return fmt.Errorf("--allow-dir %q: give an absolute directory other than /, e.g. --allow-dir /var/cache/app", dir)
	}
	glob := clean + "/**"
	if err := policies.ValidatePath(glob); err != nil {
		return fmt.Errorf("--allow-dir %q: %w", dir, err)
	}
	var access []v1alpha1.FileAccessMode
	var count int64
	var folded []string
	for _, p := range slices.Clone(rules.order) {
		if p == clean || coversPolicyPattern(glob, p) {
			access = unionModes(access, rules.access[p])
			count += rules.counts[p]
			folded = append(folded, p)
			rules.remove(p)
		}
	}
	if len(folded) == 0 {
		return fmt.Errorf("--allow-dir %q: the profile shows no file under %s, so there is nothing to widen; allow it by editing the policy if you mean to", dir, clean)
	}
	rules.add(glob, access, count, fmt.Sprintf("--allow-dir %s: every file below %s is allowed with the access modes of the %s seen there", clean, clean, plural(len(folded), "entry", "entries")))
	return nil
}

func (g *GeneratedPolicy) connectRules(entries []v1alpha1.ConnectionEntry) *v1alpha1.ConnectRules {
	out := &v1alpha1.ConnectRules{}
	for _, c := range entries {
		ip, err := netip.ParseAddr(c.Address)
		if err != nil {
			g.skipped = append(g.skipped, fmt.Sprintf("connection to %q: not an IP address", c.Address))
			continue
		}
		ip = ip.Unmap().WithZone("")
		out.Allow = append(out.Allow, v1alpha1.ConnectRule{CIDR: netip.PrefixFrom(ip, ip.BitLen()).String(), Protocol: c.Protocol, Port: c.Port})
		note := "used " + times(c.Count)
		switch {
		case c.Port == 53:
			note = "DNS, " + note
		case c.Port == 0 && c.Protocol == v1alpha1.ProtocolUDP:
			note = "a UDP connect to port 0 (resolvers do this to pick a source address; nothing is sent), " + note
		}
		g.connectNotes = append(g.connectNotes, note)
	}
	return out
}

func (g *GeneratedPolicy) executableRules(entries []v1alpha1.ExecutableEntry) *v1alpha1.ExecutableRules {
	out := &v1alpha1.ExecutableRules{}
	for _, e := range entries {
		pattern, widening, ok := PolicyPattern(e.Path)
		if !ok {
			g.skipped = append(g.skipped, fmt.Sprintf("executable %s: not a filesystem path", e.Path))
			continue
		}
		note := "executed " + times(e.Count)
		if e.PrivilegeGain {
			note += ", gaining privileges (" + setIDKind(e) + ")"
		}
		if widening != "" {
			note += "; WIDER than observed: " + widening
		}
		if prev, dup := g.executableNotes[pattern]; dup {
			g.executableNotes[pattern] = prev + "; " + note
			continue
		}
		g.executableNotes[pattern] = note
		out.Allow = append(out.Allow, v1alpha1.ExecutableRule{Path: pattern})
	}
	slices.SortFunc(out.Allow, func(a, b v1alpha1.ExecutableRule) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// PolicyYAML writes the policy with the evidence for each rule, what the
// policy leaves alone and why, and how to apply it.
func PolicyYAML(p *v1alpha1.Profile, opts PolicyOptions) ([]byte, error) {
	g, err := Policy(p, opts)
	if err != nil {
		return nil, err
	}
	root, err := fromObject(g.Policy)
	if err != nil {
		return nil, err
	}
	// An EnforcementPolicy is created without a status.
	if status, key := lookup(root, "status"); status != nil && key != nil {
		root.Content = slices.DeleteFunc(root.Content, func(n *yaml.Node) bool { return n == key || n == status })
	}
	g.annotate(root)
	inlineLists(root, "access")
	return encodeYAML(document(g.header(p, resolveTarget(p, opts.Target)), root))
}

func (g *GeneratedPolicy) header(p *v1alpha1.Profile, t Target) string {
	var b strings.Builder
	spec := g.Policy.Spec
	fmt.Fprintf(&b, "EnforcementPolicy for %s,\nfrom the %s.\n", describeTarget(t), describeProfile(p))
	b.WriteString("It allows what the profile shows and nothing more, except the rules marked WIDER.\n")
	if spec.Mode == v1alpha1.ModeAudit {
		b.WriteString("Mode Audit: operations outside it are reported and allowed. Once a quiet period shows\nno violations, export again with --mode enforce.\n")
	} else {
		fmt.Fprintf(&b, "Mode Enforce: operations outside it are refused (action %s).\n", spec.Action)
		if spec.Unpreventable == v1alpha1.UnpreventableKill {
			b.WriteString("Where a node cannot refuse an operation, the process is killed once it has happened.\n")
		} else {
			b.WriteString("Where a node cannot refuse an operation, it is reported and allowed (unpreventable: Audit).\n")
		}
	}
	if len(g.notRecorded) > 0 {
		fmt.Fprintf(&b, "Not enforced, because the recording did not cover them: %s.\n", strings.Join(g.notRecorded, ", "))
	}
	if len(g.skipped) > 0 {
		fmt.Fprintf(&b, "Needing no rule: %s.\n", listAtMost(g.skipped, 5))
	}
	if spec.Selector == nil {
		b.WriteString("No selector: use it locally with\n  footprint enforce --policy THIS_FILE -- COMMAND")
	} else {
		b.WriteString("Apply with:\n  kubectl apply -f THIS_FILE")
	}
	return b.String()
}

func (g *GeneratedPolicy) annotate(root *yaml.Node) {
	spec := g.Policy.Spec
	commentLine(root, "Audit reports and allows; Enforce applies the action", "spec", "mode")
	if left := spec.RoutesLeftAlone(); len(left) > 0 {
		commentLine(root, fmt.Sprintf("recorded, in whole or in part, by agents from before %s were governed: agents leave them alone for this policy; record again to govern them", v1alpha1.JoinRoutes(left)), "spec", "routes")
	} else {
		commentLine(root, "the routes its recording saw: a later agent leaves the ones it adds alone for this policy", "spec", "routes")
	}
	if spec.Selector != nil && len(spec.Selector.Containers) > 0 {
		commentLine(root, "only this container of the workload's pods", "spec", "selector", "containers")
	}
	if c := spec.Capabilities; c != nil {
		if len(c.Allow) == 0 && len(c.AllowInUserNamespace) == 0 {
			commentLine(root, "no capability was used: every capability check the kernel would grant is refused", "spec", "capabilities")
		}
		for i, name := range c.Allow {
			commentLine(root, "granted "+times(g.capabilityCounts[name]), "spec", "capabilities", "allow", i)
		}
		for i, name := range c.AllowInUserNamespace {
			commentLine(root, "granted "+times(g.capabilityCounts["userns/"+name])+" in a user namespace the workload created", "spec", "capabilities", "allowInUserNamespace", i)
		}
		if len(g.notGoverned) > 0 {
			commentAbove(root, "Seen but needing no rule:\n  "+strings.Join(g.notGoverned, "\n  "), "spec", "capabilities")
		}
	}
	if f := spec.Files; f != nil {
		var notes []string
		if len(f.Allow) == 0 {
			notes = append(notes, "no file was opened: every open is refused")
		}
		if len(g.filesUnrecorded) > 0 {
			notes = append(notes, "NOT SEEN by the recording's backend, so refused though the workload may need them: "+strings.Join(g.filesUnrecorded, ", "))
		}
		if len(notes) > 0 {
			commentLine(root, strings.Join(notes, "; "), "spec", "files")
		}
		for i, r := range f.Allow {
			commentLine(root, g.fileNotes[r.Path], "spec", "files", "allow", i)
		}
	}
	if c := spec.Connect; c != nil {
		if len(c.Allow) == 0 {
			commentLine(root, "no connection was made: every connect is refused", "spec", "connect")
		}
		for i := range c.Allow {
			commentLine(root, g.connectNotes[i], "spec", "connect", "allow", i)
		}
	}
	if s := spec.Sockets; s != nil {
		note := "no AF_UNIX connect, bind, raw socket or listen without bind was seen: each is refused"
		if len(s.Allow) > 0 {
			note = "each rule is one operation, matched exactly; any other is refused"
		}
		if len(g.socketsUnrecorded) > 0 {
			note += "; NOT SEEN by the recording's backend, so refused though the workload may need them: " + strings.Join(g.socketsUnrecorded, ", ")
		}
		commentLine(root, note, "spec", "sockets")
		for i := range s.Allow {
			commentLine(root, g.socketNotes[i], "spec", "sockets", "allow", i)
		}
	}
	if e := spec.Executables; e != nil {
		if len(e.Allow) == 0 {
			commentLine(root, "no program was executed: every execution is refused", "spec", "executables")
		}
		for i, r := range e.Allow {
			commentLine(root, g.executableNotes[r.Path], "spec", "executables", "allow", i)
		}
	}
	if len(spec.Images) > 0 {
		commentAbove(root, "The images the profile was recorded from. A selected pod running another image is held\n"+
			"in Audit and recorded into the profile until the policy is promoted to it\n"+
			"(kubectl footprint enforce PROFILE --promote); spec.unknownImages: Enforce holds it to the policy instead.", "spec", "images")
	}
	if s := spec.Syscalls; s != nil {
		note := "the system calls recorded; the kernel refuses others before they run (seccomp): " +
			"EPERM, or ENOSYS for clone3 and calls newer than any named, so that libc falls back"
		if companions := companionsNote(s.Allow); companions != "" {
			note += "; " + companions
		}
		commentLine(root, note, "spec", "syscalls")
	}
}
