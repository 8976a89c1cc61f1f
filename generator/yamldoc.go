package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The artifacts are written as YAML node trees rather than marshalled
// structs, for two reasons: comments (the evidence for each line) can only be
// attached to nodes, and a strategic-merge patch must hold exactly the fields
// it changes — a marshalled Deployment would carry `selector: null`, which
// would delete the selector.

// encodeYAML writes a document with two-space indentation, the way kubectl
// and most Kubernetes manifests are written.
func encodeYAML(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return buf.Bytes(), nil
}

func document(headComment string, root *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.DocumentNode, HeadComment: headComment, Content: []*yaml.Node{root}}
}

// pair is one key and value of a mapping under construction.
type pair struct {
	key   string
	value *yaml.Node
	// head is a comment on the lines above the key.
	head string
	// line is a comment at the end of the key's line (after the value when
	// the value is a scalar).
	line string
}

func mapping(pairs ...pair) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range pairs {
		if p.value == nil {
			continue
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p.key, HeadComment: p.head}
		if p.line != "" {
			if p.value.Kind == yaml.ScalarNode || isEmptyCollection(p.value) {
				p.value.LineComment = p.line
			} else {
				key.LineComment = p.line
			}
		}
		n.Content = append(n.Content, key, p.value)
	}
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle // {}
	}
	return n
}

func sequence(items ...*yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Content: items}
	if len(items) == 0 {
		n.Style = yaml.FlowStyle // []
	}
	return n
}

func isEmptyCollection(n *yaml.Node) bool {
	return (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && len(n.Content) == 0
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func integer(n int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)}
}

// withLine sets a node's end-of-line comment and returns it.
func withLine(n *yaml.Node, comment string) *yaml.Node {
	n.LineComment = comment
	return n
}

// withHead sets the comment above a node (for a sequence item, above its
// dash) and returns it.
func withHead(n *yaml.Node, comment string) *yaml.Node {
	n.HeadComment = comment
	return n
}

// fromObject turns a typed API object into a node tree by way of its JSON
// form, so that field names and order are exactly what the API server uses.
// Null fields are dropped: a generated object leaves them unset.
func fromObject(obj any) (*yaml.Node, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	root := doc.Content[0]
	blockStyle(root)
	putFirst(root, "apiVersion", "kind")
	return root, nil
}

// putFirst moves the given keys of a mapping to its front, in that order:
// TypeMeta marshals kind before apiVersion, manifests read the other way.
func putFirst(n *yaml.Node, keys ...string) {
	for i := len(keys) - 1; i >= 0; i-- {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == keys[i] {
				pair := []*yaml.Node{n.Content[j], n.Content[j+1]}
				rest := append(append([]*yaml.Node{}, n.Content[:j]...), n.Content[j+2:]...)
				n.Content = append(pair, rest...)
				break
			}
		}
	}
}

// inlineLists writes the lists under the given keys on one line
// ([read, write]) wherever they appear: short lists of words read better so.
func inlineLists(n *yaml.Node, keys ...string) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.SequenceNode {
				for _, k := range keys {
					if n.Content[i].Value == k {
						v.Style = yaml.FlowStyle
					}
				}
			}
		}
	}
	for _, c := range n.Content {
		inlineLists(c, keys...)
	}
}

// blockStyle rewrites a tree parsed from JSON into the block style people
// write by hand, and drops null values.
func blockStyle(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		n.Style = 0 // quoted only where YAML needs it
		return
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			kept = append(kept, n.Content[i], n.Content[i+1])
		}
		n.Content = kept
	}
	n.Style = 0
	if isEmptyCollection(n) {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// lookup returns the node at a path of mapping keys (strings) and sequence
// indexes (ints), and the key node when the last step is a mapping key.
func lookup(root *yaml.Node, path ...any) (value, key *yaml.Node) {
	n := root
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return nil, nil
			}
			var found bool
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					key, n, found = n.Content[i], n.Content[i+1], true
					break
				}
			}
			if !found {
				return nil, nil
			}
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return nil, nil
			}
			key, n = nil, n.Content[s]
		}
	}
	return n, key
}

// commentLine puts a comment at the end of the line of the field at path.
func commentLine(root *yaml.Node, comment string, path ...any) {
	value, key := lookup(root, path...)
	switch {
	case value == nil:
	case value.Kind == yaml.ScalarNode || isEmptyCollection(value):
		value.LineComment = comment
	case key != nil:
		key.LineComment = comment
	case value.Kind == yaml.MappingNode && len(value.Content) >= 2:
		// A sequence item that is a mapping: the end of its first line.
		first := value.Content[1]
		if first.Kind == yaml.ScalarNode {
			first.LineComment = comment
		} else {
			value.Content[0].LineComment = comment
		}
	}
}

// commentAbove puts a comment on the lines above the field at path.
func commentAbove(root *yaml.Node, comment string, path ...any) {
	value, key := lookup(root, path...)
	switch {
	case key != nil:
		key.HeadComment = comment
	case value != nil:
		value.HeadComment = comment
	}
}

// plural writes "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// times writes how often something was seen: "once", "3 times".
func times(n int64) string {
	switch n {
	case 0:
		return "not counted"
	case 1:
		return "once"
	}
	return strconv.FormatInt(n, 10) + " times"
}

// listAtMost joins up to limit items and says how many more there are.
func listAtMost(items []string, limit int) string {
	if len(items) <= limit {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:limit], ", ") + fmt.Sprintf(" and %d more", len(items)-limit)
}

// wrap breaks text into lines of at most width characters at spaces,
// keeping the line breaks it already has.
func wrap(text string, width int) string {
	var out []string
	for _, paragraph := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(paragraph) {
			switch {
			case line == "":
				line = word
			case len(line)+1+len(word) > width:
				out = append(out, line)
				line = word
			default:
				line += " " + word
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
