package profiles

import (
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// accessOrder is the canonical order of file access modes in a profile.
var accessOrder = v1alpha1.FileAccessModes

// Normalize returns a copy of p in which runs and replicas of the same
// program agree: paths are normalised with NormalizePath, addresses with
// NormalizeAddress, capability names are spelled the kernel's way, entries
// that became equal are folded into one (their counts added up, since they
// were distinct observations), entries inside a collapsed `dir/**` entry are
// folded into it, and every list is sorted. Normalize is idempotent; p is not
// modified.
func Normalize(p *v1alpha1.Profile) *v1alpha1.Profile {
	out := p.DeepCopy()
	out.Spec = NormalizeSpec(out.Spec)
	slices.SortFunc(out.Status.Conditions, compareConditionTypes)
	return out
}

// NormalizeSpec is Normalize for a spec alone. The spec's lists are not
// modified; the result has lists of its own.
func NormalizeSpec(spec v1alpha1.ProfileSpec) v1alpha1.ProfileSpec {
	spec = *spec.DeepCopy()
	spec.Capabilities = foldCapabilities(nil, spec.Capabilities, addCounts)
	spec.Files = foldFiles(nil, spec.Files, addCounts)
	spec.Connections = foldConnections(nil, spec.Connections, addCounts)
	spec.Executables = foldExecutables(nil, spec.Executables, addCounts)
	spec.Sockets = foldSockets(nil, spec.Sockets, addCounts)
	spec.Syscalls = foldSyscalls(nil, spec.Syscalls)
	spec.Collapsed = foldCollapsed(nil, spec.Collapsed)
	spec.Sources = foldSources(nil, spec.Sources)
	return spec
}

// NormalizeAddress returns the canonical spelling of an IP address:
// IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) become IPv4, IPv6 is written
// in its shortest form and an interface zone (%eth0), which only means
// something on the host that recorded it, is dropped. A string that is not an
// address is returned trimmed.
func NormalizeAddress(address string) string {
	address = strings.TrimSpace(address)
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return address
	}
	return ip.Unmap().WithZone("").String()
}

// countJoin says how two counts for the same entry combine: added up when
// they are distinct observations (within one profile), or the larger one when
// they may be the same observation seen twice (merging profiles).
type countJoin func(a, b int64) int64

func addCounts(a, b int64) int64 {
	if sum := a + b; sum >= a { // saturate instead of wrapping
		return sum
	}
	return int64(^uint64(0) >> 1)
}

func maxCount(a, b int64) int64 { return max(a, b) }

// canonicalCapability spells a capability the kernel's way; names footprint
// does not know are kept (upper-cased) so that nothing is lost.
func canonicalCapability(name string) string {
	if n, err := ParseCapability(name); err == nil {
		return CapabilityName(n)
	}
	return strings.ToUpper(strings.TrimSpace(name))
}

type capabilityKey struct {
	name          string
	verdict       v1alpha1.CapabilityVerdict
	probe         bool
	userNamespace bool
}

func foldCapabilities(into, from []v1alpha1.CapabilityEntry, join countJoin) []v1alpha1.CapabilityEntry {
	index := make(map[capabilityKey]int, len(into)+len(from))
	out := make([]v1alpha1.CapabilityEntry, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.CapabilityEntry{into, from} {
		for _, e := range list {
			e.Name = canonicalCapability(e.Name)
			key := capabilityKey{e.Name, e.Verdict, e.Probe, e.UserNamespace}
			if i, ok := index[key]; ok {
				out[i].Count = join(out[i].Count, e.Count)
				continue
			}
			index[key] = len(out)
			out = append(out, e)
		}
	}
	slices.SortFunc(out, compareCapabilities)
	return nilIfEmpty(out)
}

func compareCapabilities(a, b v1alpha1.CapabilityEntry) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Verdict), string(b.Verdict)); c != 0 {
		return c
	}
	if c := compareBool(a.Probe, b.Probe); c != 0 {
		return c
	}
	return compareBool(a.UserNamespace, b.UserNamespace)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

// joinFile folds b into a: access modes are united, the root filesystem flag
// is set if either was on it, counts combine with join.
func joinFile(a, b v1alpha1.FileEntry, join countJoin) v1alpha1.FileEntry {
	a.Access = UnionAccess(a.Access, b.Access)
	a.Filesystem = joinFilesystem(a.Filesystem, a.RootFilesystem, b.Filesystem, b.RootFilesystem)
	a.RootFilesystem = a.RootFilesystem || b.RootFilesystem
	a.Count = join(a.Count, b.Count)
	return a
}

// joinFilesystem picks the filesystem of a folded entry: the one on the root
// filesystem when only one of them is (that is the one that matters for
// readOnlyRootFilesystem), otherwise the first in sort order that is known.
// Picking by a fixed rule rather than by argument order keeps merging
// commutative and associative.
func joinFilesystem(a string, aRoot bool, b string, bRoot bool) string {
	switch {
	case aRoot && !bRoot:
		return a
	case bRoot && !aRoot:
		return b
	}
	return minKnown(a, b)
}

// minKnown returns the smaller of two strings, treating "" as unknown.
func minKnown(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return min(a, b)
}

// UnionAccess is every access mode of a and b, once each, in the order of
// v1alpha1.FileAccessModes (modes footprint does not know last).
func UnionAccess(a, b []v1alpha1.FileAccessMode) []v1alpha1.FileAccessMode {
	// A bit per known mode, in accessOrder: this runs for every file entry
	// of every merge, and a map per call was most of a merge's allocations.
	var known uint64
	var unknown []v1alpha1.FileAccessMode
	for _, list := range [][]v1alpha1.FileAccessMode{a, b} {
		for _, m := range list {
			if i, ok := accessIndex[m]; ok {
				known |= 1 << i
			} else if !slices.Contains(unknown, m) {
				unknown = append(unknown, m)
			}
		}
	}
	out := make([]v1alpha1.FileAccessMode, 0, bits.OnesCount64(known)+len(unknown))
	for i, m := range accessOrder {
		if known&(1<<i) != 0 {
			out = append(out, m)
		}
	}
	// Modes footprint does not know (a validation error elsewhere) are kept
	// after the known ones so that normalising never hides them.
	slices.Sort(unknown)
	return append(out, unknown...)
}

// accessIndex is each known mode's place in accessOrder.
var accessIndex = func() map[v1alpha1.FileAccessMode]int {
	if len(accessOrder) > 64 {
		panic("profiles: more file access modes than UnionAccess has bits for")
	}
	m := make(map[v1alpha1.FileAccessMode]int, len(accessOrder))
	for i, a := range accessOrder {
		m[a] = i
	}
	return m
}()

func foldFiles(into, from []v1alpha1.FileEntry, join countJoin) []v1alpha1.FileEntry {
	index := make(map[string]int, len(into)+len(from))
	out := make([]v1alpha1.FileEntry, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.FileEntry{into, from} {
		for _, e := range list {
			e.Path = NormalizePath(e.Path)
			e.Access = UnionAccess(e.Access, nil)
			if i, ok := index[e.Path]; ok {
				out[i] = joinFile(out[i], e, join)
				continue
			}
			index[e.Path] = len(out)
			out = append(out, e)
		}
	}
	out = absorbIntoRecursiveGlobs(out, join)
	slices.SortFunc(out, func(a, b v1alpha1.FileEntry) int { return strings.Compare(a.Path, b.Path) })
	return nilIfEmpty(out)
}

// absorbIntoRecursiveGlobs folds every entry that a `dir/**` entry covers
// into it, so that a collapsed directory stays collapsed as new entries
// arrive. Only recursive globs absorb: they are what size bounding makes, and
// they nest without partially overlapping, so the result does not depend on
// the order in which entries arrived.
func absorbIntoRecursiveGlobs(files []v1alpha1.FileEntry, join countJoin) []v1alpha1.FileEntry {
	var globs []int
	for i, f := range files {
		if _, ok := recursiveGlobRoot(f.Path); ok {
			globs = append(globs, i)
		}
	}
	if len(globs) == 0 {
		return files
	}
	// Outermost globs first, so an entry is folded into the glob that
	// survives rather than into one that is itself about to be absorbed.
	slices.SortFunc(globs, func(a, b int) int { return len(files[a].Path) - len(files[b].Path) })
	absorbed := make([]bool, len(files))
	for _, g := range globs {
		if absorbed[g] {
			continue
		}
		for i := range files {
			if i == g || absorbed[i] || !PatternCovers(files[g].Path, files[i].Path) {
				continue
			}
			files[g] = joinFile(files[g], files[i], join)
			absorbed[i] = true
		}
	}
	kept := files[:0]
	for i, f := range files {
		if !absorbed[i] {
			kept = append(kept, f)
		}
	}
	return kept
}

type connectionKey struct {
	protocol v1alpha1.Protocol
	address  string
	port     int32
}

func foldConnections(into, from []v1alpha1.ConnectionEntry, join countJoin) []v1alpha1.ConnectionEntry {
	index := make(map[connectionKey]int, len(into)+len(from))
	out := make([]v1alpha1.ConnectionEntry, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.ConnectionEntry{into, from} {
		for _, e := range list {
			e.Address = NormalizeAddress(e.Address)
			key := connectionKey{e.Protocol, e.Address, e.Port}
			if i, ok := index[key]; ok {
				out[i].Count = join(out[i].Count, e.Count)
				continue
			}
			index[key] = len(out)
			out = append(out, e)
		}
	}
	slices.SortFunc(out, compareConnections)
	return nilIfEmpty(out)
}

// compareConnections orders by address (numerically where both parse), then
// port, then protocol, so a table reads naturally.
func compareConnections(a, b v1alpha1.ConnectionEntry) int {
	if c := compareAddresses(a.Address, b.Address); c != 0 {
		return c
	}
	if a.Port != b.Port {
		if a.Port < b.Port {
			return -1
		}
		return 1
	}
	return strings.Compare(string(a.Protocol), string(b.Protocol))
}

func compareAddresses(a, b string) int {
	ipA, errA := netip.ParseAddr(a)
	ipB, errB := netip.ParseAddr(b)
	switch {
	case errA == nil && errB == nil:
		if c := ipA.Compare(ipB); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func foldExecutables(into, from []v1alpha1.ExecutableEntry, join countJoin) []v1alpha1.ExecutableEntry {
	index := make(map[string]int, len(into)+len(from))
	out := make([]v1alpha1.ExecutableEntry, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.ExecutableEntry{into, from} {
		for _, e := range list {
			e.Path = NormalizePath(e.Path)
			e.UIDs = unionIDs(e.UIDs, nil)
			e.GIDs = unionIDs(e.GIDs, nil)
			if i, ok := index[e.Path]; ok {
				x := &out[i]
				x.Setuid = x.Setuid || e.Setuid
				x.Setgid = x.Setgid || e.Setgid
				x.PrivilegeGain = x.PrivilegeGain || e.PrivilegeGain
				x.UIDs = unionIDs(x.UIDs, e.UIDs)
				x.GIDs = unionIDs(x.GIDs, e.GIDs)
				x.Count = join(x.Count, e.Count)
				continue
			}
			index[e.Path] = len(out)
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.ExecutableEntry) int { return strings.Compare(a.Path, b.Path) })
	return nilIfEmpty(out)
}

func unionIDs(a, b []int64) []int64 {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := append(append(make([]int64, 0, len(a)+len(b)), a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func foldCollapsed(into, from []v1alpha1.Collapse) []v1alpha1.Collapse {
	index := make(map[string]int, len(into)+len(from))
	out := make([]v1alpha1.Collapse, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.Collapse{into, from} {
		for _, c := range list {
			if i, ok := index[c.Glob]; ok {
				out[i].Entries = max(out[i].Entries, c.Entries)
				out[i].Reason = minKnown(out[i].Reason, c.Reason)
				continue
			}
			index[c.Glob] = len(out)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.Collapse) int { return strings.Compare(a.Glob, b.Glob) })
	return nilIfEmpty(out)
}

// sourceKey identifies where and from when entries were observed. Two
// snapshots of the same recording (or policy) of the same pod (an agent flushing twice)
// share a key and fold into one source; two local runs differ by start time.
func sourceKey(s v1alpha1.Source) string {
	return strings.Join([]string{s.Node, s.Pod, s.Recording, s.Policy, s.FirstSeen.UTC().Format("2006-01-02T15:04:05.999999999Z")}, "\x00")
}

func foldSources(into, from []v1alpha1.Source) []v1alpha1.Source {
	index := make(map[string]int, len(into)+len(from))
	out := make([]v1alpha1.Source, 0, len(into)+len(from))
	for _, list := range [][]v1alpha1.Source{into, from} {
		for _, s := range list {
			s = *s.DeepCopy()
			s.Images = NormalizeImages(s.Images)
			key := sourceKey(s)
			i, ok := index[key]
			if !ok {
				index[key] = len(out)
				out = append(out, s)
				continue
			}
			// Later snapshots of one source carry cumulative figures: keep
			// the largest rather than adding them up.
			x := &out[i]
			if s.LastSeen.After(x.LastSeen.Time) {
				x.LastSeen = s.LastSeen
			}
			x.Events = max(x.Events, s.Events)
			x.LostRecords = max(x.LostRecords, s.LostRecords)
			for kind, n := range s.LostByKind {
				if x.LostByKind == nil {
					x.LostByKind = map[string]int64{}
				}
				x.LostByKind[kind] = max(x.LostByKind[kind], n)
			}
			x.Kernel = minKnown(x.Kernel, s.Kernel)
			// 0 is the first generation, so the plain minimum: a source
			// an older agent recorded part of did not see the newer routes.
			x.Routes = min(x.Routes, s.Routes)
			// A container restarted with another image is one source
			// that ran both: a policy must know each.
			x.Images = NormalizeImages(append(x.Images, s.Images...))
			for kind, backend := range s.Backends {
				if x.Backends == nil {
					x.Backends = map[string]string{}
				}
				x.Backends[kind] = minKnown(x.Backends[kind], backend)
			}
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.Source) int {
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		if c := strings.Compare(a.Pod, b.Pod); c != 0 {
			return c
		}
		if c := strings.Compare(a.Recording, b.Recording); c != 0 {
			return c
		}
		if c := strings.Compare(a.Policy, b.Policy); c != 0 {
			return c
		}
		return a.FirstSeen.Compare(b.FirstSeen.Time)
	})
	return nilIfEmpty(out)
}

// nilIfEmpty keeps empty lists nil, so that a normalised profile compares
// equal to one decoded from YAML where the list was left out.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
