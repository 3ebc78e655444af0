package lifecycle

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// ConfigChange is one config key an update touched or looked at.
type ConfigChange struct {
	Key string `json:"key"` // dotted, relative to apps.<app>
	// Change: added, updated (followed the new default), kept (your value
	// stays; the default changed), removed (--accept-removed), renamed.
	Change string `json:"change"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
	// NewDefault is set for "kept": what the package now ships.
	NewDefault string `json:"newDefault,omitempty"`
}

// RemovedKey is a defaultConfig key the new package dropped while the
// instance still holds a value for it: a breaking change.
type RemovedKey struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	RenamedTo string `json:"renamedTo,omitempty"` // a likely new name, if one looks renamed
}

// configMerge is the three-way merge of one app's config section, done on
// the yaml.Node tree of config.yaml so comments and key order survive:
// base is the old package's rendered defaultConfig, ours the instance's
// section, theirs the new package's rendered defaultConfig.
type configMerge struct {
	changes []ConfigChange
	removed []RemovedKey
}

// merge edits ours in place.
func (cm *configMerge) merge(base, ours, theirs *yaml.Node, prefix string) {
	for i := 0; i+1 < len(theirs.Content); i += 2 {
		key, tv := theirs.Content[i].Value, theirs.Content[i+1]
		p := join(prefix, key)
		bv := mapGet(base, key)
		ov := mapGet(ours, key)
		switch {
		case ov == nil:
			ours.Content = append(ours.Content, strKey(key), yamldoc.Clone(tv))
			cm.changes = append(cm.changes, ConfigChange{Key: p, Change: "added", New: show(tv)})
		case ov.Kind == yaml.MappingNode && tv.Kind == yaml.MappingNode:
			if bv == nil || bv.Kind != yaml.MappingNode {
				bv = &yaml.Node{Kind: yaml.MappingNode}
			}
			cm.merge(bv, ov, tv, p)
		case sameValue(ov, tv):
			// nothing to do
		case bv != nil && sameValue(bv, ov):
			// The user never changed it: follow the new default (an image
			// tag bump reaches them).
			cm.changes = append(cm.changes, ConfigChange{Key: p, Change: "updated", Old: show(ov), New: show(tv)})
			replaceValue(ours, key, tv)
		case bv == nil || !sameValue(bv, tv):
			cm.changes = append(cm.changes, ConfigChange{Key: p, Change: "kept", Old: show(ov), NewDefault: show(tv)})
		}
	}
	if base == nil {
		return
	}
	for i := 0; i+1 < len(base.Content); i += 2 {
		key := base.Content[i].Value
		if mapGet(theirs, key) != nil {
			continue
		}
		if ov := mapGet(ours, key); ov != nil {
			cm.removed = append(cm.removed, RemovedKey{Key: join(prefix, key), Value: show(ov)})
		}
	}
}

// guessRenames pairs each removed key with an added sibling whose new
// default equals the removed key's old default.
func (cm *configMerge) guessRenames(base *yaml.Node) {
	for i, r := range cm.removed {
		bv := lookupNode(base, r.Key)
		if bv == nil {
			continue
		}
		parent := parentKey(r.Key)
		for _, c := range cm.changes {
			if c.Change == "added" && parentKey(c.Key) == parent && c.New == show(bv) {
				cm.removed[i].RenamedTo = c.Key
				break
			}
		}
	}
}

func parentKey(k string) string {
	if i := strings.LastIndex(k, "."); i >= 0 {
		return k[:i]
	}
	return ""
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func lookupNode(m *yaml.Node, dotted string) *yaml.Node {
	for _, k := range strings.Split(dotted, ".") {
		if m = mapGet(m, k); m == nil {
			return nil
		}
	}
	return m
}

// replaceValue swaps a key's value, keeping the comments written next to
// it in config.yaml.
func replaceValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			old := m.Content[i+1]
			n := yamldoc.Clone(v)
			n.HeadComment, n.LineComment, n.FootComment = old.HeadComment, old.LineComment, old.FootComment
			m.Content[i+1] = n
			return
		}
	}
}

func strKey(k string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k} }

// sameValue compares decoded values, so "8080" written with or without
// quotes style differences and comments don't count as changes.
func sameValue(a, b *yaml.Node) bool {
	va, err1 := yamldoc.ToValue(a)
	vb, err2 := yamldoc.ToValue(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(va, vb)
}

// show renders a value on one line for the review.
func show(n *yaml.Node) string {
	v, err := yamldoc.ToValue(n)
	if err != nil {
		return "?"
	}
	switch t := v.(type) {
	case string:
		return t
	case map[string]any, []any:
		b, _ := yaml.Marshal(v)
		return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "; ")
	}
	return fmt.Sprint(v)
}

// applyRenames carries values across renamed keys before the merge:
// old=new moves the instance's value at old to new (keys relative to the
// app section).
func applyRenames(section *yaml.Node, renames map[string]string) ([]ConfigChange, error) {
	var out []ConfigChange
	for _, oldKey := range sortedKeys(renames) {
		newKey := renames[oldKey]
		op, err := yamldoc.ParsePath(oldKey)
		if err != nil {
			return nil, problem.Wrap(problem.Invalid, err, "rename "+oldKey+"="+newKey)
		}
		np, err := yamldoc.ParsePath(newKey)
		if err != nil {
			return nil, problem.Wrap(problem.Invalid, err, "rename "+oldKey+"="+newKey)
		}
		v := lookupNode(section, oldKey)
		if v == nil {
			return nil, problem.New(problem.Invalid, fmt.Sprintf("rename %s=%s: the app's config has no %s", oldKey, newKey, oldKey))
		}
		deletePath(section, op)
		if err := setPath(section, np, yamldoc.Clone(v)); err != nil {
			return nil, problem.Wrap(problem.Invalid, err, "rename "+oldKey+"="+newKey)
		}
		out = append(out, ConfigChange{Key: newKey, Change: "renamed", Old: oldKey, New: show(v)})
	}
	return out, nil
}

// deleteKeys drops the removed keys the user accepted to lose.
func deleteKeys(section *yaml.Node, keys []RemovedKey) []ConfigChange {
	var out []ConfigChange
	for _, k := range keys {
		if deletePath(section, strings.Split(k.Key, ".")) {
			out = append(out, ConfigChange{Key: k.Key, Change: "removed", Old: k.Value})
		}
	}
	return out
}

func deletePath(m *yaml.Node, p []string) bool {
	parent := m
	for _, k := range p[:len(p)-1] {
		if parent = mapGet(parent, k); parent == nil {
			return false
		}
	}
	if parent.Kind != yaml.MappingNode {
		return false
	}
	key := p[len(p)-1]
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == key {
			parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
			return true
		}
	}
	return false
}

func setPath(m *yaml.Node, p []string, v *yaml.Node) error {
	for i, k := range p[:len(p)-1] {
		next := mapGet(m, k)
		if next == nil {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content = append(m.Content, strKey(k), next)
		}
		if next.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is a value, not a mapping", strings.Join(p[:i+1], "."))
		}
		m = next
	}
	key := p[len(p)-1]
	if mapGet(m, key) != nil {
		replaceValue(m, key, v)
		return nil
	}
	m.Content = append(m.Content, strKey(key), v)
	return nil
}

func sortChanges(c []ConfigChange) {
	sort.SliceStable(c, func(i, j int) bool { return c[i].Key < c[j].Key })
}
