// Package yamldoc edits YAML documents by dotted path while keeping the
// comments, key order and formatting that people put there by hand.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Doc is one YAML document whose root is a mapping.
type Doc struct {
	root *yaml.Node // DocumentNode
	file string
}

// ParseError reports where a file failed to parse.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse reads data as a YAML mapping document. An empty file is an empty
// mapping. file is used in errors only.
func Parse(file string, data []byte) (*Doc, error) {
	var n yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return New(file), nil
		}
		return nil, toParseError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{File: file, Line: extra.Line, Msg: "more than one YAML document; keep one"}
	}
	if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
		return New(file), nil
	}
	if n.Content[0].Kind != yaml.MappingNode {
		return nil, &ParseError{File: file, Line: n.Content[0].Line, Msg: "the top level must be a mapping of keys to values"}
	}
	return &Doc{root: &n, file: file}, nil
}

func toParseError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscanf(m[1], "%d", &line)
		return &ParseError{File: file, Line: line, Msg: m[2]}
	}
	return &ParseError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// New returns an empty mapping document.
func New(file string) *Doc {
	return &Doc{file: file, root: &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}}
}

// Root returns the top-level mapping node.
func (d *Doc) Root() *yaml.Node { return d.root.Content[0] }

// Encode renders the document with two-space indentation.
func (d *Doc) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(d.root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if b.String() == "{}\n" {
		return []byte{}, nil
	}
	return b.Bytes(), nil
}

var segment = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// ParsePath splits a dotted path such as "apps.ghost.port".
func ParsePath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path; use a dotted path such as apps.ghost.port")
	}
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if !segment.MatchString(s) {
			return nil, fmt.Errorf("invalid path %q: each part between dots must be letters, digits, '_' or '-' (e.g. apps.ghost.port)", p)
		}
	}
	return parts, nil
}

// Get returns the node at path.
func (d *Doc) Get(path []string) (*yaml.Node, bool) {
	return lookup(d.Root(), path)
}

func lookup(n *yaml.Node, path []string) (*yaml.Node, bool) {
	for _, key := range path {
		n = resolveAlias(n)
		if n.Kind != yaml.MappingNode {
			return nil, false
		}
		v := mapValue(n, key)
		if v == nil {
			return nil, false
		}
		n = v
	}
	return resolveAlias(n), true
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Set puts value at path, creating intermediate mappings. It replaces an
// existing value in place so the comments attached to the key survive.
func (d *Doc) Set(path []string, value *yaml.Node) error {
	if len(path) == 0 {
		return fmt.Errorf("empty path")
	}
	parent, err := d.ensureMap(path[:len(path)-1])
	if err != nil {
		return err
	}
	key := path[len(path)-1]
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == key {
			old := parent.Content[i+1]
			value.HeadComment, value.LineComment, value.FootComment = old.HeadComment, old.LineComment, old.FootComment
			parent.Content[i+1] = value
			return nil
		}
	}
	parent.Content = append(parent.Content, scalarKey(key), value)
	return nil
}

func (d *Doc) ensureMap(path []string) (*yaml.Node, error) {
	n := d.Root()
	blockIfEmpty(n)
	for i, key := range path {
		v := resolveAlias(mapValue(n, key))
		if v == nil {
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, scalarKey(key), v)
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			v.Kind, v.Tag, v.Value = yaml.MappingNode, "!!map", ""
		}
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s holds a %s, not a mapping, so %s cannot be set under it", strings.Join(path[:i+1], "."), kindName(v), strings.Join(path, "."))
		}
		blockIfEmpty(v)
		n = v
	}
	return n, nil
}

// blockIfEmpty turns an empty flow mapping ("apps: {}") into block style
// before keys are added, so the file keeps reading like a hand-written one.
func blockIfEmpty(n *yaml.Node) {
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		n.Style &^= yaml.FlowStyle
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return "value"
}

func scalarKey(k string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}
}

// Delete removes the key at path; it reports whether it existed.
func (d *Doc) Delete(path []string) bool {
	if len(path) == 0 {
		return false
	}
	parent, ok := d.Get(path[:len(path)-1])
	if !ok || parent.Kind != yaml.MappingNode {
		return false
	}
	key := path[len(path)-1]
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == key {
			parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
			return true
		}
	}
	return false
}

// MergeDefaults copies into path every key of defaults that is missing
// there, recursing into nested mappings. Existing values are never
// overwritten. It returns the dotted paths it added, sorted.
func (d *Doc) MergeDefaults(path []string, defaults *yaml.Node) ([]string, error) {
	defaults = resolveAlias(defaults)
	if defaults == nil || defaults.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("defaults must be a mapping")
	}
	dst, err := d.ensureMap(path)
	if err != nil {
		return nil, err
	}
	var added []string
	mergeInto(dst, defaults, strings.Join(path, "."), &added)
	sort.Strings(added)
	return added, nil
}

func mergeInto(dst, src *yaml.Node, prefix string, added *[]string) {
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], resolveAlias(src.Content[i+1])
		p := join(prefix, k.Value)
		cur := resolveAlias(mapValue(dst, k.Value))
		switch {
		case cur == nil:
			dst.Content = append(dst.Content, scalarKey(k.Value), Clone(v))
			*added = append(*added, p)
		case cur.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode:
			mergeInto(cur, v, p, added)
		}
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// Clone deep-copies a node (without position information, so the encoder
// lays it out afresh).
func Clone(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Line, c.Column = 0, 0
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = Clone(ch)
	}
	return &c
}

// Value decodes the node at path into plain Go values (map[string]any,
// []any, string, int, bool, float64).
func (d *Doc) Value(path []string) (any, bool, error) {
	n, ok := d.Get(path)
	if !ok {
		return nil, false, nil
	}
	v, err := ToValue(n)
	return v, true, err
}

// ToValue decodes a node into plain Go values.
func ToValue(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// normalize turns map[any]any (which yaml can produce for odd keys) into
// map[string]any so templates and JSON output see one shape.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = normalize(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = normalize(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = normalize(x)
		}
	}
	return v
}

// Map returns the whole document as map[string]any.
func (d *Doc) Map() (map[string]any, error) {
	v, err := ToValue(d.Root())
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// ParseValue turns a command-line value into a node: YAML syntax is
// honoured (8080 is a number, true a bool, [a, b] a list) so config set
// behaves like editing the file.
func ParseValue(s string) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil || len(n.Content) == 0 {
		return StringNode(s), nil
	}
	v := n.Content[0]
	v.Line, v.Column = 0, 0
	v.Style &^= yaml.FlowStyle
	if v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
		v.Style = yaml.FlowStyle
	}
	return v, nil
}

// StringNode is a plain string scalar, quoted when YAML would otherwise
// read it as another type.
func StringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	var probe any
	if err := yaml.Unmarshal([]byte(s), &probe); err != nil {
		n.Style = yaml.DoubleQuotedStyle
	} else if _, isStr := probe.(string); !isStr || strings.ContainsAny(s, "\n") {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// FromValue converts a plain Go value into a node.
func FromValue(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return &n, nil
}

// Leaves lists every scalar leaf under path as dotted path -> node,
// used for masking secret listings and for diffs.
func (d *Doc) Leaves(path []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	n, ok := d.Get(path)
	if !ok {
		return out
	}
	collect(n, strings.Join(path, "."), out)
	return out
}

func collect(n *yaml.Node, prefix string, out map[string]*yaml.Node) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		out[prefix] = n
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		collect(n.Content[i+1], join(prefix, n.Content[i].Value), out)
	}
}
