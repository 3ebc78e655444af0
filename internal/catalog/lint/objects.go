package lint

import (
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/lazyre"
	"github.com/wild-cloud/wild/internal/render"
)

// objects checks the Kubernetes objects of one rendered resource file.
func (p *pkgLint) objects(f string, out []byte) {
	docs, err := decodeDocs(out)
	if err != nil {
		line := 0
		if m := yamlErrLine().FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		p.add(p.dir, p.file(f), line, Error, RuleYAML, "not valid YAML once rendered: %v", err)
	}
	for _, d := range docs {
		p.duplicateKeys(f, d)
		kind := scalar(mapValue(d, "kind"))
		name := scalar(mapValue(mapValue(d, "metadata"), "name"))
		p.secretRefs(f, d)
		switch kind {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			p.podTemplate(f, kind, name, mapValue(mapValue(d, "spec"), "template"))
		case "CronJob":
			p.podTemplate(f, kind, name, mapValue(mapValue(mapValue(mapValue(d, "spec"), "jobTemplate"), "spec"), "template"))
		case "Ingress":
			p.ingress(f, d)
		case "PersistentVolumeClaim":
			p.pvcs[name] = loc{p.file(f), d.Line}
		}
	}
}

// duplicateKeys reports a key given twice in one mapping: YAML parsers
// disagree on which one wins.
func (p *pkgLint) duplicateKeys(f string, n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if seen[k.Value] {
				p.add(p.dir, p.file(f), k.Line, Error, RuleDuplicateKey, "duplicate key %q", k.Value)
			}
			seen[k.Value] = true
		}
	}
	for _, c := range n.Content {
		p.duplicateKeys(f, c)
	}
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func (p *pkgLint) podTemplate(f, kind, name string, tmpl *yaml.Node) {
	if tmpl == nil {
		return
	}
	labels := mapValue(mapValue(tmpl, "metadata"), "labels")
	component := scalar(mapValue(labels, "component"))
	if component == "" {
		p.add(p.dir, p.file(f), tmpl.Line, Warning, RuleComponentLabel, "%s %s: give the pod template a component label (e.g. component: web), so selectors and status can tell the parts of the app apart", kind, name)
	}
	spec := mapValue(tmpl, "spec")
	if mapValue(spec, "securityContext") == nil {
		p.add(p.dir, p.file(f), tmpl.Line, Warning, RuleSecurityContext, "%s %s: set a pod securityContext (runAsNonRoot, runAsUser, fsGroup, seccompProfile: RuntimeDefault)", kind, name)
	}
	for _, field := range []string{"initContainers", "containers"} {
		cs := mapValue(spec, field)
		if cs == nil || cs.Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range cs.Content {
			if mapValue(c, "securityContext") == nil {
				p.add(p.dir, p.file(f), c.Line, Warning, RuleSecurityContext, "%s %s: container %s has no securityContext (allowPrivilegeEscalation: false, capabilities: drop: [ALL])", kind, name, scalar(mapValue(c, "name")))
			}
		}
	}
	if kind == "Job" && (component == "db-init" || strings.Contains(name, "db-init")) {
		p.dbInit = &loc{p.file(f), tmpl.Line}
		p.idempotent(f, spec)
	}
}

var createStmt = lazyre.New(`(?i)\bCREATE\s+(DATABASE|USER|ROLE|TABLE|SCHEMA|EXTENSION)\b`)

// idempotent warns about CREATE statements a second run would fail on:
// db-init Jobs run again on every deploy.
func (p *pkgLint) idempotent(f string, spec *yaml.Node) {
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			for i, ln := range strings.Split(n.Value, "\n") {
				if !createStmt().MatchString(ln) {
					continue
				}
				u := strings.ToUpper(ln)
				if strings.Contains(u, "IF NOT EXISTS") || strings.Contains(u, "FORMAT(") || strings.Contains(u, "OR REPLACE") {
					continue
				}
				line := n.Line + i
				if n.Style == yaml.LiteralStyle || n.Style == yaml.FoldedStyle {
					line++
				}
				p.add(p.dir, p.file(f), line, Warning, RuleDBInitIdempotent, "db-init runs on every deploy, but %q fails once the object exists; use IF NOT EXISTS (MySQL) or SELECT ... WHERE NOT EXISTS ... \\gexec (PostgreSQL)", strings.TrimSpace(ln))
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(spec)
}

func (p *pkgLint) ingress(f string, d *yaml.Node) {
	name := scalar(mapValue(mapValue(d, "metadata"), "name"))
	ann := mapValue(mapValue(d, "metadata"), "annotations")
	tls := mapValue(mapValue(d, "spec"), "tls")
	if tls == nil || tls.Kind != yaml.SequenceNode || len(tls.Content) == 0 {
		p.add(p.dir, p.file(f), d.Line, Warning, RuleTLSSecret, "Ingress %s has no tls; use secretName wildcard-wild-cloud-tls (public) or wildcard-internal-wild-cloud-tls (internal)", name)
		return
	}
	public := false
	for _, t := range tls.Content {
		sn := mapValue(t, "secretName")
		secret := scalar(sn)
		if !slices.Contains(WildcardTLSSecrets, secret) {
			line := d.Line
			if sn != nil {
				line = sn.Line
			}
			p.add(p.dir, p.file(f), line, Warning, RuleTLSSecret, "Ingress %s: tls secretName %q is not a wildcard certificate deploy provides (%s)", name, secret, strings.Join(WildcardTLSSecrets, ", "))
		}
		public = public || secret == WildcardTLSSecrets[0]
	}
	if public && mapValue(ann, "external-dns.alpha.kubernetes.io/target") == nil {
		p.add(p.dir, p.file(f), d.Line, Warning, RuleExternalDNS, "public Ingress %s has no external-dns.alpha.kubernetes.io/target annotation (set it from a config key such as externalDnsTarget: \"{{ .cloud.domain }}\")", name)
	}
}

// secretRefs checks every secretKeyRef in an object.
func (p *pkgLint) secretRefs(f string, n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		if ref := mapValue(n, "secretKeyRef"); ref != nil {
			p.secretRef(f, ref)
		}
	}
	for _, c := range n.Content {
		p.secretRefs(f, c)
	}
}

func (p *pkgLint) secretRef(f string, ref *yaml.Node) {
	name, key := scalar(mapValue(ref, "name")), scalar(mapValue(ref, "key"))
	line := ref.Line
	if k := mapValue(ref, "key"); k != nil {
		line = k.Line
	}
	own := p.m.Name + "-secrets"
	if name == own {
		have := p.ownSecretKeys()
		if !slices.Contains(have, key) {
			p.add(p.dir, p.file(f), line, Error, RuleSecretKey, "secretKeyRef %s/%s: deploy creates %s with keys %s; add %q to defaultSecrets (or requiredSecrets as <ref>.<key>)", name, key, own, listOrNone(have), key)
		}
		return
	}
	dep, ok := strings.CutSuffix(name, "-secrets")
	if !ok {
		return // a Secret the app manages itself
	}
	if _, required := p.requirement(dep); !required {
		p.add(p.dir, p.file(f), line, Error, RuleSecretKey, "secretKeyRef %s: deploy creates only %s and copies the Secrets of what the app requires (%s); require %s or use a key of %s", name, own, listOrNone(p.requiredTypes()), dep, own)
		return
	}
	dm := p.byType[dep]
	if dm == nil {
		return // the dependency is not in this directory; nothing to check against
	}
	keys := secretKeys(dm)
	if !slices.Contains(keys, key) {
		p.add(p.dir, p.file(f), line, Error, RuleSecretKey, "secretKeyRef %s/%s: %s's defaultSecrets has no %q (it has %s)", name, key, dep, key, listOrNone(keys))
	}
}

func (p *pkgLint) ownSecretKeys() []string {
	out := secretKeys(p.m)
	return append(out, p.m.RequiredSecrets...)
}

func secretKeys(m *catalog.Manifest) []string {
	var out []string
	for _, s := range m.DefaultSecrets {
		out = append(out, s.Key)
	}
	return out
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// requirement finds the requires entry for an app type.
func (p *pkgLint) requirement(typ string) (string, bool) {
	for _, r := range p.m.Requires {
		if r.Name == typ {
			return r.Ref(), true
		}
	}
	return "", false
}

func (p *pkgLint) requiredTypes() []string {
	var out []string
	for _, r := range p.m.Requires {
		out = append(out, r.Name)
	}
	return out
}

// requiredSecrets checks each requiredSecrets entry against the
// dependency's defaultSecrets.
func (p *pkgLint) requiredSecrets() {
	for _, rs := range p.m.RequiredSecrets {
		ref, key, _ := strings.Cut(rs, ".")
		r, ok := p.m.Requirement(ref)
		if !ok {
			continue // the manifest parser reports it
		}
		dm := p.byType[r.Name]
		if dm == nil {
			continue
		}
		if keys := secretKeys(dm); !slices.Contains(keys, key) {
			p.add(p.dir, p.file("manifest.yaml"), p.manifestLine(rs), Error, RuleRequiredSecret, "requiredSecrets %s: %s's defaultSecrets has no %q (it has %s)", rs, r.Name, key, listOrNone(keys))
		}
	}
}

// manifestLine finds the line of text in the package's manifest.
func (p *pkgLint) manifestLine(text string) int {
	// manifests are small; reading again keeps pkgLint free of a copy.
	return lineContaining(p.fsys, "manifest.yaml", text)
}

// manifestTemplates checks the templates in defaultConfig and
// defaultSecrets: what they may see is .cloud, .cluster, .operator, .app,
// .apps.<ref> and (defaultSecrets only) .secrets.
func (p *pkgLint) manifestTemplates() {
	file := p.file("manifest.yaml")
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "{{") {
			p.manifestFields(file, n.Line, n.Value, false)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	if p.m.DefaultConfig != nil {
		walk(p.m.DefaultConfig)
	}
	for _, s := range p.m.DefaultSecrets {
		if s.HasDefault {
			p.manifestFields(file, s.Line, s.Default, true)
		}
	}
}

func (p *pkgLint) manifestFields(file string, line int, text string, secrets bool) {
	fields, err := render.Fields(file, line, text)
	if err != nil {
		p.add(p.dir, file, line, Error, RuleTemplate, "%v", err)
		return
	}
	for _, f := range fields {
		if f.Guarded {
			continue
		}
		if msg := p.manifestField(f.Path, secrets); msg != "" {
			p.add(p.dir, file, f.Line, Error, RuleTemplateKey, ".%s: %s", strings.Join(f.Path, "."), msg)
		}
	}
}

func (p *pkgLint) manifestField(path []string, secrets bool) string {
	switch path[0] {
	case "cloud", "cluster", "operator":
		return ""
	case "app":
		if len(path) > 1 && !configHas(p.m.DefaultConfig, path[1:]) {
			return "not defined in defaultConfig"
		}
		return ""
	case "secrets":
		if !secrets {
			return ".secrets is only visible to defaultSecrets templates"
		}
		if len(path) > 1 && !slices.Contains(p.ownSecretKeys(), path[1]) && !p.isRef(path[1]) {
			return "not a key of defaultSecrets or requiredSecrets"
		}
		return ""
	case "apps":
		if len(path) < 2 {
			return ""
		}
		r, ok := p.m.Requirement(path[1])
		if !ok {
			return "manifest templates see .apps.<ref> only for the refs in requires (" + listOrNone(p.refs()) + ")"
		}
		if dm := p.byType[r.Name]; dm != nil && len(path) > 2 && !configHas(dm.DefaultConfig, path[2:]) {
			return r.Name + "'s defaultConfig has no " + strings.Join(path[2:], ".")
		}
		return ""
	}
	return "manifest templates see .cloud, .cluster, .operator, .app and .apps.<ref>; use .app." + strings.Join(path, ".") + " for the app's own config"
}

func (p *pkgLint) isRef(s string) bool {
	_, ok := p.m.Requirement(s)
	return ok
}

func (p *pkgLint) refs() []string {
	var out []string
	for _, r := range p.m.Requires {
		out = append(out, r.Ref())
	}
	return out
}

// restore checks the restore: declaration against the package's data.
func (p *pkgLint) restore() {
	mf := p.file("manifest.yaml")
	r := p.m.Restore
	hasDB := p.dbInit != nil
	if r == nil {
		if len(p.pvcs) == 0 && !hasDB {
			return
		}
		what := []string{}
		if hasDB {
			what = append(what, "a database (db-init Job)")
		}
		for _, n := range sortedKeys(p.pvcs) {
			what = append(what, "volume "+n)
		}
		p.add(p.dir, mf, 1, Warning, RuleRestoreMissing, "the app has data (%s) but no restore: declaration; add restore: {databases: [{configKey: dbName, secretKeys: [...]}], volumes: [PVC names]} so a restore patches it deterministically", strings.Join(what, ", "))
		return
	}
	line := p.manifestLine("restore:")
	for _, v := range r.Volumes {
		if _, ok := p.pvcs[v]; !ok {
			p.add(p.dir, mf, line, Error, RuleRestoreVolume, "restore.volumes names %q, but the package has no PersistentVolumeClaim of that name (it has %s)", v, listOrNone(sortedKeys(p.pvcs)))
		}
	}
	for _, n := range sortedKeys(p.pvcs) {
		if !slices.Contains(r.Volumes, n) {
			l := p.pvcs[n]
			p.add(p.dir, l.file, l.line, Warning, RuleRestoreMissing, "PersistentVolumeClaim %s is not in restore.volumes", n)
		}
	}
	if hasDB && len(r.Databases) == 0 {
		p.add(p.dir, p.dbInit.file, p.dbInit.line, Warning, RuleRestoreMissing, "the package creates a database but restore.databases is empty; declare the config key holding its name")
	}
}

func lineContaining(fsys fs.FS, file, text string) int {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return 0
	}
	for i, ln := range strings.Split(string(b), "\n") {
		if strings.Contains(ln, text) {
			return i + 1
		}
	}
	return 1
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
