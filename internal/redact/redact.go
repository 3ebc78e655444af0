// Package redact removes secret values from text that is about to be
// printed or recorded: errors, operation records.
package redact

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Mark replaces a secret value.
const Mark = "[redacted]"

// minLen: shorter values would blank out ordinary words of a message and
// hide nothing worth hiding.
const minLen = 4

// String replaces every value in s, longest first so a value that holds
// another is removed whole.
func String(s string, values []string) string {
	sorted := append([]string(nil), values...)
	sort.Slice(sorted, func(a, b int) bool { return len(sorted[a]) > len(sorted[b]) })
	for _, v := range sorted {
		if len(v) >= minLen {
			s = strings.ReplaceAll(s, v, Mark)
		}
	}
	return s
}

// Values collects every scalar leaf of v (maps, lists, strings and
// numbers as decoded from YAML), and each line of a multi-line string.
func Values(v any) []string {
	var out []string
	collect(v, &out)
	return out
}

func collect(v any, out *[]string) {
	switch t := v.(type) {
	case nil:
	case string:
		*out = append(*out, t)
		if strings.Contains(t, "\n") {
			*out = append(*out, strings.Split(t, "\n")...)
		}
	case map[string]any:
		for _, x := range t {
			collect(x, out)
		}
	case map[any]any:
		for _, x := range t {
			collect(x, out)
		}
	case []any:
		for _, x := range t {
			collect(x, out)
		}
	default:
		*out = append(*out, fmt.Sprint(t))
	}
}

// Error returns err with its message redacted. errors.Is and errors.As
// still reach the original (callers branch on types), but Error() — what
// is printed and recorded — never shows the values.
func Error(err error, values []string) error {
	if err == nil {
		return nil
	}
	msg := String(err.Error(), values)
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, orig: err}
}

type redacted struct {
	msg  string
	orig error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.orig }

// FileValues reads a YAML file (secrets.yaml) and returns the text of
// every scalar value in it (not keys). It works on the node tree, so a
// value whose tag does not hold (!!int abc) is still found; a missing or
// unparseable file yields none.
func FileValues(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var n yaml.Node
	if yaml.Unmarshal(b, &n) != nil {
		return nil
	}
	var out []string
	nodeValues(&n, &out)
	return Values(anySlice(out))
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func nodeValues(n *yaml.Node, out *[]string) {
	switch n.Kind {
	case yaml.ScalarNode:
		*out = append(*out, n.Value)
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			nodeValues(n.Content[i], out)
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			nodeValues(c, out)
		}
	}
}
