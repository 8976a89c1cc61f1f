package policies

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// The policy path language is what the kernel can match with one hash lookup
// per path component: literal components, `*` for exactly one whole
// component, and a trailing `/**` for a directory and everything below it.
// It writes its globs as profile paths do, with narrower meanings.
const (
	anyComponent   = "*"
	anyDescendants = "**"
)

// ValidatePath returns nil if p is a policy path pattern, and otherwise
// an error saying what is wrong with it and how to write it instead.
func ValidatePath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path: write an absolute path such as /etc/passwd")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("relative path %q: write it from the root, e.g. /%s", p, p)
	case p == "/" || p == "/**":
		return nil
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("path %q ends with a slash: write %q for the directory itself or %q for everything below it", p, strings.TrimRight(p, "/"), strings.TrimRight(p, "/")+"/**")
	}
	components := profiles.SplitPath(p)
	for i, c := range components {
		last := i == len(components)-1
		switch {
		case c == "":
			return fmt.Errorf("path %q has an empty component (//)", p)
		case c == "." || c == "..":
			return fmt.Errorf("path %q has a %q component: write the path the kernel resolves to", p, c)
		case c == anyDescendants && !last:
			return fmt.Errorf("path %q has ** before its end: ** may only end a path (dir/**), because the kernel matches prefixes, not patterns in the middle", p)
		case c == anyComponent || c == anyDescendants:
		case strings.Contains(c, anyComponent):
			return fmt.Errorf("path %q has %q, a partial-component glob: the kernel matches whole components, so write * for the whole component", p, c)
		}
	}
	return nil
}

// canonicalKernelPath reports whether a path is written the way the kernel's
// d_path reports an open file: absolute, without empty, `.` or `..`
// components, and without a trailing slash.
func canonicalKernelPath(p string) bool {
	if p == "/" {
		return true
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return false
	}
	for _, c := range profiles.SplitPath(p) {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// MatchPath reports whether a policy path pattern matches a path as the
// kernel reports it. `*` matches exactly one component, whatever its name
// (dot files included); a trailing `/**` matches the directory itself and any
// path below it; other components match only themselves. A path that is not
// canonical (relative, or with empty, `.` or `..` components) matches nothing.
func MatchPath(pattern, path string) bool {
	if !canonicalKernelPath(path) {
		return false
	}
	return matchComponents(profiles.SplitPath(pattern), profiles.SplitPath(path))
}

func matchComponents(pattern, path []string) bool {
	for i, c := range pattern {
		if c == anyDescendants && i == len(pattern)-1 {
			return true
		}
		if i >= len(path) || c != anyComponent && c != path[i] {
			return false
		}
	}
	return len(pattern) == len(path)
}

// Verdict is what the enforcer does with one operation.
type Verdict string

const (
	// VerdictAllow means the policy allows the operation (or does not
	// govern it).
	VerdictAllow Verdict = "Allow"
	// VerdictAudit means the policy would deny the operation but is in Audit
	// mode: it is reported and allowed.
	VerdictAudit Verdict = "Audit"
	// VerdictDeny means the operation fails with EPERM and is reported.
	VerdictDeny Verdict = "Deny"
	// VerdictKill means the process is killed and the operation reported.
	VerdictKill Verdict = "Kill"
)

// Decision is the policy's answer for one operation.
type Decision struct {
	// Allowed is true when the policy allows the operation or does not
	// govern it.
	Allowed bool
	// Verdict is what the enforcer does, given the policy's mode and action.
	Verdict Verdict
	// Reason says which rule allowed the operation or why none did, for a
	// violation report.
	Reason string
	// Missing lists, for a file open that is not allowed, the access modes no
	// matching rule grants.
	Missing []v1alpha1.FileAccessMode
}

// CapabilityCheck is one capability check as the kernel makes it.
type CapabilityCheck struct {
	// Capability is the capability's number (CAP_NET_BIND_SERVICE is 10).
	Capability int
	// UserNamespace is true when the check is against a user namespace other
	// than the container's own.
	UserNamespace bool
	// NoAudit is true for a check made with CAP_OPT_NOAUDIT (a probe).
	NoAudit bool
	// WouldBeGranted is the kernel's own answer without the policy.
	WouldBeGranted bool
}

// Matcher decides operations against one EnforcementPolicy. It is the
// reference semantics of the policy: the kernel enforcer is tested against
// it, and the generator's guarantee (a generated policy allows nothing the
// profile does not show) is checked with it.
type Matcher struct {
	mode   v1alpha1.EnforcementMode
	action v1alpha1.EnforcementAction

	capabilities        *[2]map[int]bool // [own namespace, child namespace]; nil: not enforced
	files               []fileRule
	filesEnforced       bool
	connect             []connectRule
	connectEnforced     bool
	executables         []pathRule
	executablesEnforced bool
	// sockets holds the socket rules, normalised; nil: not enforced.
	sockets map[v1alpha1.SocketRule]bool
}

// pathRule is a policy path pattern split into components for matching.
type pathRule struct {
	path       string
	components []string
}

type fileRule struct {
	pathRule
	access map[v1alpha1.FileAccessMode]bool
}

type connectRule struct {
	prefix   netip.Prefix
	protocol v1alpha1.Protocol
	low      uint16
	high     uint16
	text     string
}

// NewMatcher validates spec and prepares it for matching. An invalid
// policy is refused with every problem named by its field.
func NewMatcher(spec *v1alpha1.EnforcementPolicySpec) (*Matcher, error) {
	if errs := ValidateSpec(spec); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	m := &Matcher{mode: spec.Mode, action: spec.Action}
	if m.mode == "" {
		m.mode = v1alpha1.ModeAudit
	}
	if m.action == "" {
		m.action = v1alpha1.ActionDeny
	}
	if spec.Capabilities != nil {
		m.capabilities = &[2]map[int]bool{{}, {}}
		for i, list := range [][]string{spec.Capabilities.Allow, spec.Capabilities.AllowInUserNamespace} {
			for _, name := range list {
				n, _ := profiles.ParseCapability(name) // validated above
				m.capabilities[i][n] = true
			}
		}
	}
	if spec.Files != nil {
		m.filesEnforced = true
		for _, r := range spec.Files.Allow {
			access := map[v1alpha1.FileAccessMode]bool{}
			for _, a := range v1alpha1.Granted(r.Access) {
				access[a] = true
			}
			m.files = append(m.files, fileRule{pathRule: pathRule{path: r.Path, components: profiles.SplitPath(r.Path)}, access: access})
		}
	}
	if spec.Connect != nil {
		m.connectEnforced = true
		for _, r := range spec.Connect.Allow {
			prefix, _ := netip.ParsePrefix(r.CIDR) // validated above
			high := r.Port
			if r.EndPort != nil {
				high = *r.EndPort
			}
			m.connect = append(m.connect, connectRule{
				prefix: prefix, protocol: r.Protocol, low: uint16(r.Port), high: uint16(high),
				text: describeConnectRule(r),
			})
		}
	}
	if spec.Sockets != nil {
		m.sockets = map[v1alpha1.SocketRule]bool{}
		for _, r := range spec.Sockets.Allow {
			m.sockets[normalSocketRule(r)] = true
		}
	}
	if spec.Executables != nil {
		m.executablesEnforced = true
		for _, r := range spec.Executables.Allow {
			m.executables = append(m.executables, pathRule{path: r.Path, components: profiles.SplitPath(r.Path)})
		}
	}
	return m, nil
}

func describeConnectRule(r v1alpha1.ConnectRule) string {
	ports := fmt.Sprint(r.Port)
	if r.EndPort != nil && *r.EndPort != r.Port {
		ports = fmt.Sprintf("%d-%d", r.Port, *r.EndPort)
	}
	return fmt.Sprintf("%s %s port %s", r.Protocol, r.CIDR, ports)
}

func (m *Matcher) allow(reason string) Decision {
	return Decision{Allowed: true, Verdict: VerdictAllow, Reason: reason}
}

func (m *Matcher) deny(reason string) Decision {
	d := Decision{Verdict: VerdictAudit, Reason: reason}
	if m.mode == v1alpha1.ModeEnforce {
		d.Verdict = VerdictDeny
		if m.action == v1alpha1.ActionKill {
			d.Verdict = VerdictKill
		}
	}
	return d
}

// FileOpen decides an open of path with the given access modes (read when
// none is given). Paths outside the filesystem (not starting with /, like
// pipe:[1234]) are not governed by the policy.
func (m *Matcher) FileOpen(path string, access ...v1alpha1.FileAccessMode) Decision {
	if !m.filesEnforced {
		return m.allow("files are not enforced by this policy")
	}
	if !strings.HasPrefix(path, "/") {
		return m.allow("not a filesystem path: reachable only through a descriptor the process already holds")
	}
	if len(access) == 0 {
		access = []v1alpha1.FileAccessMode{v1alpha1.AccessRead}
	}
	if !canonicalKernelPath(path) {
		return m.deny(fmt.Sprintf("open of %s: not a canonical path", path))
	}
	components := profiles.SplitPath(path)
	granted := map[v1alpha1.FileAccessMode]bool{}
	var matched []string
	for _, r := range m.files {
		if !matchComponents(r.components, components) {
			continue
		}
		matched = append(matched, r.path)
		for a := range r.access {
			granted[a] = true
		}
	}
	var missing []v1alpha1.FileAccessMode
	for _, a := range profiles.UnionAccess(access, nil) {
		if !granted[a] {
			missing = append(missing, a)
		}
	}
	if len(missing) == 0 {
		return m.allow("allowed by " + strings.Join(matched, ", "))
	}
	reason := fmt.Sprintf("%s of %s: no rule matches the path", profiles.JoinAccess(missing), path)
	if len(matched) > 0 {
		reason = fmt.Sprintf("%s of %s: matching rules (%s) do not grant %s", profiles.JoinAccess(profiles.UnionAccess(access, nil)), path, strings.Join(matched, ", "), profiles.JoinAccess(missing))
	}
	d := m.deny(reason)
	d.Missing = missing
	return d
}

// Exec decides an execution of the program at path.
func (m *Matcher) Exec(path string) Decision {
	if !m.executablesEnforced {
		return m.allow("executables are not enforced by this policy")
	}
	if canonicalKernelPath(path) {
		components := profiles.SplitPath(path)
		for _, rule := range m.executables {
			if matchComponents(rule.components, components) {
				return m.allow("allowed by " + rule.path)
			}
		}
	}
	return m.deny(fmt.Sprintf("execution of %s: no rule matches the path", path))
}

// Connect decides a connect or unconnected send to address and port. An
// IPv4-mapped IPv6 address is matched as IPv4.
func (m *Matcher) Connect(protocol v1alpha1.Protocol, address netip.Addr, port uint16) Decision {
	if !m.connectEnforced {
		return m.allow("connections are not enforced by this policy")
	}
	address = address.Unmap().WithZone("")
	for _, r := range m.connect {
		if r.protocol == protocol && r.prefix.Contains(address) && port >= r.low && port <= r.high {
			return m.allow("allowed by " + r.text)
		}
	}
	return m.deny(fmt.Sprintf("%s connect to %s: no rule allows it", protocol, netip.AddrPortFrom(address, port)))
}

// Capability decides a capability check. Only audited checks the kernel
// would grant are governed: refusing a check that fails anyway changes
// nothing, and a probe (CAP_OPT_NOAUDIT) asks whether the process holds a
// capability rather than requesting the privilege.
func (m *Matcher) Capability(check CapabilityCheck) Decision {
	name := profiles.CapabilityName(check.Capability)
	switch {
	case m.capabilities == nil:
		return m.allow("capabilities are not enforced by this policy")
	case !check.WouldBeGranted:
		return m.allow(name + " is refused by the kernel anyway")
	case check.NoAudit:
		return m.allow(name + " is checked without auditing (a probe), which the policy does not govern")
	}
	list, field := 0, "allow"
	if check.UserNamespace {
		list, field = 1, "allowInUserNamespace"
	}
	if m.capabilities[list][check.Capability] {
		return m.allow(fmt.Sprintf("%s is in capabilities.%s", name, field))
	}
	return m.deny(fmt.Sprintf("use of %s: not in capabilities.%s", name, field))
}

// AllowedCapabilities returns the capabilities a policy allows in the
// container's own user namespace, by number, sorted.
func (m *Matcher) AllowedCapabilities() []int {
	if m.capabilities == nil {
		return nil
	}
	var out []int
	for n := range m.capabilities[0] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// normalSocketRule spells a rule's address as the kernel matches it.
func normalSocketRule(r v1alpha1.SocketRule) v1alpha1.SocketRule {
	if r.Operation == v1alpha1.SocketBind {
		r.Address = profiles.NormalizeAddress(r.Address)
	}
	return r
}

// Socket decides a socket operation: allowed when a rule is exactly it.
func (m *Matcher) Socket(r v1alpha1.SocketRule) Decision {
	if m.sockets == nil {
		return m.allow("sockets are not enforced by this policy")
	}
	if m.sockets[normalSocketRule(r)] {
		return m.allow("allowed by the rule " + profiles.SocketName(r))
	}
	return m.deny(profiles.SocketName(r) + ": no rule allows it")
}
