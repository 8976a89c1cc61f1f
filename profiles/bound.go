package profiles

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// ConditionCollapsed is the type of the profile condition that says entries
// were folded into globs to respect the size bound.
const ConditionCollapsed = "Collapsed"

// ReasonSizeBound is the reason of the Collapsed condition.
const ReasonSizeBound = "SizeBound"

// Limits bound the size of a profile. A stored object must stay under the
// API server's limit (1.5 MiB by default); a file entry takes about 100 bytes.
type Limits struct {
	// FilesPerDirectory is how many file entries may lie below one directory
	// before it is collapsed to `dir/**`. Zero means no per-directory bound.
	FilesPerDirectory int
	// MaxFiles is how many file entries a profile may hold in all. Past it,
	// the per-directory bound is halved until the profile fits. Zero means
	// no overall bound.
	MaxFiles int
}

// DefaultLimits keep a profile of a typical service readable and far below
// the API server's object size limit.
var DefaultLimits = Limits{FilesPerDirectory: 64, MaxFiles: 2048}

// Bound returns a normalised copy of p whose file entries respect limits:
// the deepest directory with more than limits.FilesPerDirectory entries below
// it is collapsed to `dir/**` (the entries' access modes and flags folded in),
// then the next, until none is over; if the profile still holds more than
// limits.MaxFiles entries, the bound is halved and collapsing goes on. Each
// collapse is recorded in spec.collapsed, and the Collapsed condition (with
// now as its transition time when it is new) lists them. The root directory
// is never collapsed: `/**` would allow everything.
func Bound(p *v1alpha1.Profile, limits Limits, now time.Time) *v1alpha1.Profile {
	out := Normalize(p)
	threshold := limits.FilesPerDirectory
	if threshold <= 0 && limits.MaxFiles > 0 && len(out.Spec.Files) > limits.MaxFiles {
		threshold = limits.MaxFiles
	}
	for threshold > 0 {
		var collapses []v1alpha1.Collapse
		out.Spec.Files, collapses = collapseDirectories(out.Spec.Files, threshold)
		out.Spec.Collapsed = foldCollapsed(out.Spec.Collapsed, collapses)
		if limits.MaxFiles <= 0 || len(out.Spec.Files) <= limits.MaxFiles || threshold == 1 {
			break
		}
		threshold /= 2
	}
	if len(out.Spec.Collapsed) > 0 {
		meta.SetStatusCondition(&out.Status.Conditions, collapsedCondition(out.Spec.Collapsed, now))
		slices.SortFunc(out.Status.Conditions, compareConditionTypes)
	}
	return out
}

func collapsedCondition(collapsed []v1alpha1.Collapse, now time.Time) metav1.Condition {
	const shown = 5
	globs := make([]string, 0, shown)
	for i, c := range collapsed {
		if i == shown {
			globs = append(globs, fmt.Sprintf("and %d more", len(collapsed)-shown))
			break
		}
		globs = append(globs, fmt.Sprintf("%s (%d entries)", c.Glob, c.Entries))
	}
	return metav1.Condition{
		Type:               ConditionCollapsed,
		Status:             metav1.ConditionTrue,
		Reason:             ReasonSizeBound,
		Message:            "file entries were folded into globs to keep the profile under its size bound, so it allows more than was observed there: " + strings.Join(globs, ", "),
		LastTransitionTime: metav1.NewTime(now),
	}
}

// collapseDirectories collapses, deepest first, every directory with more
// than threshold file entries below it.
func collapseDirectories(files []v1alpha1.FileEntry, threshold int) ([]v1alpha1.FileEntry, []v1alpha1.Collapse) {
	var collapses []v1alpha1.Collapse
	for {
		dir, entries := deepestCrowdedDirectory(files, threshold)
		if dir == "" {
			break
		}
		glob := dir + "/" + anyDescendants
		folded := v1alpha1.FileEntry{Path: glob}
		kept := make([]v1alpha1.FileEntry, 0, len(files)-entries+1)
		entries = 0 // dir itself may be an entry too: count what is folded
		for _, f := range files {
			if !PatternCovers(glob, f.Path) {
				kept = append(kept, f)
				continue
			}
			// Distinct files: their opens add up.
			folded = joinFile(folded, f, addCounts)
			entries++
		}
		kept = append(kept, folded)
		slices.SortFunc(kept, func(a, b v1alpha1.FileEntry) int { return strings.Compare(a.Path, b.Path) })
		files = kept
		collapses = append(collapses, v1alpha1.Collapse{
			Glob:    glob,
			Entries: int32(min(entries, int(^uint32(0)>>1))),
			Reason:  fmt.Sprintf("more than %d file entries under %s", threshold, dir),
		})
	}
	return files, collapses
}

// deepestCrowdedDirectory returns the deepest directory (ties broken by name)
// with more than threshold entries below it, and how many; "" when there is
// none. A `dir/**` entry counts as one entry of dir's parent.
func deepestCrowdedDirectory(files []v1alpha1.FileEntry, threshold int) (string, int) {
	below := map[string]int{}
	for _, f := range files {
		for _, dir := range ancestors(f.Path) {
			below[dir]++
		}
	}
	best, bestDepth, bestCount := "", -1, 0
	for dir, n := range below {
		if n <= threshold {
			continue
		}
		depth := strings.Count(dir, "/")
		if depth > bestDepth || depth == bestDepth && dir < best {
			best, bestDepth, bestCount = dir, depth, n
		}
	}
	return best, bestCount
}

// ancestors lists the directories strictly above a profile path, outermost
// first, without the root (which is never collapsed). For `dir/**` they are
// the directories above dir. Components after a `**` are not directories
// anyone can name, so the walk stops there. Paths outside the filesystem
// (pipe:[*]) have none.
func ancestors(p string) []string {
	if !strings.HasPrefix(p, "/") {
		return nil
	}
	if dir, ok := recursiveGlobRoot(p); ok {
		p = dir
	}
	components := SplitPath(p)
	var out []string
	for i := 1; i < len(components); i++ {
		if components[i-1] == anyDescendants {
			break
		}
		out = append(out, "/"+strings.Join(components[:i], "/"))
	}
	return out
}
