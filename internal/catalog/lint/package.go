package lint

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/lazyre"
	"github.com/wild-cloud/wild/internal/render"
)

// pkgLint lints one package.
type pkgLint struct {
	*linter
	dir   string
	fsys  fs.FS
	m     *catalog.Manifest // nil when the manifest is broken
	files map[string][]byte // raw, by package-relative path
	names []string          // sorted keys of files
	// rendered are the files compile renders: YAML and generator inputs.
	rendered map[string]bool
	out      map[string][]byte // rendered with a stand-in config
	pvcs     map[string]loc
	dbInit   *loc
}

type loc struct {
	file string
	line int
}

func (p *pkgLint) file(f string) string { return p.dir + "/" + f }

func (p *pkgLint) run() {
	err := fs.WalkDir(p.fsys, ".", func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && f != catalog.ManifestFile {
			b, err := fs.ReadFile(p.fsys, f)
			if err != nil {
				return err
			}
			p.files[f] = b
			p.names = append(p.names, f)
		}
		return nil
	})
	if err != nil {
		p.add(p.dir, p.dir, 0, Error, RuleManifest, "read package: %v", err)
		return
	}
	slices.Sort(p.names)
	p.rendered = map[string]bool{}
	p.out = map[string][]byte{}
	p.pvcs = map[string]loc{}
	for _, f := range p.names {
		if catalog.IsTemplate(f) {
			p.rendered[f] = true
		}
	}
	p.kustomizations()
	for _, f := range p.names {
		if p.rendered[f] {
			p.template(f)
		} else if !strings.HasSuffix(f, ".md") && bytes.Contains(p.files[f], []byte("{{")) {
			p.add(p.dir, p.file(f), catalog.LeftoverTemplate(p.files[f]), Warning, RuleUnrendered,
				"%s holds a template but is not rendered (only YAML resources and the files a configMapGenerator/secretGenerator reads are); reference it from a generator or drop the {{ }}", f)
		}
	}
	if p.m == nil {
		return
	}
	p.manifestTemplates()
	p.requiredSecrets()
	for _, f := range p.names {
		if o, ok := p.out[f]; ok && (strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) && !catalog.IsKustomization(f) {
			p.objects(f, o)
		}
	}
	p.restore()
}

// kustomizations checks what each kustomization pulls in and marks the
// generator inputs as rendered.
func (p *pkgLint) kustomizations() {
	for _, f := range p.names {
		if !catalog.IsKustomization(f) {
			continue
		}
		raw := p.files[f]
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue // the template check reports what does not parse once rendered
		}
		root := doc.Content[0]
		for _, key := range []string{"resources", "components", "bases"} {
			if seq := mapValue(root, key); seq != nil && seq.Kind == yaml.SequenceNode {
				for _, it := range seq.Content {
					if catalog.IsRemote(it.Value) {
						p.add(p.dir, p.file(f), it.Line, Error, RuleRemoteResource, "remote %s %q: deploy never fetches from the network; copy the manifests into the package", key, it.Value)
					}
				}
			}
		}
		if k, err := catalog.ParseKustomization(f, raw); err == nil {
			for _, g := range k.GeneratorFiles(path.Dir(f)) {
				if _, ok := p.files[g]; ok {
					p.rendered[g] = true
				}
			}
		}
		if !hasAppLabels(root, p.dir) {
			p.add(p.dir, p.file(f), 1, Warning, RuleKustomizeLabels, "add labels: [{includeSelectors: true, pairs: {app: %s, managedBy: kustomize, partOf: wild-cloud}}], so every object and selector carries the app label", p.dir)
		}
	}
}

func hasAppLabels(root *yaml.Node, app string) bool {
	labels := mapValue(root, "labels")
	if labels == nil || labels.Kind != yaml.SequenceNode {
		return false
	}
	for _, it := range labels.Content {
		sel := mapValue(it, "includeSelectors")
		pairs := mapValue(it, "pairs")
		if sel != nil && sel.Value == "true" && pairs != nil {
			if a := mapValue(pairs, "app"); a != nil && a.Value == app {
				return true
			}
		}
	}
	return false
}

// template checks one rendered file: its syntax, the keys it uses, and
// renders it with a stand-in config for the object checks.
func (p *pkgLint) template(f string) {
	text := string(p.files[f])
	fields, err := render.Fields(p.file(f), 1, text)
	if err != nil {
		var re *render.Error
		if errors.As(err, &re) {
			p.add(p.dir, re.File, re.Line, Error, RuleTemplate, "%s", re.Msg)
		} else {
			p.add(p.dir, p.file(f), 0, Error, RuleTemplate, "%v", err)
		}
		return
	}
	if p.m == nil {
		return
	}
	missing := false
	for _, fl := range fields {
		if fl.Guarded || configHas(p.m.DefaultConfig, fl.Path) {
			continue
		}
		missing = true
		p.add(p.dir, p.file(f), fl.Line, Error, RuleTemplateKey, ".%s is not defined in defaultConfig; resource templates see only the app's own config (add the key to defaultConfig, e.g. one set from .cloud or .apps.<ref>)", strings.Join(fl.Path, "."))
	}
	if missing {
		return
	}
	out, err := render.New().File(p.file(f), p.files[f], standIn(p.m.DefaultConfig))
	if err != nil {
		var re *render.Error
		if errors.As(err, &re) && !errors.Is(err, render.ErrMissingKey) {
			p.add(p.dir, re.File, re.Line, Error, RuleTemplate, "%s", re.Msg)
		}
		return
	}
	p.out[f] = out
}

// standIn is defaultConfig as resource templates would see it, with the
// values that are themselves templates replaced by a placeholder.
func standIn(n *yaml.Node) map[string]any {
	var v any
	if n != nil {
		_ = n.Decode(&v)
	}
	out, _ := replaceTemplates(v).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func replaceTemplates(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = replaceTemplates(x)
		}
	case []any:
		for i, x := range v {
			v[i] = replaceTemplates(x)
		}
	case string:
		if strings.Contains(v, "{{") {
			return "placeholder.example.com"
		}
	}
	return v
}

func configHas(n *yaml.Node, p []string) bool {
	for _, part := range p {
		if n == nil {
			return false
		}
		switch n.Kind {
		case yaml.MappingNode:
			n = mapValue(n, part)
		case yaml.SequenceNode:
			return true // indexes are not checked
		default:
			return false
		}
	}
	return n != nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func decodeDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var d yaml.Node
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if len(d.Content) > 0 && d.Content[0].Kind == yaml.MappingNode {
			docs = append(docs, d.Content[0])
		}
	}
}

var yamlErrLine = lazyre.New(`line (\d+)`)
