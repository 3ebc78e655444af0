package render

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Node renders every string scalar of a YAML tree (a manifest's
// defaultConfig, say) and returns a rendered copy; n is not modified.
// Errors name file and the scalar's line. Keys are not templates.
func (e *Engine) Node(file string, n *yaml.Node, data any) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	out := *n
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!str" && n.Tag != "" || !strings.Contains(n.Value, "{{") {
			return &out, nil
		}
		v, err := e.String(file, scalarLine(n), n.Value, data)
		if err != nil {
			return nil, err
		}
		out.Value = v
		return &out, nil
	case yaml.MappingNode, yaml.SequenceNode, yaml.DocumentNode:
		out.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				out.Content[i] = c // a key
				continue
			}
			r, err := e.Node(file, c, data)
			if err != nil {
				return nil, err
			}
			out.Content[i] = r
		}
	}
	return &out, nil
}

// scalarLine is the line where a scalar's text starts: block scalars
// (| and >) start on the line after their indicator.
func scalarLine(n *yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1
	}
	return n.Line
}
