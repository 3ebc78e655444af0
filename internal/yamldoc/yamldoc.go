// Package yamldoc edits YAML documents by dotted path while keeping the
// comments, key order and formatting that people put there by hand.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/lazyre"
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

var yamlLine = lazyre.New(`^yaml: line (\d+): (.*)$`)

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
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
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

// File is the path the document was read from (for errors).
func (d *Doc) File() string { return d.file }

// Root returns the top-level mapping node.
func (d *Doc) Root() *yaml.Node { return d.root.Content[0] }

// Encode renders the document with two-space indentation.
func (d *Doc) Encode() ([]byte, error) {
	b, err := EncodeNode(d.root)
	if err != nil {
		return nil, err
	}
	if string(b) == "{}\n" {
		return []byte{}, nil
	}
	return b, nil
}

// EncodeNode renders a node with two-space indentation, as files are
// written.
func EncodeNode(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var segment = lazyre.New(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// ParsePath splits a dotted path such as "apps.ghost.port".
func ParsePath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path; use a dotted path such as apps.ghost.port")
	}
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if !segment().MatchString(s) {
			return nil, fmt.Errorf("invalid path %q: each part between dots must be letters, digits, '_' or '-' (e.g. apps.ghost.port)", p)
		}
	}
	return parts, nil
}

// Get returns the node at path.
func (d *Doc) Get(path []string) (*yaml.Node, bool) {
	return lookup(d.Root(), path)
}

// Lookup returns the node at path under n, following aliases and merge
// keys as a YAML reader would; a nil n has nothing.
func Lookup(n *yaml.Node, path []string) (*yaml.Node, bool) {
	if n == nil {
		return nil, false
	}
	return lookup(n, path)
}

func lookup(n *yaml.Node, path []string) (*yaml.Node, bool) {
	for _, key := range path {
		n = resolveAlias(n)
		if n.Kind != yaml.MappingNode {
			return nil, false
		}
		v := mapValue(n, key)
		if v == nil {
			v = mergedValue(n, key)
		}
		if v == nil {
			return nil, false
		}
		n = v
	}
	return resolveAlias(n), true
}

// mergedValue finds key in the mappings a merge key (<<: *base) brings
// in, as a YAML reader would.
func mergedValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "<<" || m.Content[i].Kind != yaml.ScalarNode {
			continue
		}
		src := resolveAlias(m.Content[i+1])
		srcs := []*yaml.Node{src}
		if src.Kind == yaml.SequenceNode {
			srcs = src.Content
		}
		for _, s := range srcs {
			if s = resolveAlias(s); s.Kind == yaml.MappingNode {
				if v := mapValue(s, key); v != nil {
					return v
				}
			}
		}
	}
	return nil
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
	value = Clone(value)
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == key {
			old := parent.Content[i+1]
			value.HeadComment, value.LineComment, value.FootComment = old.HeadComment, old.LineComment, old.FootComment
			parent.Content[i+1] = value
			d.detach(old)
			return nil
		}
	}
	parent.Content = append(parent.Content, scalarKey(key), value)
	return nil
}

// detach keeps the document valid after old left it: every alias that
// pointed at an anchor inside old becomes a copy of what it referred to,
// since an alias whose anchor is gone does not parse ("unknown anchor").
func (d *Doc) detach(old *yaml.Node) {
	anchored := map[*yaml.Node]bool{}
	walk(old, func(n *yaml.Node) {
		if n.Anchor != "" {
			anchored[n] = true
		}
	})
	if len(anchored) == 0 {
		return
	}
	var fix func(n *yaml.Node)
	fix = func(n *yaml.Node) {
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode && anchored[c.Alias] {
				n.Content[i] = Clone(c.Alias)
				continue
			}
			fix(c)
		}
	}
	fix(d.root)
}

func walk(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	fn(n)
	if n.Kind == yaml.AliasNode {
		return
	}
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// materialize returns m's value for key; an alias there is replaced by a
// copy first, so a change below it affects only this path and not every
// place that shares the anchor.
func materialize(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			if m.Content[i+1].Kind == yaml.AliasNode {
				m.Content[i+1] = Clone(m.Content[i+1])
			}
			return m.Content[i+1]
		}
	}
	return nil
}

func (d *Doc) ensureMap(path []string) (*yaml.Node, error) {
	n := d.Root()
	blockIfEmpty(n)
	for i, key := range path {
		v := materialize(n, key)
		if v == nil {
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			n.Content = append(n.Content, scalarKey(key), v)
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			v.Kind, v.Tag, v.Value = yaml.MappingNode, "!!map", ""
		}
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: %s holds a %s, not a mapping, so %s cannot be set under it", d.file, strings.Join(path[:i+1], "."), kindName(v), strings.Join(path, "."))
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
			old := parent.Content[i+1]
			parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
			d.detach(old)
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
// lays it out afresh). Aliases are expanded and anchors dropped: the copy
// stands on its own wherever it is put, in this document or another one.
// Past maxCloneNodes (alias bombs) the remaining aliases are kept as they
// are, and the write-time parse check refuses the result.
func Clone(n *yaml.Node) *yaml.Node {
	budget := maxCloneNodes
	return clone(n, &budget)
}

const maxCloneNodes = 100000

func clone(n *yaml.Node, budget *int) *yaml.Node {
	if n == nil {
		return nil
	}
	*budget--
	if n.Kind == yaml.AliasNode && n.Alias != nil && *budget > 0 {
		c := clone(n.Alias, budget)
		c.HeadComment, c.LineComment, c.FootComment = n.HeadComment, n.LineComment, n.FootComment
		return c
	}
	c := *n
	c.Line, c.Column = 0, 0
	if n.Kind != yaml.AliasNode {
		c.Anchor = ""
	}
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = clone(ch, budget)
	}
	return &c
}

// Value decodes the node at path into plain Go values (map[string]any,
// []any, string, int, bool, float64). An error names the file, line and
// dotted key, never the value (which may be a secret).
func (d *Doc) Value(path []string) (any, bool, error) {
	n, ok := d.Get(path)
	if !ok {
		return nil, false, nil
	}
	v, err := ToValue(n)
	if err != nil {
		return nil, true, d.decodeError(n, strings.Join(path, "."), err)
	}
	return v, true, nil
}

// ToValue decodes a node into plain Go values.
func ToValue(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// decodeError finds the deepest key under n that does not decode and
// says where it is and what to do, without quoting the value.
func (d *Doc) decodeError(n *yaml.Node, prefix string, err error) error {
	if strings.Contains(err.Error(), "excessive aliasing") {
		return fmt.Errorf("%s: excessive aliasing (anchors expanding into too many nodes)%s; expand the aliases by hand", d.file, atKey(prefix))
	}
	bad, path := findUndecodable(n, prefix)
	tag := bad.ShortTag()
	return fmt.Errorf("%s:%d: %s cannot be read as %s; remove the tag or fix the value", d.file, bad.Line, orTop(path), tag)
}

func atKey(p string) string {
	if p == "" {
		return ""
	}
	return " under " + p
}

func orTop(p string) string {
	if p == "" {
		return "the document"
	}
	return p
}

func findUndecodable(n *yaml.Node, prefix string) (*yaml.Node, string) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if _, err := ToValue(n.Content[i+1]); err != nil {
				return findUndecodable(n.Content[i+1], join(prefix, n.Content[i].Value))
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if _, err := ToValue(c); err != nil {
				return findUndecodable(c, fmt.Sprintf("%s[%d]", prefix, i))
			}
		}
	}
	return n, prefix
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
		return nil, d.decodeError(d.Root(), "", err)
	}
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// ParseValue turns a command-line value into a node. A plain number,
// bool or null is typed as YAML would read it (8080 is a number, true a
// bool), and so is a one-line flow list or mapping of such ([a, b]).
// Everything else is a plain string: tags, anchors and aliases are never
// interpreted (config set k '!!int abc' stores the text "!!int abc"), and
// a multi-line value keeps its newlines as a literal block.
func ParseValue(s string) (*yaml.Node, error) {
	if err := CheckText(s); err != nil {
		return nil, err
	}
	if strings.ContainsAny(s, "\r\n") {
		return StringNode(s), nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil || len(n.Content) == 0 {
		return StringNode(s), nil
	}
	v := n.Content[0]
	if !plainTyped(v) {
		return StringNode(s), nil
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
		// "8080" and 'x' are quoted strings: the quotes say so.
		if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return StringNode(v.Value), nil
		}
		return StringNode(s), nil
	}
	v = Clone(v)
	v.Style &^= yaml.FlowStyle
	if v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
		v.Style = yaml.FlowStyle
	}
	v.HeadComment, v.LineComment, v.FootComment = "", "", ""
	if !valueRoundTrips(v) {
		return StringNode(s), nil
	}
	return v, nil
}

// valueRoundTrips reports whether a typed value decodes and reads back
// the same after being written (odd keys such as "? ?" do not).
func valueRoundTrips(n *yaml.Node) bool {
	want, err := ToValue(n)
	if err != nil {
		return false
	}
	out, err := encodeIn(n)
	if err != nil {
		return false
	}
	var back struct{ K any }
	if err := yaml.Unmarshal(out, &back); err != nil {
		return false
	}
	return reflect.DeepEqual(normalize(back.K), want)
}

func encodeIn(n *yaml.Node) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalarKey("k"), n,
		scalarKey("l"), {Kind: yaml.MappingNode, Content: []*yaml.Node{scalarKey("k"), n}},
	}}
	return EncodeNode(doc)
}

// plainTyped reports whether n is built only from untagged scalars and
// flow collections, with no anchors, aliases, merge keys or comments.
func plainTyped(n *yaml.Node) bool {
	ok := true
	walk(n, func(c *yaml.Node) {
		switch {
		case c.Kind == yaml.AliasNode, c.Anchor != "", c.Style&yaml.TaggedStyle != 0,
			c.Tag == "!!merge", c.Tag == "!!binary", c.Tag == "!!timestamp",
			c.HeadComment != "", c.LineComment != "", c.FootComment != "":
			ok = false
		case c.Kind == yaml.ScalarNode && c.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			ok = false
		}
	})
	return ok
}

// CheckText refuses values that YAML cannot hold as text: invalid UTF-8.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("the value is not valid UTF-8 text; pass text (encode binary data, e.g. with base64)")
	}
	return nil
}

// StringNode is a plain string scalar, quoted when YAML would otherwise
// read it as another type, and a literal block when it spans lines. Its
// text always reads back byte for byte: a style that would not is
// replaced by double quotes.
func StringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch {
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	default:
		var probe yaml.Node
		err := yaml.Unmarshal([]byte(s), &probe)
		if err != nil || len(probe.Content) != 1 || probe.Content[0].Kind != yaml.ScalarNode ||
			probe.Content[0].Tag != "!!str" || probe.Content[0].Value != s {
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	if n.Style != yaml.DoubleQuotedStyle && !roundTrips(n) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// roundTrips encodes n as a mapping value, the way it will sit in a file,
// and reports whether it reads back as the same string.
func roundTrips(n *yaml.Node) bool {
	out, err := encodeIn(n)
	if err != nil {
		return false
	}
	var back struct {
		K any
		L struct{ K any }
	}
	if err := yaml.Unmarshal(out, &back); err != nil {
		return false
	}
	return back.K == n.Value && back.L.K == n.Value
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
