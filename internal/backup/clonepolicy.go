package backup

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
)

// CarryPolicy is what a clone takes from the source instance's backup
// into the target's config and secrets; everything else is the target's
// own. No secret value is in Notes.
type CarryPolicy struct {
	// Config maps keys relative to apps.APP to values in the form
	// `wild app add --set KEY=VALUE` reads.
	Config map[string]string
	// Secrets are the values of the manifest's restore.dataSecrets keys.
	Secrets map[string]string
	// MissingSecrets are dataSecrets keys the backup does not hold.
	MissingSecrets []string
	// Notes say which differing config keys stay the target's, and why.
	Notes []string
}

// ClonePolicy decides what crosses from the source's backed-up config
// and secrets (src, srcSecrets: the app's sections) into the target,
// whose own defaults for the app are target:
//
//   - Config keys whose default in the manifest is a template are the
//     target's: they derive from the instance (domain, hosts, the
//     dependencies' addresses, cluster images).
//   - namespace is the target's: it is where the target places the app.
//   - A value naming the source's domain is never carried: it is one of
//     the source's hosts.
//   - Every other value that differs from the target's default (a
//     setting the source's owner chose, like disableRegistration) is
//     carried. Lists and maps are not; the notes say so.
//   - Secrets are the target's own (database passwords, admin tokens),
//     except the manifest's restore.dataSecrets: keys the data is
//     encrypted or signed with, which the data cannot live without.
func ClonePolicy(m *catalog.Manifest, src, srcSecrets, target map[string]any, srcDomain string) CarryPolicy {
	p := CarryPolicy{Config: map[string]string{}, Secrets: map[string]string{}}
	for _, key := range leafKeys(src, "") {
		v := lookup(src, key)
		if v == nil || fmt.Sprint(v) == fmt.Sprint(lookup(target, key)) {
			continue
		}
		why := keepTargets(m, key, v, srcDomain)
		if why != "" {
			p.Notes = append(p.Notes, key+": "+why)
			continue
		}
		p.Config[key] = setValue(v)
	}
	if m.Restore != nil {
		for _, k := range m.Restore.DataSecrets {
			v := lookup(srcSecrets, k)
			if v == nil || fmt.Sprint(v) == "" {
				p.MissingSecrets = append(p.MissingSecrets, k)
				continue
			}
			p.Secrets[k] = fmt.Sprint(v)
		}
	}
	return p
}

// keepTargets says why key stays the target's, or "" to carry it.
func keepTargets(m *catalog.Manifest, key string, v any, srcDomain string) string {
	switch {
	case key == "namespace":
		return "the target's own (where it places the app)"
	case templated(m.DefaultConfig, key):
		return "the target's own (its default derives from the instance)"
	}
	switch v.(type) {
	case map[string]any, []any:
		return "not carried (a list or map); set it by hand if needed"
	}
	if s, ok := v.(string); ok && srcDomain != "" && strings.Contains(s, srcDomain) {
		return "not carried: it names the source's domain " + srcDomain
	}
	return ""
}

// templated reports whether the defaultConfig value at the dotted key
// is a template.
func templated(n *yaml.Node, dotted string) bool {
	for _, part := range strings.Split(dotted, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n != nil && n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "{{")
}

// leafKeys lists the dotted keys of a config section's values, sorted;
// a list is one leaf.
func leafKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			out = append(out, leafKeys(sub, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	sort.Strings(out)
	return out
}

func lookup(m map[string]any, dotted string) any {
	var cur any = m
	for _, part := range strings.Split(dotted, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[part]
	}
	return cur
}

// setValue writes v so that yamldoc.ParseValue (what --set uses) reads
// it back with its type: a string stays a string even when it reads
// like a number or a bool.
func setValue(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprint(v)
	}
	if strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strconv.Quote(s)
}
