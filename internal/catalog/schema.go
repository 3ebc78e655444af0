package catalog

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field is one leaf of an app's defaultConfig, described for a form: its
// dotted path under the app's config, its type, and its default. A
// templated default ("{{ .cloud.domain }}") keeps its template text; its
// value is only known once rendered against an instance.
type Field struct {
	Path      string `json:"path"`
	Type      string `json:"type"` // string, integer, number, boolean, array, object
	Default   any    `json:"default,omitempty"`
	Templated bool   `json:"templated,omitempty"`
}

// ConfigSchema infers the form fields of m's defaultConfig, in file order.
func ConfigSchema(m *Manifest) []Field {
	if m.DefaultConfig == nil {
		return nil
	}
	var out []Field
	walkFields(m.DefaultConfig, "", &out)
	return out
}

func walkFields(n *yaml.Node, prefix string, out *[]Field) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 && prefix != "" {
			*out = append(*out, Field{Path: prefix, Type: "object"})
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkFields(n.Content[i+1], joinPath(prefix, n.Content[i].Value), out)
		}
	case yaml.SequenceNode:
		var items []any
		_ = n.Decode(&items)
		*out = append(*out, Field{Path: prefix, Type: "array", Default: items})
	case yaml.ScalarNode:
		*out = append(*out, scalarField(prefix, n))
	}
}

func scalarField(path string, n *yaml.Node) Field {
	f := Field{Path: path, Type: "string", Default: n.Value}
	if strings.Contains(n.Value, "{{") {
		f.Templated = true
		return f
	}
	switch n.ShortTag() {
	case "!!int":
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			f.Type, f.Default = "integer", v
		}
	case "!!float":
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
			f.Type, f.Default = "number", v
		}
	case "!!bool":
		if v, err := strconv.ParseBool(n.Value); err == nil {
			f.Type, f.Default = "boolean", v
		}
	case "!!null":
		f.Default = nil
	}
	return f
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
