package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// maxFileSize bounds what the loaders read: a profile is at most a few
// megabytes (the API server refuses objects over 1.5 MiB).
const maxFileSize = 64 << 20

// Load decodes a Profile from YAML or JSON, strictly: unknown fields,
// duplicate fields, values of the wrong type, YAML anchors, more than one
// document and invalid values (an unknown capability, an address that does
// not parse) are refused with an error naming the line and the field. It
// never panics.
func Load(data []byte) (*v1alpha1.Profile, error) {
	return Decode(data, "Profile", ValidateProfile)
}

// LoadFile is Load for a file.
func LoadFile(path string) (*v1alpha1.Profile, error) {
	return LoadFileWith(path, Load)
}

// Decode decodes one footprint API object of the given kind the way Load
// decodes a Profile, and validates it with validate, each error prefixed
// with the line of its field. It is the loader of every footprint object:
// the policies package loads EnforcementPolicies with it.
func Decode[T any](data []byte, kind string, validate func(*T) field.ErrorList) (*T, error) {
	var obj T
	lines, err := decodeStrict(data, kind, &obj)
	if err != nil {
		return nil, err
	}
	if errs := validate(&obj); len(errs) > 0 {
		return nil, fieldErrors("invalid "+kind, errs, lines)
	}
	return &obj, nil
}

// LoadFileWith reads a file, refusing one too large to be a profile or a
// policy, and decodes it with load; an error names the file.
func LoadFileWith[T any](path string, load func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := readFile(path)
	if err != nil {
		return zero, err
	}
	obj, err := load(data)
	if err != nil {
		return zero, fmt.Errorf("load %s: %w", path, err)
	}
	return obj, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("load %s: larger than %d MiB: not a profile or policy", path, maxFileSize>>20)
	}
	return data, nil
}

// fieldErrors turns validation errors into one error, each line prefixed
// with the line of the YAML the field came from.
func fieldErrors(what string, errs field.ErrorList, lines map[string]int) error {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, withLine(lines, e.Field, e.Error()))
	}
	if len(msgs) == 1 {
		return fmt.Errorf("%s: %s", what, msgs[0])
	}
	return fmt.Errorf("%s:\n  %s", what, strings.Join(msgs, "\n  "))
}

// withLine prefixes msg with the line of the field at path, or of its
// nearest ancestor that was written in the document.
func withLine(lines map[string]int, path, msg string) string {
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := lines[p]; ok {
			return fmt.Sprintf("line %d: %s", line, msg)
		}
	}
	return msg
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// loadError is a problem found while walking the document.
type loadError struct {
	line int
	path string
	msg  string
}

func (e *loadError) Error() string {
	switch {
	case e.path == "":
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	case e.line == 0:
		return fmt.Sprintf("%s: %s", e.path, e.msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.line, e.path, e.msg)
}

// parseDocument parses exactly one YAML (or JSON) document and returns its
// root mapping.
func parseDocument(data []byte) (root *yaml.Node, err error) {
	defer func() {
		// The YAML parser is not supposed to panic, but a loader that
		// promises never to panic does not rely on that.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("unreadable YAML: %v", r)
		}
	}()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		// JSON may be indented with tabs, which YAML forbids. A JSON string
		// cannot hold a raw tab, so every tab is whitespace between tokens
		// and turning it into a space changes nothing else (nor any line).
		data = bytes.ReplaceAll(data, []byte("\t"), []byte(" "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document: expected a YAML or JSON object with apiVersion, kind, metadata and spec")
		}
		return nil, fmt.Errorf("malformed YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			return nil, fmt.Errorf("malformed YAML after the first document: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, fmt.Errorf("line %d: a second YAML document: a file holds one object; split it into one file per object", line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("empty document: expected a YAML or JSON object")
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: expected an object with apiVersion, kind, metadata and spec, found %s", root.Line, describeNode(root))
	}
	return root, nil
}

// DocumentKind returns the kind a YAML or JSON document declares, without
// decoding the rest: "" when it declares none. A document that does not
// parse is an error.
func DocumentKind(data []byte) (string, error) {
	root, err := parseDocument(data)
	if err != nil {
		return "", err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "kind" && root.Content[i+1].Kind == yaml.ScalarNode {
			return root.Content[i+1].Value, nil
		}
	}
	return "", nil
}

// decodeStrict decodes one document into target (a pointer to a footprint
// API type), refusing anything the type does not define. It returns the line
// of every field it saw, keyed by field path (spec.files[2].path), so that
// later validation errors can name lines too.
func decodeStrict(data []byte, kind string, target any) (lines map[string]int, err error) {
	defer func() {
		if r := recover(); r != nil {
			lines, err = nil, fmt.Errorf("cannot decode %s: %v", kind, r)
		}
	}()
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	w := &walker{lines: map[string]int{}}
	value, err := w.value(root, reflect.TypeOf(target).Elem(), "")
	if err != nil {
		return nil, err
	}
	obj := value.(map[string]any)
	apiVersion, _ := obj["apiVersion"].(string)
	gotKind, _ := obj["kind"].(string)
	want := v1alpha1.GroupVersion.String()
	if apiVersion != want || gotKind != kind {
		got := strings.TrimSpace(apiVersion + " " + gotKind)
		if got == "" {
			got = "no apiVersion and kind"
		}
		return nil, fmt.Errorf("line %d: not a footprint %s: found %s, want apiVersion %s and kind %s", root.Line, kind, got, want, kind)
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("cannot decode %s: %w", kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(encoded))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		// The walk checked every field against the same type, so this is a
		// value the type's own decoder refused.
		return nil, fmt.Errorf("cannot decode %s: %w", kind, err)
	}
	return w.lines, nil
}

// walker checks a YAML node tree against a Go type, field by field, using
// the type's json tags (the same names the API server uses), and builds the
// equivalent JSON value.
type walker struct {
	lines map[string]int
}

var (
	timeType      = reflect.TypeOf(metav1.Time{})
	unmarshalerTy = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

func (w *walker) fail(n *yaml.Node, path, format string, args ...any) error {
	return &loadError{line: n.Line, path: path, msg: fmt.Sprintf(format, args...)}
}

func (w *walker) value(n *yaml.Node, t reflect.Type, path string) (any, error) {
	if path != "" {
		w.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return nil, w.fail(n, path, "YAML anchors and aliases are not supported: write the value out")
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return w.timestamp(n, path)
	case t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(unmarshalerTy),
		t.Kind() == reflect.Interface:
		// A type that decodes itself (managedFields' FieldsV1) or holds
		// anything: passed through unchecked, as the API server does.
		return w.anyValue(n, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		return w.object(n, t, path)
	case reflect.Slice:
		return w.list(n, t, path)
	case reflect.Map:
		return w.dict(n, t, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return nil, w.fail(n, path, "expected a string, found %s", describeNode(n))
		}
		return n.Value, nil
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			return nil, w.fail(n, path, "expected true or false, found %s", describeNode(n))
		}
		return b, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return w.integer(n, path, t.Bits(), true)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return w.integer(n, path, t.Bits(), false)
	case reflect.Float32, reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") || n.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, w.fail(n, path, "expected a number, found %s", describeNode(n))
		}
		return f, nil
	}
	return nil, w.fail(n, path, "cannot decode a field of type %s", t)
}

func (w *walker) integer(n *yaml.Node, path string, bits int, signed bool) (any, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return nil, w.fail(n, path, "expected a whole number, found %s", describeNode(n))
	}
	if signed {
		var v int64
		if err := n.Decode(&v); err != nil || bits < 64 && (v < -(1<<(bits-1)) || v > 1<<(bits-1)-1) {
			return nil, w.fail(n, path, "number %s is out of range", n.Value)
		}
		return v, nil
	}
	var v uint64
	if err := n.Decode(&v); err != nil || bits < 64 && v > 1<<bits-1 {
		return nil, w.fail(n, path, "number %s is out of range", n.Value)
	}
	return v, nil
}

func (w *walker) timestamp(n *yaml.Node, path string) (any, error) {
	if n.Kind != yaml.ScalarNode {
		return nil, w.fail(n, path, "expected a time such as 2025-01-01T12:00:00Z, found %s", describeNode(n))
	}
	if _, err := time.Parse(time.RFC3339, n.Value); err != nil {
		return nil, w.fail(n, path, "%q is not a time: write RFC 3339, such as 2025-01-01T12:00:00Z", n.Value)
	}
	return n.Value, nil
}

// jsonField is one field of a struct as JSON sees it.
type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists a struct's fields by their JSON names, with inline and
// embedded structs flattened the way encoding/json flattens them.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := strings.Contains(","+opts+",", ",inline,") || (f.Anonymous && name == "")
		if inline && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type})
	}
	return out
}

func (w *walker) object(n *yaml.Node, t reflect.Type, path string) (any, error) {
	if n.Kind != yaml.MappingNode {
		return nil, w.fail(n, path, "expected an object, found %s", describeNode(n))
	}
	fields := jsonFields(t)
	byName := make(map[string]jsonField, len(fields))
	for _, f := range fields {
		byName[f.name] = f
	}
	out := make(map[string]any, len(n.Content)/2)
	seenAt := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			return nil, w.fail(key, path, "expected a field name, found %s", describeNode(key))
		}
		childPath := joinField(path, key.Value)
		if line, dup := seenAt[key.Value]; dup {
			return nil, w.fail(key, childPath, "field given twice (first on line %d)", line)
		}
		seenAt[key.Value] = key.Line
		f, ok := byName[key.Value]
		if !ok {
			return nil, w.fail(key, childPath, "unknown field%s", suggestField(key.Value, fields))
		}
		v, err := w.value(val, f.typ, childPath)
		if err != nil {
			return nil, err
		}
		out[key.Value] = v
	}
	return out, nil
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// suggestField names the closest known field, or lists them all.
func suggestField(name string, fields []jsonField) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	best, bestDistance := "", len(name)/2+2
	for _, candidate := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(candidate)); d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	if best != "" {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	slices.Sort(names)
	return "; known fields are " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (w *walker) list(n *yaml.Node, t reflect.Type, path string) (any, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, w.fail(n, path, "expected a list, found %s", describeNode(n))
	}
	out := make([]any, 0, len(n.Content))
	for i, item := range n.Content {
		v, err := w.value(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (w *walker) dict(n *yaml.Node, t reflect.Type, path string) (any, error) {
	if n.Kind != yaml.MappingNode {
		return nil, w.fail(n, path, "expected an object, found %s", describeNode(n))
	}
	if t.Key().Kind() != reflect.String {
		return nil, w.fail(n, path, "cannot decode a map keyed by %s", t.Key())
	}
	out := make(map[string]any, len(n.Content)/2)
	seenAt := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			return nil, w.fail(key, path, "expected a key, found %s", describeNode(key))
		}
		childPath := fmt.Sprintf("%s[%s]", path, key.Value)
		if line, dup := seenAt[key.Value]; dup {
			return nil, w.fail(key, childPath, "key given twice (first on line %d)", line)
		}
		seenAt[key.Value] = key.Line
		v, err := w.value(val, t.Elem(), childPath)
		if err != nil {
			return nil, err
		}
		out[key.Value] = v
	}
	return out, nil
}

// anyValue converts a node to a JSON value without a type to check it
// against.
func (w *walker) anyValue(n *yaml.Node, path string) (any, error) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return nil, w.fail(n, path, "YAML anchors and aliases are not supported: write the value out")
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if key.Kind != yaml.ScalarNode {
				return nil, w.fail(key, path, "expected a key, found %s", describeNode(key))
			}
			v, err := w.anyValue(n.Content[i+1], joinField(path, key.Value))
			if err != nil {
				return nil, err
			}
			out[key.Value] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			v, err := w.anyValue(item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			return n.Value == "true", nil
		case "!!int":
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return v, nil
			}
		case "!!float":
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
				return v, nil
			}
		}
		return n.Value, nil
	}
	return nil, w.fail(n, path, "unexpected %s", describeNode(n))
}

// describeNode says what a node is, for an error message.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		value := n.Value
		if len(value) > 40 {
			value = value[:37] + "..."
		}
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the string %q", value)
		case "!!null":
			return "null"
		case "!!bool":
			return "the boolean " + value
		case "!!int", "!!float":
			return "the number " + value
		}
		return fmt.Sprintf("%q", value)
	}
	return "nothing"
}
