package profiles

import (
	"fmt"
	"slices"
	"strings"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// Folding shrinks a profile's file entries for a policy without allowing
// anything more than the entries it folds allowed, except where it says so:
//
//   - an entry that another entry's glob covers, with every access mode it
//     has, is dropped: the glob already allows it (`base/1/16384` read+write
//     under `base/*/*` read+write);
//   - entries that only read (or map as a program) files in a read-only
//     system tree (CA certificates, time zones, locales, Python and Perl
//     libraries, /usr/share/<package>) are folded into one `tree/**` rule
//     granting the modes they had: the next run of the same program reads
//     another zone, locale, certificate or module from the same tree, and
//     reading any of them discloses nothing a container image does not.
//
// Folding never widens access modes: a folded glob grants only the union of
// the modes of what it folded, an entry with write, create or truncate is
// never folded into a tree, and an entry is dropped only when one glob grants
// all of its modes.
//
// Folding is not part of NormalizeSpec: a dropped entry's own modes are gone,
// so merging folded profiles would depend on the order of the merges (the
// merge properties in merge_test.go). It is applied where a profile becomes
// a policy, or is shown to a person.

// Fold says what folding did to make one glob.
type Fold struct {
	// Glob is the `tree/**` entry made.
	Glob string
	// Entries is how many entries it replaced.
	Entries int
	// Reason says why the tree was folded and what the glob allows beyond
	// what was seen.
	Reason string
}

// readOnlyTree is a directory tree that a program only reads from and whose
// contents any run of the program may pick differently.
type readOnlyTree struct {
	// components of the tree's root; a component holding `*` matches any
	// name with the literal parts around it (python3* is python3.11).
	components []string
	what       string
}

// readOnlyTrees are the system trees folded into read-only rules. A path may
// match more than one; the first one (the deepest) names the tree.
var readOnlyTrees = []readOnlyTree{
	{SplitPath("/etc/ssl/certs"), "CA certificates"},
	{SplitPath("/etc/pki/tls/certs"), "CA certificates"},
	{SplitPath("/etc/pki/ca-trust"), "CA certificates"},
	{SplitPath("/usr/share/ca-certificates"), "CA certificates"},
	{SplitPath("/usr/local/share/ca-certificates"), "CA certificates"},
	{SplitPath("/usr/share/zoneinfo"), "time zones"},
	{SplitPath("/usr/share/locale"), "locales"},
	{SplitPath("/usr/lib/locale"), "locales"},
	{SplitPath("/usr/share/i18n"), "locales"},
	{SplitPath("/usr/lib/python3*"), "Python libraries"},
	{SplitPath("/usr/lib64/python3*"), "Python libraries"},
	{SplitPath("/usr/local/lib/python3*"), "Python libraries"},
	{SplitPath("/usr/share/perl*"), "Perl libraries"},
	{SplitPath("/usr/lib/*-linux-gnu/perl*"), "Perl libraries"},
	{SplitPath("/usr/lib/*-linux-gnu/perl-base"), "Perl libraries"},
	{SplitPath("/usr/local/share/perl*"), "Perl libraries"},
	{SplitPath("/usr/local/lib/*-linux-gnu/perl*"), "Perl libraries"},
	{SplitPath("/usr/share/*"), "package data"},
}

// readOnlyModes are the modes a folded tree may grant: reading, and mapping
// as a program (Python's and Perl's compiled modules are mapped executable).
var readOnlyModes = []v1alpha1.FileAccessMode{v1alpha1.AccessRead, v1alpha1.AccessExec}

// ReadOnlyTree returns the root of the read-only system tree a profile path
// lies in (the root itself included), and what the tree holds; ok is false
// for a path in no such tree. A path that only a glob component places in a
// tree (`/usr/*/zoneinfo/UTC`) is in none: it may stand for paths outside.
func ReadOnlyTree(p string) (root, what string, ok bool) {
	if !strings.HasPrefix(p, "/") {
		return "", "", false
	}
	components := SplitPath(p)
	if dir, isGlob := recursiveGlobRoot(p); isGlob {
		components = SplitPath(dir)
	}
	for _, t := range readOnlyTrees {
		if len(components) < len(t.components) {
			continue
		}
		matched := true
		for i, c := range t.components {
			if strings.Contains(components[i], anyComponent) || !matchComponent(c, components[i]) {
				matched = false
				break
			}
		}
		if matched {
			return "/" + strings.Join(components[:len(t.components)], "/"), t.what, true
		}
	}
	return "", "", false
}

// FoldFiles folds file entries for a policy (see the comment at the top of
// this file) and says which trees it folded. The result is sorted by path;
// files is not modified. Entries should be normalised (NormalizeSpec) first,
// so that equal paths are one entry.
func FoldFiles(files []v1alpha1.FileEntry) ([]v1alpha1.FileEntry, []Fold) {
	out := make([]v1alpha1.FileEntry, 0, len(files))
	trees := map[string]*v1alpha1.FileEntry{}
	folded := map[string]int{}
	whats := map[string]string{}
	for _, f := range files {
		f = *f.DeepCopy()
		root, what, ok := ReadOnlyTree(f.Path)
		if !ok || !subsetAccess(f.Access, readOnlyModes) || len(f.Access) == 0 {
			out = append(out, f)
			continue
		}
		glob := root + "/" + anyDescendants
		if t := trees[glob]; t != nil {
			*t = joinFile(*t, f, addCounts)
		} else {
			t := f
			t.Path = glob
			trees[glob] = &t
		}
		folded[glob]++
		whats[glob] = what
	}
	var folds []Fold
	for glob, t := range trees {
		// A `tree/**` entry the profile already had (a collapsed
		// directory, say) is joined, not duplicated.
		if i := slices.IndexFunc(out, func(f v1alpha1.FileEntry) bool { return f.Path == glob }); i >= 0 {
			out[i] = joinFile(out[i], *t, addCounts)
		} else {
			out = append(out, *t)
		}
		root := strings.TrimSuffix(glob, "/"+anyDescendants)
		folds = append(folds, Fold{
			Glob:    glob,
			Entries: folded[glob],
			Reason: fmt.Sprintf("%s: any file below %s may be %s (%s seen there, none written)",
				whats[glob], root, describeModes(t.Access), plural(folded[glob], "entry", "entries")),
		})
	}
	out = dropCoveredFiles(out)
	slices.SortFunc(out, func(a, b v1alpha1.FileEntry) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(folds, func(a, b Fold) int { return strings.Compare(a.Glob, b.Glob) })
	return out, folds
}

// dropCoveredFiles drops every entry that a glob entry covers with all of
// its access modes; the glob's count takes the dropped entry's opens. Of two
// entries covering each other with the same modes, the one first in path
// order stays.
func dropCoveredFiles(files []v1alpha1.FileEntry) []v1alpha1.FileEntry {
	var globs []int
	for i, f := range files {
		if strings.Contains(f.Path, anyComponent) {
			globs = append(globs, i)
		}
	}
	if len(globs) == 0 {
		return files
	}
	dropped := make([]bool, len(files))
	// coveredBy reports whether entry g makes entry i redundant.
	coveredBy := func(g, i int) bool {
		return g != i && PatternCovers(files[g].Path, files[i].Path) && subsetAccess(files[i].Access, files[g].Access)
	}
	for i := range files {
		for _, g := range globs {
			if !coveredBy(g, i) {
				continue
			}
			if coveredBy(i, g) && files[i].Path < files[g].Path {
				continue // mutual: i stays, g goes
			}
			dropped[i] = true
			break
		}
	}
	// Counts go to a surviving cover. One exists: covering is transitive
	// and a chain of covers ends at an entry nothing drops.
	for i := range files {
		if !dropped[i] {
			continue
		}
		for _, g := range globs {
			if !dropped[g] && coveredBy(g, i) {
				files[g].Count = addCounts(files[g].Count, files[i].Count)
				files[g].RootFilesystem = files[g].RootFilesystem || files[i].RootFilesystem
				break
			}
		}
	}
	kept := files[:0]
	for i, f := range files {
		if !dropped[i] {
			kept = append(kept, f)
		}
	}
	return kept
}

func subsetAccess(a, b []v1alpha1.FileAccessMode) bool {
	for _, m := range a {
		if !slices.Contains(b, m) {
			return false
		}
	}
	return true
}

// describeModes names a read-only tree's modes: "read", or "read or mapped
// as a program".
func describeModes(modes []v1alpha1.FileAccessMode) string {
	var parts []string
	if slices.Contains(modes, v1alpha1.AccessRead) {
		parts = append(parts, "read")
	}
	if slices.Contains(modes, v1alpha1.AccessExec) {
		parts = append(parts, "mapped as a program")
	}
	return strings.Join(parts, " or ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
