package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
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

// env builds the shared operation environment. Progress goes to stderr so
// stdout stays clean for -o json/yaml.
func (g *Globals) env() (lifecycle.Env, error) {
	inst, err := g.instance()
	if err != nil {
		return lifecycle.Env{}, err
	}
	cat, err := g.catalog()
	if err != nil {
		return lifecycle.Env{}, err
	}
	return lifecycle.Env{Instance: inst, Catalog: cat, Log: g.ErrOut}, nil
}

// appCmd is the "wild app" group; other files add subcommands to it.
var appCmd = &cobra.Command{
	Use:   "app",
	Short: "Add, deploy, update and delete apps from the Wild Directory",
	Long: `Apps come from the Wild Directory (the catalog). The lifecycle is:

  wild app add NAME       compile the app into the instance (config, secrets, manifests)
  wild app deploy NAME    apply it to the cluster and wait until it is ready
  wild app delete NAME    remove it from the cluster and the instance`,
}

func init() {
	register(30, func(root *cobra.Command, g *Globals) {
		appCmd.AddCommand(appAddCmd(g), appListCmd(g), appShowCmd(g))
		root.AddCommand(appCmd)
	})
}

func appAddCmd(g *Globals) *cobra.Command {
	var deps, sets []string
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add an app from the catalog to the instance",
		Long: `Add an app: map its dependencies to apps already added, merge its default
config into config.yaml (existing values are never overwritten), generate its
secrets (never regenerated), and compile its manifests into apps/NAME/.
Running it again recompiles and keeps every value.`,
		Example: `  wild app add postgres
  wild app add gitea                       # maps its postgres automatically
  wild app add ghost --dep mysql=mysql-2   # choose among several
  wild app add ghost --set domain=blog.example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.env()
			if err != nil {
				return err
			}
			op := &lifecycle.Add{Env: env, App: args[0]}
			if op.Deps, err = keyValues("--dep", deps); err != nil {
				return err
			}
			if op.Set, err = keyValues("--set", sets); err != nil {
				return err
			}
			res, err := op.Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) { printAdd(t, res) })
		},
	}
	cmd.Flags().StringArrayVar(&deps, "dep", nil, "map a dependency: ALIAS=ADDED_APP (repeatable)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "set a config value: KEY=VALUE, KEY relative to apps.NAME (repeatable)")
	return cmd
}

func printAdd(t *Table, r *lifecycle.AddResult) {
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
		if f.Change != "unchanged" {
			t.Line("  %-9s apps/%s/%s", f.Change, r.App, f.Path)
		}
	}
	for _, w := range r.Warnings {
		t.Line("  warning: %s", w)
	}
	t.Line("next: wild app deploy %s", r.App)
}

func appListCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List catalog apps and their state in the instance",
		Long: `List every app in the catalog with its state in the instance:
available (not added), added, deployed, degraded (not ready), drifted (cluster
differs from the instance), stuck (namespace stuck terminating).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := g.catalog()
			if err != nil {
				return err
			}
			env := lifecycle.Env{Catalog: cat}
			if inst, err := g.instance(); err == nil {
				env.Instance = inst
			}
			apps, err := (&lifecycle.List{Env: env, Cluster: clusterStater(cmd.Context(), env)}).Run(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(apps, func(t *Table) {
				t.Header("name", "version", "state", "requires", "description")
				for _, a := range apps {
					state := a.State
					if a.Detail != "" {
						state += " (" + a.Detail + ")"
					}
					t.Row(a.Name, a.Version, state, strings.Join(a.Requires, ","), a.Description)
				}
			})
		},
	}
}

func appShowCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show one app: catalog entry, config, secret names and state",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := g.env()
			if err != nil {
				return err
			}
			d, err := (&lifecycle.Show{Env: env, App: args[0], Cluster: clusterStater(cmd.Context(), env)}).Run(cmd.Context())
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
	}
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
