package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

// catalog opens --directory / WILD_DIRECTORY, or the bundled catalog.
func (g *Globals) catalog() (*catalog.Catalog, error) {
	dir := g.Directory
	if dir == "" {
		dir = getenv("WILD_DIRECTORY")
	}
	if dir == "" {
		return catalog.Bundled(), nil
	}
	return catalog.OpenDir(dir)
}

// env builds the shared operation environment. Events are drawn on
// stderr so stdout stays clean for -o json/yaml.
func (g *Globals) env() (lifecycle.Env, error) {
	inst, err := g.instance()
	if err != nil {
		return lifecycle.Env{}, err
	}
	cat, err := g.catalog()
	if err != nil {
		return lifecycle.Env{}, err
	}
	return lifecycle.Env{Instance: inst, Catalog: cat, Observer: g.observer()}, nil
}

// newAppCmd is the "wild app" group; other files add subcommands to it.
func newAppCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "app",
		Short: "Add, deploy, update and delete apps from the Wild Directory",
		Long: `Apps come from the Wild Directory (the catalog). The lifecycle is:

  wild app add NAME       compile the app into the instance (config, secrets, manifests)
  wild app deploy NAME    apply it to the cluster and wait until it is ready
  wild app delete NAME    remove it from the cluster and the instance`,
	}
}

func addAppCommands(root *cobra.Command, g *Globals) {
	appCmd := newAppCmd()
	appCmd.AddCommand(appAddCmd(g), appListCmd(g), appShowCmd(g))
	root.AddCommand(appCmd)
}

func (g *Globals) appAdd(ctx context.Context, op *lifecycle.Add) (*lifecycle.AddResult, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.addApp(ctx, g, op)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	op.Env = env
	return op.Run(ctx)
}

// appAddMany adds several apps in one transaction (lifecycle.AddMany), here
// or in a Wild Central.
func (g *Globals) appAddMany(ctx context.Context, apps []string, values map[string]lifecycle.AddValues) ([]*lifecycle.AddResult, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.addApps(ctx, g, apps, values)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	res, err := (&lifecycle.AddMany{Env: env, Apps: apps, Values: values}).Run(ctx)
	if err != nil {
		return nil, err // all or none: nothing was added
	}
	return res, nil
}

func appAddCmd(g *Globals) *cobra.Command {
	var deps, sets []string
	cmd := &cobra.Command{
		Use:   "add NAME...",
		Short: "Add apps from the catalog to the instance",
		Long: `Add an app: map its dependencies to apps already added, merge its default
config into config.yaml (existing values are never overwritten), generate its
secrets (never regenerated), and compile its manifests into apps/NAME/.
Running it again recompiles and keeps every value.

Several apps are added in one transaction, all or none, in dependency order:
an app may depend on one named with it, here or through --server. With
several apps, --dep and --set name the app they are for: APP:KEY=VALUE.`,
		Example: `  wild app add postgres
  wild app add gitea                       # maps its postgres automatically
  wild app add gitea postgres redis        # all three at once, postgres and redis first
  wild app add ghost mysql --set ghost:domain=blog.example.com
  wild app add ghost --set domain=news.example.com
  wild app add ghost --dep db=mysql        # the mysql that serves its db, when several are added`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				values, err := appValues(args, deps, sets)
				if err != nil {
					return err
				}
				res, err := g.appAddMany(cmd.Context(), args, values)
				if err != nil && len(res) == 0 {
					return err
				}
				perr := g.Printer().Print(res, func(t *Table) {
					for _, r := range res {
						printAdd(t, r, false)
					}
					if err == nil {
						t.Line("next: wild app deploy %s", strings.Join(appNames(res), " "))
					}
				})
				return errors.Join(err, perr)
			}
			op := &lifecycle.Add{App: args[0]}
			var err error
			if op.Deps, err = keyValues("--dep", deps); err != nil {
				return err
			}
			if op.Set, err = keyValues("--set", sets); err != nil {
				return err
			}
			res, err := g.appAdd(cmd.Context(), op)
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) { printAdd(t, res, true) })
		},
	}
	remoteCapable(cmd)
	cmd.Flags().StringArrayVar(&deps, "dep", nil, "map a dependency: ALIAS=ADDED_APP, or APP:ALIAS=ADDED_APP with several apps (repeatable)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set a config value: KEY=VALUE, KEY relative to apps.NAME, or APP:KEY=VALUE with several apps (repeatable)")
	return cmd
}

// appValues sorts the --dep and --set of a several-app add by the app
// each names (APP:KEY=VALUE). A value without its app would be a guess.
func appValues(apps, deps, sets []string) (map[string]lifecycle.AddValues, error) {
	values := map[string]lifecycle.AddValues{}
	for _, f := range []struct {
		flag  string
		items []string
		field func(*lifecycle.AddValues) *map[string]string
	}{
		{"--dep", deps, func(v *lifecycle.AddValues) *map[string]string { return &v.Deps }},
		{"--set", sets, func(v *lifecycle.AddValues) *map[string]string { return &v.Set }},
	} {
		for _, it := range f.items {
			app, k, val, err := appKeyValue(f.flag, it, apps)
			if err != nil {
				return nil, err
			}
			v := values[app]
			m := f.field(&v)
			if *m == nil {
				*m = map[string]string{}
			}
			(*m)[k] = val
			values[app] = v
		}
	}
	return values, nil
}

// appKeyValue splits APP:KEY=VALUE, where APP is one of apps.
func appKeyValue(flag, item string, apps []string) (app, key, value string, err error) {
	app, kv, ok := strings.Cut(item, ":")
	if !ok || strings.Contains(app, "=") {
		return "", "", "", fmt.Errorf("%s %q: with several apps, name the app it is for: %s APP:%s (APP one of %s)", flag, item, flag, item, strings.Join(apps, ", "))
	}
	if !slices.Contains(apps, app) {
		return "", "", "", fmt.Errorf("%s %q: %s is not one of the apps being added (%s)", flag, item, app, strings.Join(apps, ", "))
	}
	if key, value, ok = strings.Cut(kv, "="); !ok || key == "" {
		return "", "", "", fmt.Errorf("%s %q: use APP:KEY=VALUE", flag, item)
	}
	return app, key, value, nil
}

func appNames(res []*lifecycle.AddResult) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.App
	}
	return out
}

func printAdd(t *Table, r *lifecycle.AddResult, next bool) {
	verb := "added"
	if !r.Changed() {
		verb = "unchanged:"
	}
	t.Line("%s %s %s", verb, r.App, r.Version)
	for _, ref := range sortedKeys(r.InstalledAs) {
		t.Line("  dependency %s -> %s", ref, r.InstalledAs[ref])
	}
	for _, k := range r.ConfigSet {
		t.Line("  config set    %s", k)
	}
	for _, k := range r.ConfigAdded {
		t.Line("  config added  %s", k)
	}
	for _, k := range r.SecretsAdded {
		t.Line("  secret added  %s", k)
	}
	for _, k := range r.SecretsCopied {
		t.Line("  secret copied %s", k)
	}
	for _, f := range r.Files {
		if f.Change.Changed() {
			t.Line("  %-9s apps/%s/%s", f.Change, r.App, f.Path)
		}
	}
	for _, w := range r.Warnings {
		t.Line("  warning: %s", w)
	}
	if next {
		t.Line("next: wild app deploy %s", r.App)
	}
}

// appList is the catalog with each app's state, here or on the server.
func (g *Globals) appList(ctx context.Context) ([]lifecycle.AppSummary, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.listApps(ctx)
	}
	cat, err := g.catalog()
	if err != nil {
		return nil, err
	}
	env := lifecycle.Env{Catalog: cat}
	// With no instance at all the catalog is still worth listing; a named
	// instance that fails to open is an error, not "everything available".
	inst, err := g.instance()
	switch {
	case err == nil:
		env.Instance = inst
	case !errors.Is(err, instance.ErrNoInstance):
		return nil, err
	}
	return (&lifecycle.List{Env: env, Cluster: clusterStater(ctx, env)}).Run(ctx)
}

func appListCmd(g *Globals) *cobra.Command {
	return remoteCapable(&cobra.Command{
		Use:   "list",
		Short: "List catalog apps and their state in the instance",
		Long: `List every app in the catalog with its state in the instance:
available (not added), added, deployed, degraded (not ready), drifted (cluster
differs from the instance), stuck (namespace stuck terminating).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			apps, err := g.appList(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(apps, func(t *Table) {
				t.Header("name", "version", "state", "requires", "description")
				for _, a := range apps {
					state := a.State
					if a.Detail != "" {
						state += " (" + stateAdvice(a.Name, a.State, a.Detail) + ")"
					}
					t.Row(a.Name, a.Version, state, strings.Join(a.Requires, ","), a.Description)
				}
			})
		},
	})
}

func (g *Globals) appShow(ctx context.Context, app string) (*lifecycle.AppDetail, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.showApp(ctx, app)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	return (&lifecycle.Show{Env: env, App: app, Cluster: clusterStater(ctx, env)}).Run(ctx)
}

func appShowCmd(g *Globals) *cobra.Command {
	return remoteCapable(&cobra.Command{
		Use:   "show NAME",
		Short: "Show one app: catalog entry, config, secret names and state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.appShow(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.Printer().Print(d, func(t *Table) {
				t.Row("name:", d.Name)
				t.Row("type (is):", d.Is)
				t.Row("version:", d.Version)
				t.Row("state:", d.State)
				t.Row("description:", d.Description)
				if len(d.RequiresDetail) > 0 {
					t.Row("requires:", strings.Join(d.RequiresDetail, ", "))
				}
				for _, ref := range sortedKeys(d.InstalledAs) {
					t.Row("dependency:", ref+" -> "+d.InstalledAs[ref])
				}
				if len(d.Secrets) > 0 {
					t.Row("secrets:", strings.Join(d.Secrets, ", ")+" (values: wild secret get apps."+d.Name+".KEY)")
				}
				if d.Config != nil {
					b, _ := yaml.Marshal(d.Config)
					t.Line("config:\n%s", indent(string(b), "  "))
				}
			})
		},
	})
}

func keyValues(flag string, items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: use KEY=VALUE", flag, it)
		}
		out[k] = v
	}
	return out, nil
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n")
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// stateAdvice adds the command to a list state's detail: a stuck app is
// recovered by a deploy, a drifted one is shown by a diff.
func stateAdvice(app, state, detail string) string {
	switch state {
	case lifecycle.StateStuck:
		return strings.Replace(detail, "deploying recovers it", "wild app deploy "+app+" recovers it", 1)
	case lifecycle.StateDrifted:
		return "run wild app diff " + app
	case lifecycle.StateBroken:
		return strings.Replace(detail, "deleting it still works", "delete it with: wild app delete "+app+" --yes", 1)
	}
	return detail
}
