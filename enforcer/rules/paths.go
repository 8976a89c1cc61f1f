package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// MaxComponentLen is the longest path component, in bytes, the kernel matches
// literally (its map keys hold a component of up to this many bytes). A longer
// component in a path only matches a wildcard; a longer literal component in a
// rule is enforced as a wildcard, and Compiled.Widened says so.
const MaxComponentLen = 63

// MaxPathNodes is the most nodes a PathTree may have. A policy whose file or
// executable rules need more is refused.
const MaxPathNodes = 16384

// Access is a set of ways to reach a file, as the compiler holds them. The
// enforcer maps each bit to the kernel's (bpf.Access, from FP_ACCESS_* in
// bpf/include/footprint.h), so that this pure package needs no loader.
type Access uint32

// The access bits.
const (
	AccessRead     Access = 1 << 0
	AccessWrite    Access = 1 << 1
	AccessExec     Access = 1 << 2
	AccessCreate   Access = 1 << 3
	AccessTruncate Access = 1 << 4

	// Changes made without an open of the path.
	AccessDelete     Access = 1 << 5
	AccessRenameFrom Access = 1 << 6
	AccessRenameTo   Access = 1 << 7
	AccessLink       Access = 1 << 8
	AccessLinkTarget Access = 1 << 9
	AccessChmod      Access = 1 << 10
	AccessSetID      Access = 1 << 11
	AccessChown      Access = 1 << 12
	AccessSymlink    Access = 1 << 13
	AccessMknod      Access = 1 << 14
	AccessReceive    Access = 1 << 15
	AccessUtimes     Access = 1 << 16

	// AccessAll is every access bit.
	AccessAll = AccessRead | AccessWrite | AccessExec | AccessCreate | AccessTruncate |
		AccessDelete | AccessRenameFrom | AccessRenameTo | AccessLink | AccessLinkTarget |
		AccessChmod | AccessSetID | AccessChown | AccessSymlink | AccessMknod | AccessReceive | AccessUtimes
)

var accessModes = []struct {
	bit  Access
	mode v1alpha1.FileAccessMode
}{
	{AccessRead, v1alpha1.AccessRead},
	{AccessWrite, v1alpha1.AccessWrite},
	{AccessExec, v1alpha1.AccessExec},
	{AccessCreate, v1alpha1.AccessCreate},
	{AccessTruncate, v1alpha1.AccessTruncate},
	{AccessDelete, v1alpha1.AccessDelete},
	{AccessRenameFrom, v1alpha1.AccessRenameFrom},
	{AccessRenameTo, v1alpha1.AccessRenameTo},
	{AccessLink, v1alpha1.AccessLink},
	{AccessLinkTarget, v1alpha1.AccessLinkTarget},
	{AccessChmod, v1alpha1.AccessChmod},
	{AccessSetID, v1alpha1.AccessSetID},
	{AccessChown, v1alpha1.AccessChown},
	{AccessSymlink, v1alpha1.AccessSymlink},
	{AccessMknod, v1alpha1.AccessMknod},
	{AccessUtimes, v1alpha1.AccessUtimes},
	{AccessReceive, v1alpha1.AccessReceive},
}

// AccessOf returns the access bits of the policy's access modes. Unknown
// modes contribute nothing.
func AccessOf(modes ...v1alpha1.FileAccessMode) Access {
	return accessOf(modes)
}

func accessOf(modes []v1alpha1.FileAccessMode) Access {
	var a Access
	for _, m := range modes {
		for _, am := range accessModes {
			if am.mode == m {
				a |= am.bit
			}
		}
	}
	return a
}

// Modes returns the policy's access modes for the bits, in the order of
// v1alpha1.FileAccessModes.
func (a Access) Modes() []v1alpha1.FileAccessMode {
	var out []v1alpha1.FileAccessMode
	for _, am := range accessModes {
		if a&am.bit != 0 {
			out = append(out, am.mode)
		}
	}
	return out
}

// Covers reports whether a grant of a allows an open requesting requested:
// (requested &^ a) == 0.
func (a Access) Covers(requested Access) bool {
	return requested&^a == 0
}

// String returns the bits joined with '+' (read+write), or "none".
func (a Access) String() string {
	modes := a.Modes()
	if len(modes) == 0 {
		return "none"
	}
	s := make([]string, len(modes))
	for i, m := range modes {
		s[i] = string(m)
	}
	return strings.Join(s, "+")
}

// PathTree is the determinised tree of a policy's path rules. See the
// package documentation for its layout and the kernel's walk.
type PathTree struct {
	// Nodes[0] is the root ("/"). Nodes are in breadth-first order, sorted
	// by (Parent, Wildcard, Name).
	Nodes []PathNode
}

// PathNode is one node of a PathTree.
type PathNode struct {
	// Parent is the index of the parent node, always lower than the node's
	// own; -1 for the root.
	Parent int
	// Name is the component a literal node matches: 1 to MaxComponentLen
	// bytes, no '/' and no NUL. Empty for the root and for wildcard nodes.
	Name string
	// Wildcard is set for a node that matches any single component for which
	// the parent has no literal child.
	Wildcard bool
	// Access is granted to the path that ends exactly at this node.
	Access Access
	// Descendants is granted to every path strictly below this node (from a
	// trailing `/**`). It is always a subset of Access, because `dir/**`
	// covers dir itself too.
	Descendants Access
}

// Allowed returns the access the tree grants to a path, walking it exactly as
// the kernel does (see the package documentation). A path that is not
// absolute and canonical (relative, with a trailing slash, or with empty, `.`
// or `..` components) is granted nothing; the kernel only sees canonical
// paths.
func (t *PathTree) Allowed(path string) Access {
	if t == nil || len(t.Nodes) == 0 || !canonical(path) {
		return 0
	}
	node := 0
	var granted Access
	for rest := path[1:]; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		granted |= t.Nodes[node].Descendants
		next := -1
		if len(c) <= MaxComponentLen {
			next = t.child(node, false, c)
		}
		if next < 0 {
			next = t.child(node, true, "")
		}
		if next < 0 {
			return granted
		}
		node = next
	}
	return granted | t.Nodes[node].Access
}

// canonical reports whether a path is absolute and written the way d_path
// reports it: no trailing slash, no empty, `.` or `..` component.
func canonical(path string) bool {
	if path == "/" {
		return true
	}
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
		return false
	}
	for rest := path[1:]; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// child returns the index of node's child with the given kind and name, or
// -1. It relies on the (Parent, Wildcard, Name) order of the nodes.
func (t *PathTree) child(node int, wildcard bool, name string) int {
	i, found := slices.BinarySearchFunc(t.Nodes[1:], PathNode{Parent: node, Wildcard: wildcard, Name: name}, compareNodes)
	if !found {
		return -1
	}
	return i + 1
}

func compareNodes(a, b PathNode) int {
	if c := cmp.Compare(a.Parent, b.Parent); c != 0 {
		return c
	}
	if a.Wildcard != b.Wildcard {
		if a.Wildcard {
			return 1
		}
		return -1
	}
	return strings.Compare(a.Name, b.Name)
}

// Pattern returns the path pattern node i stands for, `*` for wildcards
// (/proc/*/status); "/" for the root.
func (t *PathTree) Pattern(i int) string {
	var parts []string
	for ; i > 0; i = t.Nodes[i].Parent {
		name := t.Nodes[i].Name
		if t.Nodes[i].Wildcard {
			name = "*"
		}
		parts = append(parts, name)
	}
	if len(parts) == 0 {
		return "/"
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// String lists the nodes, one a line: index, parent, pattern, access, and the
// access of `/**` below it when there is any.
func (t *PathTree) String() string {
	if t == nil {
		return "<not governed>"
	}
	var b strings.Builder
	for i, n := range t.Nodes {
		fmt.Fprintf(&b, "%d\t%d\t%s\t%s", i, n.Parent, t.Pattern(i), n.Access)
		if n.Descendants != 0 {
			fmt.Fprintf(&b, "\t/**: %s", n.Descendants)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// pathRule is one file or executable rule to compile.
type pathRule struct {
	field  *field.Path
	path   string
	access Access
}

// pattern is a rule's path as the kernel matches it: tokens are literal
// components, "" for a wildcard; descendants is a trailing `/**`.
type pattern struct {
	tokens      []string
	descendants bool
	access      Access
}

// parsePattern turns a validated policy path into a pattern, with a note when
// the kernel cannot match it exactly.
func parsePattern(r pathRule) (pattern, string, *field.Error) {
	p := pattern{access: r.access}
	// CompileSpec has run policies.ValidatePath on every path; these
	// checks keep the tree well-formed whatever that validation accepts.
	switch {
	case !strings.HasPrefix(r.path, "/"):
		return p, "", field.Invalid(r.field, r.path, "not an absolute path: write it from the root, e.g. /etc/passwd")
	case r.path == "/":
		return p, "", nil
	case strings.HasSuffix(r.path, "/"):
		return p, "", field.Invalid(r.field, r.path, "ends with a slash: write dir for the directory itself or dir/** for everything below it")
	}
	components := strings.Split(r.path[1:], "/")
	enforced := make([]string, len(components))
	var reasons []string
	for i, c := range components {
		last := i == len(components)-1
		enforced[i] = c
		switch {
		case c == "**" && last:
			p.descendants = true
			continue
		case c == "**":
			return p, "", field.Invalid(r.field, r.path, "only a trailing ** is enforced: ** may only end a path (dir/**)")
		case c == "" || c == "." || c == "..":
			return p, "", field.Invalid(r.field, r.path, fmt.Sprintf("a %q component: write the path the kernel resolves to", c))
		case strings.IndexByte(c, 0) >= 0:
			return p, "", field.Invalid(r.field, r.path, "a path component cannot hold a NUL byte")
		case c == "*":
			c = ""
		case strings.Contains(c, "*"):
			reasons = append(reasons, fmt.Sprintf("%q is a partial-component glob and the kernel matches whole components", c))
			c, enforced[i] = "", "*"
		case len(c) > MaxComponentLen:
			reasons = append(reasons, fmt.Sprintf("%q is %d bytes long and the kernel matches components of up to %d bytes literally", c, len(c), MaxComponentLen))
			c, enforced[i] = "", "*"
		}
		p.tokens = append(p.tokens, c)
	}
	var note string
	if len(reasons) > 0 {
		note = fmt.Sprintf("%s: %s enforced as /%s: %s", r.field, r.path, strings.Join(enforced, "/"), strings.Join(reasons, "; "))
	}
	return p, note, nil
}

// compileTree parses the rules and determinises them into a PathTree (see the
// package documentation). Each node of the tree stands for the set of rules
// whose first depth tokens match the path so far; its children are the
// literal tokens at that depth, each taking the rules with that literal or a
// wildcard there, and a wildcard child taking the rules with a wildcard
// there. Since a rule's position in its tokens is the node's depth, a set of
// rule indices describes a node fully.
func compileTree(rules []pathRule, list *field.Path) (*PathTree, []string, field.ErrorList) {
	var errs field.ErrorList
	var widened []string
	patterns := make([]pattern, 0, len(rules))
	for _, r := range rules {
		p, note, err := parsePattern(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if note != "" {
			widened = append(widened, note)
		}
		patterns = append(patterns, p)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}

	nodes := []PathNode{{Parent: -1}}
	depths := []int{0}
	all := make([]int32, len(patterns))
	for i := range all {
		all[i] = int32(i)
	}
	sets := [][]int32{all}
	for i := 0; i < len(nodes); i++ {
		set, depth := sets[i], depths[i]
		sets[i] = nil
		var wild []int32
		literal := map[string][]int32{}
		for _, r := range set {
			p := &patterns[r]
			if len(p.tokens) == depth {
				nodes[i].Access |= p.access
				if p.descendants {
					nodes[i].Descendants |= p.access
				}
				continue
			}
			if t := p.tokens[depth]; t == "" {
				wild = append(wild, r)
			} else {
				literal[t] = append(literal[t], r)
			}
		}
		children := len(literal)
		if len(wild) > 0 {
			children++
		}
		if len(nodes)+children > MaxPathNodes {
			tooMany := field.TooMany(list, -1, -1)
			tooMany.Detail = fmt.Sprintf("the rules compile into more than %d path nodes (MaxPathNodes): a * next to literal names multiplies the nodes below it; use fewer rules or a dir/** rule for a directory", MaxPathNodes)
			return nil, nil, field.ErrorList{tooMany}
		}
		names := make([]string, 0, len(literal))
		for name := range literal {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			nodes = append(nodes, PathNode{Parent: i, Name: name})
			depths = append(depths, depth+1)
			sets = append(sets, mergeSorted(literal[name], wild))
		}
		if len(wild) > 0 {
			nodes = append(nodes, PathNode{Parent: i, Wildcard: true})
			depths = append(depths, depth+1)
			sets = append(sets, wild)
		}
	}
	return &PathTree{Nodes: nodes}, widened, nil
}

// mergeSorted merges two ascending, disjoint lists.
func mergeSorted(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}
