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
	changes = append(changes, DiffEntries(KindCapability, as.Capabilities, bs.Capabilities, CapabilityEntryName, func(v1alpha1.CapabilityEntry) string { return "" })...)
	changes = append(changes, DiffEntries(KindFile, as.Files, bs.Files, func(f v1alpha1.FileEntry) string { return f.Path }, fileDetails)...)
	changes = append(changes, DiffEntries(KindConnection, as.Connections, bs.Connections, ConnectionName, func(v1alpha1.ConnectionEntry) string { return "" })...)
	changes = append(changes, DiffEntries(KindExecutable, as.Executables, bs.Executables, func(e v1alpha1.ExecutableEntry) string { return e.Path }, executableDetails)...)
	changes = append(changes, DiffEntries(KindSocket, as.Sockets, bs.Sockets, func(s v1alpha1.SocketEntry) string { return SocketName(s.SocketRule) }, func(v1alpha1.SocketEntry) string { return "" })...)
	changes = append(changes, DiffEntries(KindSyscall, SyscallEntries(as), SyscallEntries(bs), func(s string) string { return s }, func(string) string { return "" })...)
	return changes
}

// SyscallEntries names each system call of a spec with its ABI, e.g.
// "ptrace" or "X86 socketcall": native calls by their names alone; and
// each socket family, e.g. "socket AF_NETLINK".
func SyscallEntries(spec v1alpha1.ProfileSpec) []string {
	var out []string
	for _, set := range spec.Syscalls {
		prefix := ""
		if set.Arch != v1alpha1.ArchX86_64 {
			prefix = string(set.Arch) + " "
		}
		for _, n := range set.Names {
			out = append(out, prefix+n)
		}
		for _, f := range set.SocketFamilies {
			out = append(out, prefix+"socket "+f)
		}
	}
	return out
}

// DiffEntries compares two sorted, normalised lists by name; details are
// what may change for an entry of the same name.
func DiffEntries[T any](kind EntryKind, a, b []T, name func(T) string, details func(T) string) []Change {
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

// CapabilityEntryName says what a capability entry is, as a profile diff
// and table show it: "CAP_NET_RAW granted probe in a user namespace".
func CapabilityEntryName(c v1alpha1.CapabilityEntry) string {
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
	s := JoinAccess(f.Access)
	if f.RootFilesystem {
		s += " on the root filesystem"
	} else if f.Filesystem != "" {
		s += " on " + f.Filesystem
	}
	return s
}

// ConnectionName says what a connection entry is: "TCP 10.0.0.1:443".
func ConnectionName(c v1alpha1.ConnectionEntry) string {
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

// String writes a change on one line, e.g. "+ file /etc/app.conf (read)"
// or "~ file /tmp/** (read -> read+write)".
func (c Change) String() string {
	sign := map[ChangeOp]string{Added: "+", Removed: "-", Changed: "~"}[c.Op]
	var details string
	switch {
	case c.Op == Changed:
		details = fmt.Sprintf(" (%s -> %s)", c.Before, c.After)
	case c.After != "":
		details = " (" + c.After + ")"
	case c.Before != "":
		details = " (" + c.Before + ")"
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s %s%s", sign, c.Kind, c.Entry, details))
}

// JoinAccess writes access modes the way a profile table shows them:
// read+write.
func JoinAccess(modes []v1alpha1.FileAccessMode) string {
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, "+")
}
