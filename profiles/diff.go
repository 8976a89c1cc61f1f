package profiles

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// EntryKind names a kind of profile entry.
type EntryKind string

// The kinds of entry a profile holds.
const (
	KindCapability EntryKind = "capability"
	KindFile       EntryKind = "file"
	KindConnection EntryKind = "connection"
	KindExecutable EntryKind = "executable"
	KindSyscall    EntryKind = "syscall"
)

// ChangeOp says how an entry changed from one profile to the next.
type ChangeOp string

// The ways an entry can change.
const (
	Added   ChangeOp = "added"
	Removed ChangeOp = "removed"
	Changed ChangeOp = "changed"
)

// Change is one difference between two profiles. Counts are not compared:
// they differ between any two runs.
type Change struct {
	Op     ChangeOp
	Kind   EntryKind
	Entry  string // what the entry is: a capability and its verdict, a path, a destination
	Before string // for Changed: the entry's details in the first profile
	After  string // for Changed: the entry's details in the second profile
}

// Diff lists what changed from profile a to profile b, after normalising
// both, in the order capabilities, files, connections, executables, system
// calls.
func Diff(a, b *v1alpha1.Profile) []Change {
	as, bs := NormalizeSpec(a.Spec), NormalizeSpec(b.Spec)
	var changes []Change
	changes = append(changes, diffEntries(KindCapability, as.Capabilities, bs.Capabilities, capabilityEntryName, func(v1alpha1.CapabilityEntry) string { return "" })...)
	changes = append(changes, diffEntries(KindFile, as.Files, bs.Files, func(f v1alpha1.FileEntry) string { return f.Path }, fileDetails)...)
	changes = append(changes, diffEntries(KindConnection, as.Connections, bs.Connections, connectionName, func(v1alpha1.ConnectionEntry) string { return "" })...)
	changes = append(changes, diffEntries(KindExecutable, as.Executables, bs.Executables, func(e v1alpha1.ExecutableEntry) string { return e.Path }, executableDetails)...)
	changes = append(changes, diffEntries(KindSocket, as.Sockets, bs.Sockets, func(s v1alpha1.SocketEntry) string { return SocketName(s.SocketRule) }, func(v1alpha1.SocketEntry) string { return "" })...)
	changes = append(changes, diffEntries(KindSyscall, syscallEntries(as), syscallEntries(bs), func(s string) string { return s }, func(string) string { return "" })...)
	return changes
}

// syscallEntries names each system call of a spec with its ABI, e.g.
// "ptrace" or "X86 socketcall": native calls by their names alone.
func syscallEntries(spec v1alpha1.ProfileSpec) []string {
	var out []string
	for _, set := range spec.Syscalls {
		for _, n := range set.Names {
			if set.Arch != v1alpha1.ArchX86_64 {
				n = string(set.Arch) + " " + n
			}
			out = append(out, n)
		}
	}
	return out
}

// diffEntries compares two sorted, normalised lists by name; details are
// what may change for an entry of the same name.
func diffEntries[T any](kind EntryKind, a, b []T, name func(T) string, details func(T) string) []Change {
	inB := make(map[string]T, len(b))
	for _, e := range b {
		inB[name(e)] = e
	}
	inA := make(map[string]bool, len(a))
	var changes []Change
	for _, e := range a {
		n := name(e)
		inA[n] = true
		other, ok := inB[n]
		switch {
		case !ok:
			changes = append(changes, Change{Op: Removed, Kind: kind, Entry: n, Before: details(e)})
		case details(e) != details(other):
			changes = append(changes, Change{Op: Changed, Kind: kind, Entry: n, Before: details(e), After: details(other)})
		}
	}
	for _, e := range b {
		if n := name(e); !inA[n] {
			changes = append(changes, Change{Op: Added, Kind: kind, Entry: n, After: details(e)})
		}
	}
	return changes
}

func capabilityEntryName(c v1alpha1.CapabilityEntry) string {
	parts := []string{c.Name, strings.ToLower(string(c.Verdict))}
	if c.Probe {
		parts = append(parts, "probe")
	}
	if c.UserNamespace {
		parts = append(parts, "in a user namespace")
	}
	return strings.Join(parts, " ")
}

func fileDetails(f v1alpha1.FileEntry) string {
	s := joinAccess(f.Access)
	if f.RootFilesystem {
		s += " on the root filesystem"
	} else if f.Filesystem != "" {
		s += " on " + f.Filesystem
	}
	return s
}

func connectionName(c v1alpha1.ConnectionEntry) string {
	return fmt.Sprintf("%s %s", c.Protocol, hostPort(c.Address, c.Port))
}

// hostPort writes an address and port the way people read them:
// 10.0.0.1:443, [fd00::1]:443.
func hostPort(address string, port int32) string {
	if ip, err := netip.ParseAddr(address); err == nil && ip.Is6() {
		return "[" + address + "]:" + strconv.Itoa(int(port))
	}
	return address + ":" + strconv.Itoa(int(port))
}

func executableDetails(e v1alpha1.ExecutableEntry) string {
	var parts []string
	if e.Setuid {
		parts = append(parts, "setuid")
	}
	if e.Setgid {
		parts = append(parts, "setgid")
	}
	if e.PrivilegeGain {
		parts = append(parts, "gained privileges")
	}
	if len(e.UIDs) > 0 {
		parts = append(parts, "uid "+joinIDs(e.UIDs))
	}
	if len(e.GIDs) > 0 {
		parts = append(parts, "gid "+joinIDs(e.GIDs))
	}
	return strings.Join(parts, ", ")
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

// Denial is one profile entry a policy would not allow.
type Denial struct {
	Kind    EntryKind
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
	m, err := NewPolicyMatcher(&policy.Spec)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", policy.Name, err)
	}
	spec := NormalizeSpec(p.Spec)
	var out []Denial
	for _, c := range spec.Capabilities {
		n, err := ParseCapability(c.Name)
		if err != nil {
			continue // a capability newer than footprint: no policy can name it
		}
		d := m.Capability(CapabilityCheck{Capability: n, UserNamespace: c.UserNamespace, NoAudit: c.Probe, WouldBeGranted: c.Verdict == v1alpha1.VerdictGranted})
		if !d.Allowed {
			out = append(out, Denial{Kind: KindCapability, Entry: capabilityEntryName(c), Verdict: d.Verdict, Reason: d.Reason, Count: c.Count})
		}
	}
	for _, f := range spec.Files {
		if d, ok := firstRefusal(f.Path, m.maxRuleDepth(), func(path string) Decision { return m.FileOpen(path, f.Access...) }); !ok {
			out = append(out, Denial{Kind: KindFile, Entry: f.Path + " (" + joinAccess(f.Access) + ")", Verdict: d.Verdict, Reason: d.Reason, Count: f.Count})
		}
	}
	for _, c := range spec.Connections {
		ip, err := netip.ParseAddr(c.Address)
		if err != nil {
			continue // validated profiles hold addresses only
		}
		if d := m.Connect(c.Protocol, ip, uint16(c.Port)); !d.Allowed {
			out = append(out, Denial{Kind: KindConnection, Entry: connectionName(c), Verdict: d.Verdict, Reason: d.Reason, Count: c.Count})
		}
	}
	for _, s := range spec.Sockets {
		if d := m.Socket(s.SocketRule); !d.Allowed {
			out = append(out, Denial{Kind: KindSocket, Entry: SocketName(s.SocketRule), Verdict: d.Verdict, Reason: d.Reason, Count: s.Count})
		}
	}
	for _, e := range spec.Executables {
		if d, ok := firstRefusal(e.Path, m.maxRuleDepth(), m.Exec); !ok {
			out = append(out, Denial{Kind: KindExecutable, Entry: e.Path, Verdict: d.Verdict, Reason: d.Reason, Count: e.Count})
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
	for _, c := range splitPath(pattern) {
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
func (m *PolicyMatcher) maxRuleDepth() int {
	depth := 0
	for _, r := range m.files {
		depth = max(depth, len(r.components))
	}
	for _, r := range m.executables {
		depth = max(depth, len(r.components))
	}
	return depth
}
