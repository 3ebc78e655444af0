package lifecycle

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/render"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// Context is the data manifest.yaml templates see: .cloud, .cluster,
// .operator, .app, .apps.<ref> and (in defaultSecrets only) .secrets.
type Context struct {
	Cloud    map[string]any
	Cluster  map[string]any
	Operator map[string]any
	// Apps maps a requires ref (alias or type) to the mapped app's config.
	Apps map[string]any
}

func (c Context) data(app map[string]any, secrets map[string]any) map[string]any {
	d := map[string]any{"cloud": c.Cloud, "cluster": c.Cluster, "operator": c.Operator, "apps": c.Apps, "app": app}
	if secrets != nil {
		d["secrets"] = secrets
	}
	return d
}

// newContext builds the manifest context from config, following the
// installedAs mapping for .apps.<ref>.
func newContext(cfg map[string]any, installedAs map[string]string) Context {
	apps, _ := cfg["apps"].(map[string]any)
	c := Context{Cloud: asMap(cfg["cloud"]), Cluster: asMap(cfg["cluster"]), Operator: asMap(cfg["operator"]), Apps: map[string]any{}}
	for ref, name := range installedAs {
		c.Apps[ref] = asMap(apps[name])
	}
	return c
}

func asMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// maxPasses bounds the fixed-point rendering of defaultConfig; values that
// still change after this many passes refer to each other in a cycle.
const maxPasses = 6

// RenderDefaults renders a package's defaultConfig. Values may refer to
// .app.*, the app's final config, so rendering repeats until nothing
// changes: existing values (the user's) always win over defaults in the
// .app view.
func RenderDefaults(eng *render.Engine, m *catalog.Manifest, ctx Context, existing map[string]any) (*yaml.Node, map[string]any, error) {
	if m.DefaultConfig == nil {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, map[string]any{}, nil
	}
	file := m.Name + "/manifest.yaml"
	prev, err := yamldoc.ToValue(m.DefaultConfig)
	if err != nil {
		return nil, nil, err
	}
	for pass := 0; pass < maxPasses; pass++ {
		view := overlay(asMap(prev), existing)
		rendered, err := eng.Node(file, m.DefaultConfig, ctx.data(view, nil))
		if err != nil {
			return nil, nil, err
		}
		// Without source positions, merged keys are laid out afresh.
		node := yamldoc.Clone(rendered)
		cur, err := yamldoc.ToValue(node)
		if err != nil {
			return nil, nil, err
		}
		if reflect.DeepEqual(cur, prev) {
			return node, overlay(asMap(cur), existing), nil
		}
		prev = cur
	}
	return nil, nil, fmt.Errorf("%s: defaultConfig values refer to each other in a cycle (through .app); break the loop", file)
}

// overlay returns base with top (recursively) laid over it.
func overlay(base, top map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(top))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range top {
		if bm, ok := out[k].(map[string]any); ok {
			if tm, ok := v.(map[string]any); ok {
				out[k] = overlay(bm, tm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// ensure render.Error stays the error type callers can inspect.
var _ error = (*render.Error)(nil)
