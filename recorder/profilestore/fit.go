package profilestore

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/profiles"
)

// Bounds keep a stored profile small enough to be read by people and
// accepted by the API server.
type Bounds struct {
	// Limits bound the file entries (profiles.Bound): past them, crowded
	// directories are folded into `dir/**`. Zero: profiles.DefaultLimits.
	Limits profiles.Limits
	// MaxSources is how many sources (node and pod pairs) a profile keeps
	// one by one. Past it, the sources seen longest ago are folded into one
	// source per node with no pod, which a CronJob that starts a pod every
	// minute would otherwise need. Zero: 256.
	MaxSources int
	// MaxObjectBytes is the most a serialised Profile may take. etcd and the
	// API server refuse objects over 1.5 MiB; the default, 1 MiB, leaves room
	// for metadata the server adds. Past it, files are collapsed harder,
	// sources folded, and as a last resort the least used connection
	// destinations and executables are left out -- each step recorded in
	// spec.collapsed and the Collapsed condition.
	MaxObjectBytes int
}

// DefaultBounds are the bounds a Store uses unless told otherwise.
var DefaultBounds = Bounds{Limits: profiles.DefaultLimits, MaxSources: 256, MaxObjectBytes: 1 << 20}

func (b Bounds) withDefaults() Bounds {
	if b.Limits == (profiles.Limits{}) {
		b.Limits = DefaultBounds.Limits
	}
	if b.MaxSources <= 0 {
		b.MaxSources = DefaultBounds.MaxSources
	}
	if b.MaxObjectBytes <= 0 {
		b.MaxObjectBytes = DefaultBounds.MaxObjectBytes
	}
	return b
}

// overBudget starts the reason of every collapse made for the object size
// rather than for the entry limits, so the profile says which it was.
const overBudget = "over the size budget"

// Fit returns a normalised copy of p that respects the bounds, with every
// fold recorded in spec.collapsed and summarised in the Collapsed condition
// (transition time now when the condition is new). It never fails: a profile
// that cannot be made to fit by collapsing files and folding sources loses
// its least used connection destinations and executables, and says so.
func Fit(p *v1alpha1.Profile, b Bounds, now time.Time) *v1alpha1.Profile {
	b = b.withDefaults()
	out := profiles.Bound(p, b.Limits, now)
	out.Spec.Sources = absorbFoldedSources(out.Spec.Sources, out.Spec.Collapsed)
	if len(out.Spec.Sources) > b.MaxSources {
		var records []v1alpha1.Collapse
		out.Spec.Sources, records = foldOldSources(out.Spec.Sources, out.Spec.Collapsed, b.MaxSources, fmt.Sprintf("more than %d sources", b.MaxSources))
		out.Spec.Collapsed = mergeCollapsed(out.Spec.Collapsed, records)
	}
	if size := objectSize(out); size > b.MaxObjectBytes {
		out = shrink(out, b, now, size)
	}
	return refreshStatus(out, b, now)
}

// refreshStatus sets the Collapsed condition from spec.collapsed (keeping
// its transition time when it was already true) and the summary from the
// spec, and says in the condition when the object size forced collapsing
// beyond the limits. The status of a profile is a function of its spec and
// its previous conditions, so any writer can recompute it.
func refreshStatus(p *v1alpha1.Profile, b Bounds, now time.Time) *v1alpha1.Profile {
	b = b.withDefaults()
	out := profiles.Bound(p, profiles.Limits{}, now)
	if c := meta.FindStatusCondition(out.Status.Conditions, profiles.ConditionCollapsed); c != nil && slices.ContainsFunc(out.Spec.Collapsed, func(c v1alpha1.Collapse) bool { return strings.HasPrefix(c.Reason, overBudget) }) {
		c.Message += fmt.Sprintf(". Some entries were folded further, or left out, to keep the object under %d bytes (the API server refuses objects over 1.5 MiB): see spec.collapsed", b.MaxObjectBytes)
	}
	out.Summarize()
	return out
}

// shrink makes an over-size profile fit, cheapest loss of detail first.
func shrink(out *v1alpha1.Profile, b Bounds, now time.Time, size int) *v1alpha1.Profile {
	budget := fmt.Sprintf("%s of %d bytes", overBudget, b.MaxObjectBytes)
	// 1. Collapse files harder: halve the number of file entries allowed
	// until the object fits or every directory below the root is one glob.
	for size > b.MaxObjectBytes && len(out.Spec.Files) > 1 {
		n := len(out.Spec.Files)
		limits := profiles.Limits{FilesPerDirectory: n / 2, MaxFiles: n / 2}
		if b.Limits.FilesPerDirectory > 0 && b.Limits.FilesPerDirectory < limits.FilesPerDirectory {
			limits.FilesPerDirectory = b.Limits.FilesPerDirectory
		}
		before := out.Spec.Collapsed
		out = profiles.Bound(out, limits, now)
		out.Spec.Collapsed = markNewRecords(before, out.Spec.Collapsed, budget)
		size = objectSize(out)
		if len(out.Spec.Files) >= n {
			break // nothing left to collapse below the root
		}
	}
	// 2. Fold sources, oldest first.
	for size > b.MaxObjectBytes && len(out.Spec.Sources) > 1 {
		var records []v1alpha1.Collapse
		out.Spec.Sources, records = foldOldSources(out.Spec.Sources, out.Spec.Collapsed, len(out.Spec.Sources)/2, budget)
		out.Spec.Collapsed = mergeCollapsed(out.Spec.Collapsed, records)
		size = objectSize(out)
	}
	// 3. Last resort: leave out the least used connection destinations and
	// executables, as few as it takes. The profile then allows less than
	// was observed; spec.collapsed says so.
	for size > b.MaxObjectBytes && len(out.Spec.Connections) > 0 {
		n := len(out.Spec.Connections)
		keep := keepWithin(out.Spec.Connections, size-b.MaxObjectBytes)
		out.Spec.Connections = leastUsedOut(out.Spec.Connections, keep, func(c v1alpha1.ConnectionEntry) int64 { return c.Count })
		out.Spec.Collapsed = addDropRecord(out.Spec.Collapsed, "connections:*", n-keep, budget, "connection destinations")
		size = objectSize(out)
	}
	for size > b.MaxObjectBytes && len(out.Spec.Executables) > 0 {
		n := len(out.Spec.Executables)
		keep := keepWithin(out.Spec.Executables, size-b.MaxObjectBytes)
		out.Spec.Executables = leastUsedOut(out.Spec.Executables, keep, func(e v1alpha1.ExecutableEntry) int64 { return e.Count })
		out.Spec.Collapsed = addDropRecord(out.Spec.Collapsed, "executables:*", n-keep, budget, "executables")
		size = objectSize(out)
	}
	return out
}

// keepWithin returns how many of entries to keep to free excess bytes: the
// first of n·7/8, n·(7/8)², ... that frees enough by their average size.
// Stepping by a fixed ratio of n, rather than cutting to the byte, makes
// the cut depend on the entries alone, so that writing the same snapshot
// again leaves out the same entries.
func keepWithin[T any](entries []T, excess int) int {
	data, _ := json.Marshal(entries)
	per := max(1, len(data)/max(1, len(entries)))
	n := len(entries)
	keep := n
	for keep > 0 && (n-keep)*per < excess {
		keep = keep * 7 / 8
	}
	return keep
}

// metadataAllowance is what objectSize counts for the object's metadata,
// labels and managed fields included (a few hundred bytes in practice).
const metadataAllowance = 16 << 10

// objectSize is the size of the profile as the API server stores it (JSON):
// its spec and status, and metadataAllowance for the rest. Counting a fixed
// allowance rather than the metadata at hand (which grows a uid, managed
// fields and a resource version once stored) makes every bound depend on
// the profile's content alone.
func objectSize(p *v1alpha1.Profile) int {
	data, err := json.Marshal(struct {
		Spec   v1alpha1.ProfileSpec   `json:"spec"`
		Status v1alpha1.ProfileStatus `json:"status"`
	}{p.Spec, p.Status})
	if err != nil {
		return metadataAllowance // cannot happen for these types
	}
	return len(data) + metadataAllowance
}

// markNewRecords prefixes the reason of every record in after that is not
// in before, so the profile says that the size budget made it.
func markNewRecords(before, after []v1alpha1.Collapse, budget string) []v1alpha1.Collapse {
	seen := make(map[string]bool, len(before))
	for _, c := range before {
		seen[c.Glob] = true
	}
	for i := range after {
		if !seen[after[i].Glob] && !strings.HasPrefix(after[i].Reason, overBudget) {
			after[i].Reason = budget + ": " + after[i].Reason
		}
	}
	return after
}

// mergeCollapsed adds records to a profile's list the way profiles.Merge
// does (one per glob, sorted).
func mergeCollapsed(have, add []v1alpha1.Collapse) []v1alpha1.Collapse {
	spec, _ := profiles.MergeSpec(v1alpha1.ProfileSpec{Collapsed: have}, v1alpha1.ProfileSpec{Collapsed: add})
	return spec.Collapsed
}

// addDropRecord records that entries were left out. Its entries are the
// most left out by one write: a count that does not grow when the same
// snapshot is written again (the same entries are left out again), so that
// writing it again changes nothing.
func addDropRecord(have []v1alpha1.Collapse, glob string, dropped int, budget, what string) []v1alpha1.Collapse {
	return mergeCollapsed(have, []v1alpha1.Collapse{{
		Glob:    glob,
		Entries: int32(min(dropped, int(^uint32(0)>>1))),
		Reason:  fmt.Sprintf("%s: the least used %s were left out (at least this many), so the profile allows less than was observed", budget, what),
	}})
}

// leastUsedOut keeps the keep entries with the largest counts (ties: the
// first in the list's order, which is sorted), in their original order.
func leastUsedOut[T any](entries []T, keep int, count func(T) int64) []T {
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(count(entries[b]), count(entries[a])) })
	kept := order[:keep]
	slices.Sort(kept)
	out := make([]T, 0, keep)
	for _, i := range kept {
		out = append(out, entries[i])
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Sources folded into one carry no pod, and spec.collapsed holds a record
// for their group: pod:NODE/* for the pods of one node, pod:*/* for those of
// every node.
func sourceGlob(node string, byNode bool) string {
	if byNode {
		return "pod:" + node + "/*"
	}
	return "pod:*/*"
}

// absorbFoldedSources drops every source whose time span lies within that
// of a folded source of its node (or of every node): an old snapshot of a
// pod that was folded already, sent again. Dropping it keeps the folded
// totals from counting it twice, so that writing a snapshot again changes
// nothing even after its source was folded.
func absorbFoldedSources(sources []v1alpha1.Source, collapsed []v1alpha1.Collapse) []v1alpha1.Source {
	globs := map[string]bool{}
	for _, c := range collapsed {
		globs[c.Glob] = true
	}
	out := slices.Clone(sources)
	var folded []int
	for i, s := range out {
		if s.Pod == "" && (s.Node == "" && globs[sourceGlob("", false)] || s.Node != "" && globs[sourceGlob(s.Node, true)]) {
			folded = append(folded, i)
		}
	}
	if len(folded) == 0 {
		return sources
	}
	absorbed := map[int]bool{}
	for i, s := range out {
		if s.Pod == "" {
			continue
		}
		for _, j := range folded {
			f := &out[j]
			if (f.Node == "" || f.Node == s.Node) && !s.FirstSeen.Before(&f.FirstSeen) && !f.LastSeen.Before(&s.LastSeen) {
				// Its images go into the fold, which a policy is bound to.
				f.Images = profiles.NormalizeImages(append(slices.Clone(f.Images), s.Images...))
				absorbed[i] = true
				break
			}
		}
	}
	kept := out[:0]
	for i, s := range out {
		if !absorbed[i] {
			kept = append(kept, s)
		}
	}
	return kept
}

// foldOldSources keeps at most max sources: the ones seen most recently
// stay as they are, the rest are folded into one source per node (pod left
// empty) holding their time span and their events and lost records added
// up. When there are more nodes than that allows, everything older is
// folded into a single source. Each fold is recorded (with how many pods it
// holds in all, counting those folded before: collapsed holds the records
// of earlier folds), with reason.
func foldOldSources(sources []v1alpha1.Source, collapsed []v1alpha1.Collapse, max int, reason string) ([]v1alpha1.Source, []v1alpha1.Collapse) {
	if len(sources) <= max {
		return sources, nil
	}
	sorted := slices.Clone(sources)
	slices.SortStableFunc(sorted, func(a, b v1alpha1.Source) int { return b.LastSeen.Compare(a.LastSeen.Time) })
	for _, byNode := range []bool{true, false} {
		// The largest k such that the k newest sources plus one per group
		// of the rest fit.
		groups := map[string]bool{}
		for k := len(sorted) - 1; k >= 0; k-- {
			groups[groupOf(sorted[k], byNode)] = true
			if k+len(groups) <= max {
				return foldGroups(sorted[:k], sorted[k:], collapsed, byNode, reason)
			}
		}
	}
	// max is zero or negative: fold everything into one.
	return foldGroups(nil, sorted, collapsed, false, reason)
}

func groupOf(s v1alpha1.Source, byNode bool) string {
	if byNode {
		return s.Node
	}
	return ""
}

func foldGroups(kept, rest []v1alpha1.Source, collapsed []v1alpha1.Collapse, byNode bool, reason string) ([]v1alpha1.Source, []v1alpha1.Collapse) {
	earlier := map[string]int{}
	for _, c := range collapsed {
		earlier[c.Glob] = int(c.Entries)
	}
	folded := map[string]*v1alpha1.Source{}
	members := map[string]int{}
	latest := map[string]time.Time{}
	for _, s := range rest {
		g := groupOf(s, byNode)
		if n := earlier[sourceGlob(s.Node, s.Node != "")]; s.Pod == "" && n > 0 {
			members[g] += n // a fold of earlier writes
		} else {
			members[g]++
		}
		f := folded[g]
		if f == nil {
			f = &v1alpha1.Source{Node: g, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen, Recording: s.Recording, Kernel: s.Kernel}
			folded[g], latest[g] = f, s.LastSeen.Time
		}
		if s.FirstSeen.Before(&f.FirstSeen) {
			f.FirstSeen = s.FirstSeen
		}
		if f.LastSeen.Before(&s.LastSeen) {
			f.LastSeen = s.LastSeen
		}
		if latest[g].Before(s.LastSeen.Time) || latest[g].Equal(s.LastSeen.Time) && s.Recording < f.Recording {
			f.Recording, latest[g] = s.Recording, s.LastSeen.Time
		}
		if s.Kernel != "" && (f.Kernel == "" || s.Kernel < f.Kernel) {
			f.Kernel = s.Kernel
		}
		for kind, backend := range s.Backends {
			if f.Backends == nil {
				f.Backends = map[string]string{}
			}
			if have := f.Backends[kind]; have == "" || backend < have {
				f.Backends[kind] = backend
			}
		}
		f.Events = saturatingAdd(f.Events, s.Events)
		f.LostRecords = saturatingAdd(f.LostRecords, s.LostRecords)
		for kind, n := range s.LostByKind {
			if f.LostByKind == nil {
				f.LostByKind = map[string]int64{}
			}
			f.LostByKind[kind] = saturatingAdd(f.LostByKind[kind], n)
		}
		// The images stay: a policy generated from the profile is bound
		// to them, and a pod running one it lost would be audited.
		f.Images = profiles.NormalizeImages(append(f.Images, s.Images...))
	}
	for _, f := range folded {
		if len(f.Images) > maxSourceImages {
			// Past the schema's bound a fixed part of the sorted set
			// stays: a pod running an image left out is audited and
			// recorded again, never enforced by mistake.
			f.Images = f.Images[:maxSourceImages]
		}
	}
	out := slices.Clone(kept)
	var records []v1alpha1.Collapse
	for g, f := range folded {
		out = append(out, *f)
		where := "on every node"
		if byNode {
			where = "on node " + g
		}
		records = append(records, v1alpha1.Collapse{
			Glob:    sourceGlob(g, byNode),
			Entries: int32(min(members[g], int(^uint32(0)>>1))),
			Reason:  fmt.Sprintf("%s: the pods seen longest ago %s were folded into one source with no pod", reason, where),
		})
	}
	// Sort the way profiles.Merge does.
	spec, _ := profiles.MergeSpec(v1alpha1.ProfileSpec{Sources: out}, v1alpha1.ProfileSpec{})
	return spec.Sources, records
}

// maxSourceImages is the schema's bound on a source's images.
const maxSourceImages = 64

func saturatingAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return int64(^uint64(0) >> 1)
}

// RecordingLimits returns the file limits a ProfileRecording sets for the
// profiles it writes (its spec.limits), for Options.LimitsFor: the fields
// it leaves out take footprint's defaults. ok is false when it sets none.
func RecordingLimits(l *v1alpha1.RecordingLimits) (limits profiles.Limits, ok bool) {
	if l == nil || l.FilesPerDirectory == nil && l.MaxFiles == nil {
		return profiles.Limits{}, false
	}
	limits = profiles.DefaultLimits
	if l.FilesPerDirectory != nil {
		limits.FilesPerDirectory = int(*l.FilesPerDirectory)
	}
	if l.MaxFiles != nil {
		limits.MaxFiles = int(*l.MaxFiles)
	}
	return limits, true
}
