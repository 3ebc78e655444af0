package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/lazyre"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// Manifest is an app package's manifest.yaml (spec "App Manifest
// Structure"). The instance copy additionally records InstalledAs.
type Manifest struct {
	Name        string
	Is          string
	Description string
	Version     string
	Icon        string
	Requires    []Requirement
	// DefaultConfig is the raw mapping node, so templates keep their line
	// numbers for error messages and key order survives into config.yaml.
	// Nil when the manifest has none.
	DefaultConfig   *yaml.Node
	DefaultSecrets  []SecretDefault
	RequiredSecrets []string // "<ref>.<key>"
	// Restore declares what a blue-green restore must patch (seed 004,
	// "Deterministic patching"); nil when the package declares nothing.
	Restore *Restore
	// InstalledAs maps a requires ref to the installed app that satisfies
	// it. Only the instance copy carries it.
	InstalledAs map[string]string `yaml:"installedAs,omitempty"`
	// Warnings are problems that do not stop the package from loading,
	// such as unknown keys (kept so packages stay forward-compatible).
	Warnings []*ManifestError
}

// Restore is the manifest's `restore:` field: the app's data, named so
// a restore into a standby can rename it deterministically.
type Restore struct {
	Databases []RestoreDatabase
	// Volumes are the names of the app's PersistentVolumeClaims.
	Volumes []string
	// DataSecrets are the app's secret keys its data cannot live without
	// (a key the app encrypts or signs stored data with). A clone into
	// another instance carries these from the backup; every other secret
	// is the target instance's own.
	DataSecrets []string
}

// RestoreDatabase is one database of the app.
type RestoreDatabase struct {
	// ConfigKey is the dotted path, within the app's config, of the
	// value holding the database name (e.g. dbName).
	ConfigKey string
	// SecretKeys are the app's secret keys whose values embed the
	// database name (e.g. a dbUrl), to rewrite on restore.
	SecretKeys []string
}

// Requirement is one `requires` entry: an app type (matched against other
// apps' `is`) and the name templates use for it.
type Requirement struct {
	Name  string
	Alias string
}

// Ref is how templates and requiredSecrets refer to the dependency.
func (r Requirement) Ref() string {
	if r.Alias != "" {
		return r.Alias
	}
	return r.Name
}

// SecretDefault is one `defaultSecrets` entry. Without a default the
// secret is generated; a default may be a template over .app and .secrets.
type SecretDefault struct {
	Key        string
	Default    string
	HasDefault bool
	Line       int
}

// Requirement returns the requires entry whose ref is ref.
func (m *Manifest) Requirement(ref string) (Requirement, bool) {
	for _, r := range m.Requires {
		if r.Ref() == ref {
			return r, true
		}
	}
	return Requirement{}, false
}

// ManifestError is a manifest that failed to parse or validate.
type ManifestError struct {
	File string
	Line int // 0 when no line applies
	Msg  string
	// Rule names the kind of problem for the linter (e.g. "unknown-key");
	// empty for a general manifest error.
	Rule string
}

func (e *ManifestError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// secretKey is what a secret may be called: it becomes a key of the app's
// Kubernetes Secret, and a dot would nest it in secrets.yaml.
var secretKey = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

var yamlLine = lazyre.New(`^yaml: line (\d+): (.*)$`)

type parser struct {
	file string
	m    *Manifest
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &ManifestError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ParseManifest parses and validates a manifest strictly: unknown keys,
// wrong types and inconsistent references are errors naming file:line.
// It does not check that name matches the package directory; Catalog does.
func ParseManifest(file string, data []byte) (*Manifest, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine().FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &ManifestError{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
		}
		return nil, &ManifestError{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
	}
	p := &parser{file: file, m: &Manifest{}}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, p.errf(nil, "manifest is empty; it needs at least a name")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "manifest must be a mapping of keys (name, is, requires, ...)")
	}
	if err := p.top(root); err != nil {
		return nil, err
	}
	if err := p.validate(root); err != nil {
		return nil, err
	}
	return p.m, nil
}

// TopLevelKeys are the manifest keys this version understands.
var TopLevelKeys = []string{"name", "is", "description", "version", "icon", "requires", "defaultConfig", "defaultSecrets", "requiredSecrets", "restore", "installedAs"}

func (p *parser) ruleErr(n *yaml.Node, rule, format string, args ...any) error {
	e := p.errf(n, format, args...).(*ManifestError)
	e.Rule = rule
	return e
}

func (p *parser) top(root *yaml.Node) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return p.ruleErr(k, "duplicate-key", "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			p.m.Name, err = p.scalar(k, v)
		case "is":
			p.m.Is, err = p.scalar(k, v)
		case "description":
			p.m.Description, err = p.scalar(k, v)
		case "version":
			p.m.Version, err = p.scalar(k, v)
		case "icon":
			p.m.Icon, err = p.scalar(k, v)
		case "requires":
			err = p.requires(v)
		case "defaultConfig":
			err = p.defaultConfig(v)
		case "defaultSecrets":
			err = p.defaultSecrets(v)
		case "requiredSecrets":
			err = p.requiredSecrets(v)
		case "installedAs":
			err = p.installedAs(v)
		case "restore":
			err = p.restore(v)
		default:
			w := p.errf(k, "unknown key %q, ignored (known: %s)", k.Value, strings.Join(TopLevelKeys, ", ")).(*ManifestError)
			w.Rule = "unknown-key"
			p.m.Warnings = append(p.m.Warnings, w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) scalar(k, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", p.errf(v, "%s must be a single value", k.Value)
	}
	if v.Tag == "!!null" {
		return "", nil
	}
	return v.Value, nil
}

func isNull(v *yaml.Node) bool { return v.Kind == yaml.ScalarNode && v.Tag == "!!null" }

func (p *parser) seq(name string, v *yaml.Node) ([]*yaml.Node, error) {
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, p.errf(v, "%s must be a list", name)
	}
	return v.Content, nil
}

// fields reads a small mapping with a fixed set of keys.
func (p *parser) fields(what string, n *yaml.Node, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, "each %s entry must be a mapping with keys %s", what, strings.Join(known, ", "))
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ok := false
		for _, kn := range known {
			ok = ok || kn == k.Value
		}
		if !ok {
			return nil, p.errf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errf(k, "duplicate key %q in %s", k.Value, what)
		}
		if isUnquotedTemplate(v) {
			return nil, p.unquoted(v)
		}
		if v.Kind != yaml.ScalarNode {
			return nil, p.errf(v, "%s.%s must be a single value", what, k.Value)
		}
		out[k.Value] = v
	}
	return out, nil
}

func (p *parser) requires(v *yaml.Node) error {
	items, err := p.seq("requires", v)
	if err != nil {
		return err
	}
	refs := map[string]bool{}
	for _, it := range items {
		f, err := p.fields("requires", it, "name", "alias")
		if err != nil {
			return err
		}
		r := Requirement{}
		if n := f["name"]; n != nil && !isNull(n) {
			r.Name = n.Value
		}
		if a := f["alias"]; a != nil && !isNull(a) {
			r.Alias = a.Value
		}
		if err := names.Validate("required app type", r.Name); err != nil {
			return p.errf(it, "requires: %v", err)
		}
		if r.Alias != "" {
			if err := names.Validate("alias", r.Alias); err != nil {
				return p.errf(f["alias"], "requires: %v", err)
			}
		}
		if refs[r.Ref()] {
			return p.errf(it, "requires: %q is used twice; give one of them a different alias", r.Ref())
		}
		refs[r.Ref()] = true
		p.m.Requires = append(p.m.Requires, r)
	}
	return nil
}

func (p *parser) defaultConfig(v *yaml.Node) error {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return p.errf(v, "defaultConfig must be a mapping of keys to values")
	}
	if err := checkKeys(p, v); err != nil {
		return err
	}
	p.m.DefaultConfig = v
	return nil
}

// checkKeys rejects duplicate and non-scalar keys anywhere in
// defaultConfig: they would become ambiguous dotted paths in config.yaml.
func checkKeys(p *parser, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		if isUnquotedTemplate(n) {
			return p.unquoted(n)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "" {
				return p.errf(k, "defaultConfig keys must be non-empty names")
			}
			if strings.Contains(k.Value, ".") {
				return p.errf(k, "defaultConfig key %q contains '.', which dotted paths can't address; nest it instead", k.Value)
			}
			if seen[k.Value] {
				return p.errf(k, "duplicate key %q in defaultConfig", k.Value)
			}
			seen[k.Value] = true
			if err := checkKeys(p, n.Content[i+1]); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := checkKeys(p, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *parser) unquoted(n *yaml.Node) error {
	return p.ruleErr(n, "unquoted-template", "YAML reads an unquoted {{ }} as a mapping; quote the template, e.g. key: \"{{ .cloud.domain }}\"")
}

// isUnquotedTemplate spots `key: {{ .x }}`: YAML parses the braces as a
// flow mapping whose only key is itself a mapping.
func isUnquotedTemplate(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle == 0 || len(n.Content) != 2 {
		return false
	}
	k := n.Content[0]
	return k.Kind == yaml.MappingNode && k.Style&yaml.FlowStyle != 0
}

func (p *parser) defaultSecrets(v *yaml.Node) error {
	items, err := p.seq("defaultSecrets", v)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, it := range items {
		f, err := p.fields("defaultSecrets", it, "key", "default")
		if err != nil {
			return err
		}
		s := SecretDefault{Line: it.Line}
		if k := f["key"]; k != nil && !isNull(k) {
			s.Key = k.Value
		}
		if !secretKey().MatchString(s.Key) {
			return p.errf(it, "defaultSecrets: invalid key %q: use letters, digits, '-' and '_' (it becomes a Secret key)", s.Key)
		}
		if seen[s.Key] {
			return p.errf(it, "defaultSecrets: duplicate key %q", s.Key)
		}
		seen[s.Key] = true
		if d := f["default"]; d != nil && !isNull(d) {
			s.Default, s.HasDefault = d.Value, true
			s.Line = d.Line
		}
		p.m.DefaultSecrets = append(p.m.DefaultSecrets, s)
	}
	return nil
}

func (p *parser) requiredSecrets(v *yaml.Node) error {
	items, err := p.seq("requiredSecrets", v)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Kind != yaml.ScalarNode || isNull(it) {
			return p.errf(it, "requiredSecrets entries are strings like db.password")
		}
		p.m.RequiredSecrets = append(p.m.RequiredSecrets, it.Value)
	}
	return nil
}

func (p *parser) installedAs(v *yaml.Node) error {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return p.errf(v, "installedAs must map each requires ref to an installed app")
	}
	p.m.InstalledAs = map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return p.errf(val, "installedAs.%s must be an app name", k.Value)
		}
		if err := names.Validate("app", val.Value); err != nil {
			return p.errf(val, "installedAs.%s: %v", k.Value, err)
		}
		p.m.InstalledAs[k.Value] = val.Value
	}
	return nil
}

// validate checks what spans several keys.
func (p *parser) validate(root *yaml.Node) error {
	m := p.m
	if err := names.Validate("app", m.Name); err != nil {
		return p.ruleErr(keyNode(root, "name", root), "invalid-name", "%v", err)
	}
	if m.Is == "" {
		m.Is = m.Name
	} else if err := names.Validate("app type (is)", m.Is); err != nil {
		return p.errf(keyNode(root, "is", root), "%v", err)
	}
	reqNode := keyNode(root, "requiredSecrets", root)
	seen := map[string]bool{}
	for i, rs := range m.RequiredSecrets {
		at := reqNode
		if reqNode.Kind == yaml.SequenceNode && i < len(reqNode.Content) {
			at = reqNode.Content[i]
		}
		ref, key, ok := strings.Cut(rs, ".")
		if !ok || ref == "" || !secretKey().MatchString(key) {
			return p.errf(at, "requiredSecrets: %q must be <ref>.<key>, e.g. db.password", rs)
		}
		if _, ok := m.Requirement(ref); !ok {
			return p.errf(at, "requiredSecrets: %q refers to %q, which is not in requires (refs: %s)", rs, ref, strings.Join(m.refs(), ", "))
		}
		if seen[rs] {
			return p.errf(at, "requiredSecrets: duplicate %q", rs)
		}
		seen[rs] = true
		for _, ds := range m.DefaultSecrets {
			if ds.Key == ref {
				return p.errf(at, "requiredSecrets: %q clashes with defaultSecrets key %q (both would live at %s in secrets.yaml)", rs, ref, ref)
			}
		}
	}
	if err := p.validateRestore(root); err != nil {
		return err
	}
	for ref := range m.InstalledAs {
		if _, ok := m.Requirement(ref); !ok {
			return p.errf(keyNode(root, "installedAs", root), "installedAs: %q is not a requires ref (refs: %s)", ref, strings.Join(m.refs(), ", "))
		}
	}
	return nil
}

func (m *Manifest) refs() []string {
	out := []string{}
	for _, r := range m.Requires {
		out = append(out, r.Ref())
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// keyNode returns the value node of key in a mapping, or def.
func keyNode(m *yaml.Node, key string, def *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return def
}

// Marshal writes the manifest back as YAML (the instance copy, with
// installedAs), keeping defaultConfig as written, comments included.
func (m *Manifest) Marshal() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) {
		root.Content = append(root.Content, str(k), v)
	}
	addStr := func(k, v string) {
		if v != "" {
			add(k, str(v))
		}
	}
	addStr("name", m.Name)
	addStr("is", m.Is)
	addStr("description", m.Description)
	addStr("version", m.Version)
	addStr("icon", m.Icon)
	if len(m.Requires) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range m.Requires {
			it := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("name"), str(r.Name)}}
			if r.Alias != "" {
				it.Content = append(it.Content, str("alias"), str(r.Alias))
			}
			seq.Content = append(seq.Content, it)
		}
		add("requires", seq)
	}
	if m.DefaultConfig != nil {
		// A copy with aliases expanded: an alias to an anchor outside
		// defaultConfig would otherwise be written without its anchor.
		add("defaultConfig", yamldoc.Clone(m.DefaultConfig))
	}
	if len(m.DefaultSecrets) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range m.DefaultSecrets {
			it := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("key"), str(s.Key)}}
			if s.HasDefault {
				it.Content = append(it.Content, str("default"), strStyled(s.Default))
			}
			seq.Content = append(seq.Content, it)
		}
		add("defaultSecrets", seq)
	}
	if len(m.RequiredSecrets) > 0 {
		add("requiredSecrets", StringSeq(m.RequiredSecrets))
	}
	if m.Restore != nil {
		add("restore", m.Restore.marshal())
	}
	if len(m.InstalledAs) > 0 {
		mp := &yaml.Node{Kind: yaml.MappingNode}
		for _, r := range m.Requires { // requires order, not map order
			if v, ok := m.InstalledAs[r.Ref()]; ok {
				mp.Content = append(mp.Content, str(r.Ref()), str(v))
			}
		}
		add("installedAs", mp)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.Name, err)
	}
	// Never write a manifest that does not read back.
	if _, err := ParseManifest(m.Name+"/"+ManifestFile, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("encode manifest %s: the result would not parse back: %w", m.Name, err)
	}
	return buf.Bytes(), nil
}

func str(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

// strStyled quotes templates so "{{" survives as a plain string.
func strStyled(v string) *yaml.Node {
	n := str(v)
	if strings.Contains(v, "{{") {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// ErrUnknownApp is wrapped by Get when the catalog has no such app.
var ErrUnknownApp = errors.New("unknown app")
