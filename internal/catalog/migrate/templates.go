package migrate

import (
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/lazyre"
)

var (
	action = lazyre.New(`\{\{.*?\}\}`)
	// (prefix)(\$?).apps.X.path — prefix keeps .apps from matching inside
	// a longer chain such as $x.apps.
	appsField = lazyre.New(`(^|[^A-Za-z0-9_)\]])(\$?)\.apps\.([a-z0-9]+(?:-[a-z0-9]+)*)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)`)
	globField = lazyre.New(`(^|[^A-Za-z0-9_)\]])(\$?)\.(cloud|cluster|operator)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)`)
)

// rewriteActions applies fn to each {{ }} action of a line.
func rewriteActions(line string, fn func(string) string) string {
	return action().ReplaceAllStringFunc(line, fn)
}

// defaultConfig converts values: numbers become strings, templates use the
// manifest's view (.app for the app's own config, .apps.<ref> for a
// dependency), and hard-coded dependency hosts become templates.
func (c *conv) defaultConfig() {
	if ds := c.get("defaultSecrets"); ds != nil {
		for _, it := range ds.Content {
			for i := 0; i+1 < len(it.Content); i += 2 {
				if it.Content[i].Value == "default" && it.Content[i+1].Kind == yaml.ScalarNode {
					c.configValue("defaultSecrets "+mapStr(it, "key"), it.Content[i+1])
				}
			}
		}
	}
	n := c.get("defaultConfig")
	if n == nil {
		return
	}
	var walk func(path string, n *yaml.Node)
	walk = func(path string, n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(path+"."+n.Content[i].Value, n.Content[i+1])
			}
		case yaml.SequenceNode:
			for _, it := range n.Content {
				walk(path, it)
			}
		case yaml.ScalarNode:
			c.configValue(path, n)
		}
	}
	walk("defaultConfig", n)
}

func (c *conv) configValue(path string, n *yaml.Node) {
	if n.Tag == "!!int" || n.Tag == "!!float" {
		n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
		c.changed(mf, n.Line, "%s: the number %s written as the string \"%s\" (config values are strings)", path, n.Value, n.Value)
	}
	if n.Tag != "!!str" {
		return
	}
	v := n.Value
	for _, t := range slices.Sorted(mapsKeys(c.deps)) {
		h := c.deps[t].Host
		if h == "" {
			continue
		}
		ref, ok := c.refOf(t)
		if !ok {
			continue
		}
		for _, form := range []string{h, strings.TrimSuffix(h, ".cluster.local")} {
			if strings.Contains(v, form) {
				v = replaceHost(v, form, "{{ .apps."+ref+".host }}")
			}
		}
	}
	v = rewriteActions(v, func(a string) string {
		a = appsField().ReplaceAllStringFunc(a, func(m string) string {
			s := appsField().FindStringSubmatch(m)
			pre, dollar, x, rest := s[1], s[2], s[3], s[4]
			if x == c.name {
				return pre + dollar + ".app" + rest
			}
			if ref, ok := c.refOf(x); ok {
				c.checkDepConfig(ref, rest, mf, n.Line)
				return pre + dollar + ".apps." + ref + rest
			}
			return m
		})
		return a
	})
	if v != n.Value {
		c.changed(mf, n.Line, "%s: %q written as %q", path, n.Value, v)
		n.Value, n.Style = v, yaml.DoubleQuotedStyle
	}
}

// replaceHost replaces a hostname only where it stands alone (not inside
// a longer name).
func replaceHost(s, host, with string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, host)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(host)
		before := i == 0 || !hostChar(rune(s[i-1]))
		after := end == len(s) || !hostChar(rune(s[end])) || s[end] == '.' && !strings.HasPrefix(s[end:], ".svc")
		b.WriteString(s[:i])
		if before && after {
			b.WriteString(with)
		} else {
			b.WriteString(host)
		}
		s = s[end:]
	}
}

func hostChar(r rune) bool {
	return r == '-' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (c *conv) checkDepConfig(ref, rest, file string, line int) {
	key := strings.Split(strings.TrimPrefix(rest, "."), ".")[0]
	if d := c.deps[c.typeOf(ref)]; d != nil && !slices.Contains(d.Config, key) {
		c.human(file, line, "%s's config has no %q (it has %s)", d.Is, key, strings.Join(d.Config, ", "))
	}
}

// configKeyFor returns a top-level defaultConfig key whose value is
// {{ expr }}, adding one named after expr when there is none.
func (c *conv) configKeyFor(expr, file string, line int) string {
	n := c.get("defaultConfig")
	if n == nil || n.Kind != yaml.MappingNode {
		n = &yaml.Node{Kind: yaml.MappingNode}
		c.set("defaultConfig", n)
	}
	want := "{{ " + expr + " }}"
	for i := 0; i+1 < len(n.Content); i += 2 {
		if strings.TrimSpace(n.Content[i+1].Value) == want {
			return n.Content[i].Value
		}
	}
	base := camel(expr)
	key := base
	for i := 2; mapStr(n, key) != ""; i++ {
		key = base + string(rune('0'+i))
	}
	n.Content = append(n.Content, str(key), quoted(want))
	c.changed(mf, 0, "defaultConfig: added %s: %q, because %s used %s and resource templates see only the app's own config", key, want, file, expr)
	return key
}

// depKeyNames follow the bundled catalog: a dependency's user is the
// admin user the db-init Job connects as, its image runs that Job.
var depKeyNames = map[string]string{"user": "adminUser", "image": "initImage"}

// camel names a key after an expression: .apps.db.host -> dbHost,
// .apps.db.user -> dbAdminUser, .cloud.domain -> cloudDomain.
func camel(expr string) string {
	parts := strings.Split(strings.TrimPrefix(expr, "."), ".")
	if parts[0] == "apps" {
		parts = parts[1:]
		if len(parts) == 2 && depKeyNames[parts[1]] != "" {
			parts[1] = depKeyNames[parts[1]]
		}
	}
	var b strings.Builder
	for i, p := range parts {
		p = strings.ReplaceAll(p, "-", "")
		if i > 0 && p != "" {
			p = strings.ToUpper(p[:1]) + p[1:]
		}
		b.WriteString(p)
	}
	return b.String()
}

// resource converts one resource file: templates see only the app's
// config, hard-coded dependency hosts become config, and secretKeyRef keys
// are the keys deploy creates.
func (c *conv) resource(f string, data []byte) []byte {
	lines := strings.Split(string(data), "\n")
	for i, ln := range lines {
		orig := ln
		ln = c.resourceHosts(f, i+1, ln)
		ln = rewriteActions(ln, func(a string) string { return c.resourceAction(f, i+1, a) })
		if ln != orig {
			c.changed(f, i+1, "%s -> %s", strings.TrimSpace(orig), strings.TrimSpace(ln))
		}
		lines[i] = ln
	}
	c.secretKeyRefs(f, lines)
	return []byte(strings.Join(lines, "\n"))
}

func (c *conv) resourceHosts(f string, line int, ln string) string {
	for _, t := range slices.Sorted(mapsKeys(c.deps)) {
		h := c.deps[t].Host
		ref, ok := c.refOf(t)
		if h == "" || !ok {
			continue
		}
		for _, form := range []string{h, strings.TrimSuffix(h, ".cluster.local")} {
			if strings.Contains(ln, form) && !strings.Contains(ln, "{{") {
				key := c.configKeyFor(".apps."+ref+".host", f, line)
				ln = replaceHost(ln, form, "{{ ."+key+" }}")
			}
		}
	}
	return ln
}

func (c *conv) resourceAction(f string, line int, a string) string {
	a = appsField().ReplaceAllStringFunc(a, func(m string) string {
		s := appsField().FindStringSubmatch(m)
		pre, dollar, x, rest := s[1], s[2], s[3], s[4]
		if x == c.name {
			if key := strings.Split(rest[1:], ".")[0]; !c.hasConfig(key) {
				c.human(f, line, ".apps.%s%s: %s is not in defaultConfig; add it there", x, rest, key)
			}
			return pre + dollar + rest
		}
		ref, ok := c.refOf(x)
		if !ok {
			return m
		}
		c.checkDepConfig(ref, rest, f, line)
		return pre + dollar + "." + c.configKeyFor(".apps."+ref+rest, f, line)
	})
	return globField().ReplaceAllStringFunc(a, func(m string) string {
		s := globField().FindStringSubmatch(m)
		return s[1] + s[2] + "." + c.configKeyFor("."+s[3]+s[4], f, line)
	})
}

func (c *conv) hasConfig(key string) bool {
	n := c.get("defaultConfig")
	return n != nil && slices.ContainsFunc(n.Content, func(k *yaml.Node) bool { return k.Value == key })
}

var (
	keyLine  = lazyre.New(`^(\s*(?:- )?key:\s*)(["']?)(apps\.[^"'\s]+)(["']?)\s*$`)
	nameLine = lazyre.New(`^\s*(?:- )?name:\s*["']?([^"'\s]+)["']?\s*$`)
)

// secretKeyRefs rewrites full-path keys in secretKeyRef blocks.
func (c *conv) secretKeyRefs(f string, lines []string) {
	for i, ln := range lines {
		m := keyLine().FindStringSubmatch(ln)
		if m == nil || !nearSecretKeyRef(lines, i) {
			continue
		}
		secret := ""
		for j := max(0, i-3); j < min(len(lines), i+4); j++ {
			if nm := nameLine().FindStringSubmatch(lines[j]); nm != nil && j != i && indent(lines[j]) == indent(strings.Replace(ln, "- ", "  ", 1)) {
				secret = nm[1]
			}
		}
		x, key, _ := strings.Cut(strings.TrimPrefix(m[3], "apps."), ".")
		var nk string
		switch {
		case x == c.name:
			nk = key
			if c.defaultSecret(key) {
				c.human(mf, 0, "secret %s was used (%s:%d) but never declared; it is now generated at add: give it a default if it must hold a given value", key, f, i+1)
			}
		case secret == c.name+"-secrets":
			ref, ok := c.refOf(x)
			if !ok {
				continue
			}
			nk = ref + "." + key
			if c.requiredSecret(nk) {
				c.changed(mf, 0, "requiredSecrets: added %s, copied from the dependency at add, for %s:%d", nk, f, i+1)
			}
			c.checkDepSecret(ref, key, f, i+1)
		default:
			ref, ok := c.refOf(x)
			if !ok {
				continue
			}
			nk = key
			c.checkDepSecret(ref, key, f, i+1)
		}
		lines[i] = m[1] + m[2] + nk + m[4]
		c.changed(f, i+1, "secretKeyRef %s key %s written as %s (the key deploy creates)", secret, m[3], nk)
	}
}

func nearSecretKeyRef(lines []string, i int) bool {
	for j := max(0, i-3); j < i; j++ {
		if strings.TrimSpace(lines[j]) == "secretKeyRef:" {
			return true
		}
	}
	return false
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
