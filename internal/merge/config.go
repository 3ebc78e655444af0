package merge

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// ConfigChange is one config key an update touched or looked at.
type ConfigChange struct {
	Key string `json:"key"` // dotted, relative to the merged section
	// Change: created (a new key), configured (followed the new default),
	// kept (your value stays; the default changed), pruned (an accepted
	// removal), renamed.
	Change change.Action `json:"change"`
	Old    string        `json:"old,omitempty"`
	New    string        `json:"new,omitempty"`
	// NewDefault is set for "kept": what the package now ships.
	NewDefault string `json:"newDefault,omitempty"`
}

// RemovedKey is a default key the new package dropped while the section
// still holds a value for it: a breaking change.
type RemovedKey struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	RenamedTo string `json:"renamedTo,omitempty"` // a likely new name, if one looks renamed
}

// ConfigMerge is the three-way merge of one section of a config document:
// base is the old package's rendered defaults, theirs the new package's,
// and ours the section of doc at Section. It edits doc through its paths,
// so comments, key order and anchors elsewhere in the file survive.
type ConfigMerge struct {
	Doc     *yamldoc.Doc
	Section []string
	// Renames moves values across renamed keys before the merge
	// (old=new, relative to the section).
	Renames map[string]string
	// AcceptRemoved deletes the values of keys the new package dropped;
	// otherwise they stay and are reported as Removed.
	AcceptRemoved bool
}

// ConfigResult is what a merge changed, sorted by key, and the removed
// keys it left in place.
type ConfigResult struct {
	Changes []ConfigChange
	Removed []RemovedKey
}

// Run merges base and theirs into the section.
func (m *ConfigMerge) Run(base, theirs *yaml.Node) (ConfigResult, error) {
	var res ConfigResult
	renamed, err := m.applyRenames()
	if err != nil {
		return res, err
	}
	if err := m.merge(&res, base, theirs, nil); err != nil {
		return res, err
	}
	guessRenames(&res, base)
	res.Changes = append(renamed, res.Changes...)
	if m.AcceptRemoved {
		for _, r := range res.Removed {
			if m.Doc.Delete(m.path(strings.Split(r.Key, "."))) {
				res.Changes = append(res.Changes, ConfigChange{Key: r.Key, Change: change.Pruned, Old: r.Value})
			}
		}
		res.Removed = nil
	}
	slices.SortStableFunc(res.Changes, func(a, b ConfigChange) int { return strings.Compare(a.Key, b.Key) })
	return res, nil
}

func (m *ConfigMerge) path(rel []string) []string {
	return append(slices.Clone(m.Section), rel...)
}

func (m *ConfigMerge) merge(res *ConfigResult, base, theirs *yaml.Node, rel []string) error {
	for i := 0; i+1 < len(theirs.Content); i += 2 {
		key, tv := theirs.Content[i].Value, theirs.Content[i+1]
		p := append(slices.Clone(rel), key)
		k := strings.Join(p, ".")
		bv, _ := yamldoc.Lookup(base, []string{key})
		ov, _ := m.Doc.Get(m.path(p))
		switch {
		case ov == nil:
			if err := m.Doc.Set(m.path(p), tv); err != nil {
				return err
			}
			res.Changes = append(res.Changes, ConfigChange{Key: k, Change: change.Created, New: Show(tv)})
		case ov.Kind == yaml.MappingNode && tv.Kind == yaml.MappingNode:
			if bv == nil || bv.Kind != yaml.MappingNode {
				bv = &yaml.Node{Kind: yaml.MappingNode}
			}
			if err := m.merge(res, bv, tv, p); err != nil {
				return err
			}
		case Same(ov, tv):
		case bv != nil && Same(bv, ov):
			// The user never changed it: follow the new default (an image
			// tag bump reaches them).
			res.Changes = append(res.Changes, ConfigChange{Key: k, Change: change.Configured, Old: Show(ov), New: Show(tv)})
			if err := m.Doc.Set(m.path(p), tv); err != nil {
				return err
			}
		case bv == nil || !Same(bv, tv):
			res.Changes = append(res.Changes, ConfigChange{Key: k, Change: change.Kept, Old: Show(ov), NewDefault: Show(tv)})
		}
	}
	if base == nil {
		return nil
	}
	for i := 0; i+1 < len(base.Content); i += 2 {
		key := base.Content[i].Value
		if v, _ := yamldoc.Lookup(theirs, []string{key}); v != nil {
			continue
		}
		p := append(slices.Clone(rel), key)
		if ov, ok := m.Doc.Get(m.path(p)); ok {
			res.Removed = append(res.Removed, RemovedKey{Key: strings.Join(p, "."), Value: Show(ov)})
		}
	}
	return nil
}

// guessRenames pairs each removed key with an added sibling whose new
// default equals the removed key's old default.
func guessRenames(res *ConfigResult, base *yaml.Node) {
	for i, r := range res.Removed {
		bv, ok := yamldoc.Lookup(base, strings.Split(r.Key, "."))
		if !ok {
			continue
		}
		for _, c := range res.Changes {
			if c.Change == change.Created && parentKey(c.Key) == parentKey(r.Key) && c.New == Show(bv) {
				res.Removed[i].RenamedTo = c.Key
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

// applyRenames carries values across renamed keys before the merge.
func (m *ConfigMerge) applyRenames() ([]ConfigChange, error) {
	var out []ConfigChange
	olds := make([]string, 0, len(m.Renames))
	for k := range m.Renames {
		olds = append(olds, k)
	}
	slices.Sort(olds)
	for _, oldKey := range olds {
		newKey := m.Renames[oldKey]
		op, err := yamldoc.ParsePath(oldKey)
		if err != nil {
			return nil, fmt.Errorf("rename %s=%s: %w", oldKey, newKey, err)
		}
		np, err := yamldoc.ParsePath(newKey)
		if err != nil {
			return nil, fmt.Errorf("rename %s=%s: %w", oldKey, newKey, err)
		}
		v, ok := m.Doc.Get(m.path(op))
		if !ok {
			return nil, fmt.Errorf("rename %s=%s: the app's config has no %s", oldKey, newKey, oldKey)
		}
		v = yamldoc.Clone(v)
		m.Doc.Delete(m.path(op))
		if err := m.Doc.Set(m.path(np), v); err != nil {
			return nil, fmt.Errorf("rename %s=%s: %w", oldKey, newKey, err)
		}
		out = append(out, ConfigChange{Key: newKey, Change: change.Renamed, Old: oldKey, New: Show(v)})
	}
	return out, nil
}

// Same compares decoded values, so quoting style and comments don't count
// as changes.
func Same(a, b *yaml.Node) bool {
	va, err1 := yamldoc.ToValue(a)
	vb, err2 := yamldoc.ToValue(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(va, vb)
}

// Show renders a value on one line for a review.
func Show(n *yaml.Node) string {
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
