package migrate

import (
	"bytes"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/lazyre"
)

// conv converts one package.
type conv struct {
	name  string
	deps  map[string]*depType
	p     *Package
	root  *yaml.Node // the manifest mapping
	files map[string][]byte
}

var dbTypes = []string{"postgres", "mysql", "mariadb"}

func convert(name string, fsys fs.FS, deps map[string]*depType) (*Package, map[string][]byte, error) {
	c := &conv{name: name, deps: deps, p: &Package{Name: name, Changed: []Note{}, Human: []Note{}}, files: map[string][]byte{}}
	raw, err := fs.ReadFile(fsys, catalog.ManifestFile)
	if err != nil {
		return nil, nil, fmt.Errorf("package %s: %w", name, err)
	}
	err = fs.WalkDir(fsys, ".", func(f string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || f == catalog.ManifestFile {
			return err
		}
		c.files[f], err = fs.ReadFile(fsys, f)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("package %s: %w", name, err)
	}
	raw = c.quoteTemplates(raw)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s/manifest.yaml: %w; fix the YAML by hand, then migrate again", name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s/manifest.yaml is not a mapping", name)
	}
	c.root = doc.Content[0]
	c.identity()
	c.normalizeRequires()
	c.addImpliedRequires()
	c.requiredSecrets()
	c.defaultConfig()
	for _, f := range slices.Sorted(mapsKeys(c.files)) {
		if isResource(f, c.files[f]) {
			c.files[f] = c.resource(f, c.files[f])
		}
	}
	c.restore()
	c.reorder()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c.root); err != nil {
		return nil, nil, err
	}
	c.files[catalog.ManifestFile] = buf.Bytes()
	return c.p, c.files, nil
}

func (c *conv) changed(file string, line int, format string, args ...any) {
	c.p.Changed = append(c.p.Changed, Note{c.name + "/" + file, line, fmt.Sprintf(format, args...)})
}

func (c *conv) human(file string, line int, format string, args ...any) {
	c.p.Human = append(c.p.Human, Note{c.name + "/" + file, line, fmt.Sprintf(format, args...)})
}

const mf = catalog.ManifestFile

var unquoted = lazyre.New(`^(\s*(?:- )?(?:[A-Za-z0-9_-]+:\s+)?)(\{\{.*\}\}[^#]*?)\s*$`)

// quoteTemplates quotes `key: {{ ... }}`, which YAML would read as a
// mapping.
func (c *conv) quoteTemplates(raw []byte) []byte {
	lines := strings.Split(string(raw), "\n")
	for i, ln := range lines {
		if m := unquoted().FindStringSubmatch(ln); m != nil {
			lines[i] = m[1] + `"` + strings.ReplaceAll(m[2], `"`, `\"`) + `"`
			c.changed(mf, i+1, "quoted the template %s (YAML reads an unquoted {{ }} as a mapping)", m[2])
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func quoted(v string) *yaml.Node {
	n := str(v)
	n.Style = yaml.DoubleQuotedStyle
	return n
}

func (c *conv) get(key string) *yaml.Node {
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		if c.root.Content[i].Value == key {
			return c.root.Content[i+1]
		}
	}
	return nil
}

func (c *conv) keyLine(key string) int {
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		if c.root.Content[i].Value == key {
			return c.root.Content[i].Line
		}
	}
	return 0
}

func (c *conv) set(key string, v *yaml.Node) {
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		if c.root.Content[i].Value == key {
			c.root.Content[i+1] = v
			return
		}
	}
	c.root.Content = append(c.root.Content, str(key), v)
}

func (c *conv) remove(key string) {
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		if c.root.Content[i].Value == key {
			c.root.Content = append(c.root.Content[:i], c.root.Content[i+2:]...)
			return
		}
	}
}

// reorder puts the keys in the spec's order; unknown keys go last.
func (c *conv) reorder() {
	var out []*yaml.Node
	for _, k := range catalog.TopLevelKeys {
		for i := 0; i+1 < len(c.root.Content); i += 2 {
			if c.root.Content[i].Value == k {
				out = append(out, c.root.Content[i], c.root.Content[i+1])
			}
		}
	}
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		if !slices.Contains(catalog.TopLevelKeys, c.root.Content[i].Value) {
			out = append(out, c.root.Content[i], c.root.Content[i+1])
		}
	}
	c.root.Content = out
}

// identity: name matches the directory, is is set, install: is gone.
func (c *conv) identity() {
	if n := c.get("name"); n == nil || n.Value != c.name {
		old := ""
		if n != nil {
			old = n.Value
		}
		c.set("name", str(c.name))
		c.changed(mf, c.keyLine("name"), "name %q set to the package directory's name %q", old, c.name)
	}
	if n := c.get("install"); n != nil {
		c.changed(mf, c.keyLine("install"), "removed install: %s (the spec has no install flag: an app is installed by wild app add)", n.Value)
		c.remove("install")
	}
	if c.get("is") == nil {
		c.set("is", str(c.name))
		c.changed(mf, 0, "added is: %s (the app type other packages require)", c.name)
	}
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		k := c.root.Content[i]
		if !slices.Contains(catalog.TopLevelKeys, k.Value) {
			c.human(mf, k.Line, "unknown key %q kept; the loader ignores it with a warning: remove it or move it into defaultConfig", k.Value)
		}
	}
}

// seq returns the list under a top-level key, creating it when absent.
func (c *conv) seq(key string) *yaml.Node {
	n := c.get(key)
	if n == nil || n.Kind != yaml.SequenceNode {
		n = &yaml.Node{Kind: yaml.SequenceNode}
		c.set(key, n)
	}
	return n
}

func (c *conv) requires() *yaml.Node { return c.seq("requires") }

func (c *conv) normalizeRequires() {
	seq := c.requires()
	for i, it := range seq.Content {
		if it.Kind == yaml.ScalarNode {
			seq.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("name"), str(it.Value)}}
			c.changed(mf, it.Line, "requires entry %q written as {name: %s}", it.Value, it.Value)
		}
	}
	used := map[string]bool{}
	for _, it := range seq.Content {
		used[c.ref(it)] = true
	}
	for _, it := range seq.Content {
		name := mapStr(it, "name")
		if mapStr(it, "alias") == "" && slices.Contains(dbTypes, name) && !used["db"] {
			it.Content = append(it.Content, str("alias"), str("db"))
			used["db"] = true
			used[name] = false
			c.changed(mf, it.Line, "requires %s: added alias db, so templates read .apps.db whichever database is installed", name)
		}
	}
}

func mapStr(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func (c *conv) ref(it *yaml.Node) string {
	if a := mapStr(it, "alias"); a != "" {
		return a
	}
	return mapStr(it, "name")
}

// refOf maps what the older format called a dependency (its type or
// installed name, as in apps.postgres.*) to the requires ref.
func (c *conv) refOf(x string) (string, bool) {
	for _, it := range c.requires().Content {
		if mapStr(it, "name") == x || mapStr(it, "alias") == x {
			return c.ref(it), true
		}
	}
	return "", false
}

func (c *conv) typeOf(ref string) string {
	for _, it := range c.requires().Content {
		if c.ref(it) == ref {
			return mapStr(it, "name")
		}
	}
	return ""
}

var appsRef = lazyre.New(`\bapps\.([a-z0-9]+(?:-[a-z0-9]+)*)\.`)

// addImpliedRequires adds the dependencies the older format used without
// declaring: apps.X.* references and hard-coded hostnames.
func (c *conv) addImpliedRequires() {
	texts := map[string][]byte{mf: nil}
	for f, b := range c.files {
		texts[f] = b
	}
	var buf bytes.Buffer
	_ = yaml.NewEncoder(&buf).Encode(c.root)
	texts[mf] = buf.Bytes()
	for _, f := range slices.Sorted(mapsKeys(texts)) {
		for i, ln := range strings.Split(string(texts[f]), "\n") {
			for _, m := range appsRef().FindAllStringSubmatch(ln, -1) {
				c.need(m[1], f, i+1, "apps."+m[1])
			}
			for _, t := range slices.Sorted(mapsKeys(c.deps)) {
				if h := c.deps[t].Host; h != "" && strings.Contains(ln, strings.TrimSuffix(h, ".cluster.local")) {
					c.need(t, f, i+1, "hostname "+h)
				}
			}
		}
	}
}

func (c *conv) need(x, file string, line int, why string) {
	if x == c.name {
		return
	}
	if _, ok := c.refOf(x); ok {
		return
	}
	if _, known := c.deps[x]; !known {
		c.human(file, line, "%s refers to an app %q that is no known app type; add it to requires (name: its type, alias) by hand", why, x)
		return
	}
	it := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("name"), str(x)}}
	alias := x
	if slices.Contains(dbTypes, x) {
		if _, taken := c.refOf("db"); !taken {
			alias = "db"
			it.Content = append(it.Content, str("alias"), str("db"))
		}
	}
	c.requires().Content = append(c.requires().Content, it)
	c.changed(file, line, "added requires %s (as %s): the package uses it (%s) without declaring it", x, alias, why)
}

// defaultSecret ensures defaultSecrets holds key, reporting whether it
// was added.
func (c *conv) defaultSecret(key string) bool {
	n := c.seq("defaultSecrets")
	for _, it := range n.Content {
		if mapStr(it, "key") == key {
			return false
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("key"), str(key)}})
	return true
}

func (c *conv) requiredSecret(entry string) bool {
	n := c.seq("requiredSecrets")
	for _, it := range n.Content {
		if it.Value == entry {
			return false
		}
	}
	n.Content = append(n.Content, str(entry))
	return true
}

// requiredSecrets rewrites full paths: the app's own become
// defaultSecrets, a dependency's become <ref>.<key>.
func (c *conv) requiredSecrets() {
	n := c.get("requiredSecrets")
	if n == nil || n.Kind != yaml.SequenceNode {
		return
	}
	var keep []*yaml.Node
	for _, it := range n.Content {
		rest, ok := strings.CutPrefix(it.Value, "apps.")
		if !ok {
			keep = append(keep, it)
			continue
		}
		x, key, _ := strings.Cut(rest, ".")
		if x == c.name {
			c.defaultSecret(key)
			c.changed(mf, it.Line, "requiredSecrets %s: the app's own secret, moved to defaultSecrets as %s (generated at add)", it.Value, key)
			continue
		}
		ref, ok := c.refOf(x)
		if !ok {
			keep = append(keep, it)
			continue // need() already asked a human
		}
		c.changed(mf, it.Line, "requiredSecrets %s written as %s.%s", it.Value, ref, key)
		it.Value = ref + "." + key
		keep = append(keep, it)
		c.checkDepSecret(ref, key, mf, it.Line)
	}
	n.Content = keep
	if len(keep) == 0 {
		c.remove("requiredSecrets")
	}
}

func (c *conv) checkDepSecret(ref, key, file string, line int) {
	if d := c.deps[c.typeOf(ref)]; d != nil && !slices.Contains(d.Secrets, key) {
		c.human(file, line, "%s has no secret %q (it has %s): deploy will not create it; pick one of those", d.Is, key, strings.Join(d.Secrets, ", "))
	}
}

var (
	pvcKind  = lazyre.New(`(?m)^kind:\s*PersistentVolumeClaim\s*$`)
	metaName = lazyre.New(`(?m)^metadata:\s*\n(?:\s+.*\n)*?\s+name:\s*["']?([^"'\s]+)`)
	dbInit   = lazyre.New(`(?m)^\s+name:\s*\S*db-init`)
)

// secretsEmbedding lists the defaultSecrets whose default template uses expr.
func (c *conv) secretsEmbedding(expr string) []string {
	var out []string
	if ds := c.get("defaultSecrets"); ds != nil {
		for _, it := range ds.Content {
			for i := 0; i+1 < len(it.Content); i += 2 {
				if it.Content[i].Value == "default" && strings.Contains(it.Content[i+1].Value, expr) {
					out = append(out, mapStr(it, "key"))
				}
			}
		}
	}
	return out
}

// restore declares the package's data (PVCs, and the database whose name
// dbName holds) when the older package has no restore: field.
func (c *conv) restore() {
	if c.get("restore") != nil {
		return
	}
	var vols []string
	hasDBInit := false
	for _, f := range slices.Sorted(mapsKeys(c.files)) {
		if !catalog.IsTemplate(f) {
			continue
		}
		for _, doc := range strings.Split(string(c.files[f]), "\n---") {
			if pvcKind().MatchString(doc) {
				if m := metaName().FindStringSubmatch(doc); m != nil && !strings.Contains(m[1], "{{") {
					vols = append(vols, m[1])
				}
			}
			hasDBInit = hasDBInit || dbInit().MatchString(doc) && strings.Contains(doc, "kind: Job")
		}
	}
	r := &yaml.Node{Kind: yaml.MappingNode}
	if hasDBInit && c.hasConfig("dbName") {
		db := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("configKey"), str("dbName")}}
		if keys := c.secretsEmbedding(".app.dbName"); len(keys) > 0 {
			db.Content = append(db.Content, str("secretKeys"), catalog.StringSeq(keys))
		}
		r.Content = append(r.Content, str("databases"), &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{db}})
	} else if hasDBInit {
		c.human(mf, 0, "the package creates a database, but no config key holds its name: add restore.databases by hand")
	}
	if len(vols) > 0 {
		r.Content = append(r.Content, str("volumes"), catalog.StringSeq(vols))
	}
	if len(r.Content) == 0 {
		return
	}
	c.set("restore", r)
	c.changed(mf, 0, "added restore: (databases by config key dbName, volumes %s) so backups patch it deterministically; check it, and add secretKeys whose values embed the database name", strings.Join(vols, ", "))
}
