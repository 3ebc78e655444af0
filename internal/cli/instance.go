package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
)

func (g *Globals) store() (*instance.Store, error) {
	dir, err := g.ResolveDataDir()
	if err != nil {
		return nil, err
	}
	return gitmode.NewStore(dir), nil
}

// instance resolves the instance to act on: --instance, WILD_INSTANCE, the
// one chosen with `wild instance use`, or the only one.
func (g *Globals) instance() (*instance.Instance, error) {
	s, err := g.store()
	if err != nil {
		return nil, err
	}
	name := g.Instance
	if name == "" {
		name = getenv("WILD_INSTANCE")
	}
	return s.Resolve(name)
}

func addInstanceCommands(root *cobra.Command, g *Globals) {
	cmd := &cobra.Command{
		Use:   "instance",
		Short: "Create, list, choose and delete instances (one per cluster)",
		Long: `An instance is one cluster's data directory under <data-dir>/instances/NAME:
config.yaml, secrets.yaml (mode 0600), kubeconfig, compiled apps/ and operations/.`,
	}
	cmd.AddCommand(instanceCreateCmd(g), instanceListCmd(g), instanceShowCmd(g), instanceUseCmd(g), instanceDeleteCmd(g))
	root.AddCommand(cmd)
}

func instanceCreateCmd(g *Globals) *cobra.Command {
	var o instance.CreateOptions
	var use bool
	cmd := &cobra.Command{
		Use:   "create NAME --domain DOMAIN",
		Short: "Create an instance",
		Example: `  wild instance create home --domain cloud.example.com --email me@example.com
  wild instance create prod --domain example.org --kubeconfig ~/.kube/config`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			o.Name = args[0]
			inst, err := s.Create(o)
			if err != nil {
				return err
			}
			all, _ := s.List()
			if use || len(all) == 1 {
				if err := s.Use(inst.Name); err != nil {
					return err
				}
			}
			info, err := s.Describe(inst.Name)
			if err != nil {
				return err
			}
			return g.Printer().Print(info, func(t *Table) {
				t.Line("created instance %s at %s", info.Name, info.Dir)
				if !info.Kubeconfig {
					t.Line("no kubeconfig yet: copy one to %s/kubeconfig before deploying", info.Dir)
				}
			})
		},
	}
	cmd.Flags().StringVar(&o.Domain, "domain", "", "the domain apps are served under (required), e.g. cloud.example.com")
	cmd.Flags().StringVar(&o.Email, "email", "", "operator email (default admin@DOMAIN)")
	cmd.Flags().StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to copy into the instance")
	cmd.Flags().BoolVar(&use, "use", false, "make it the default instance")
	return cmd
}

func instanceListCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:         "list",
		Short:       "List instances",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{remoteOK: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			infos, err := g.instances(cmd.Context())
			if err != nil {
				return err
			}
			return g.Printer().Print(infos, func(t *Table) {
				t.Header("current", "name", "domain", "apps", "kubeconfig")
				for _, i := range infos {
					t.Row(mark(i.Current), i.Name, i.Domain, fmt.Sprint(i.Apps), yesNo(i.Kubeconfig))
				}
			})
		},
	}
}

func instanceShowCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show [NAME]",
		Short: "Show an instance (default: the current one)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			} else {
				inst, err := g.instance()
				if err != nil {
					return err
				}
				name = inst.Name
			}
			info, err := s.Describe(name)
			if err != nil {
				return err
			}
			return g.Printer().Print(info, func(t *Table) {
				t.Row("name:", info.Name)
				t.Row("current:", yesNo(info.Current))
				t.Row("directory:", info.Dir)
				t.Row("domain:", info.Domain)
				t.Row("apps:", fmt.Sprint(info.Apps))
				t.Row("kubeconfig:", yesNo(info.Kubeconfig))
			})
		},
	}
}

func instanceUseCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make NAME the default instance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			if err := s.Use(args[0]); err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"current": args[0]}, func(t *Table) {
				t.Line("now using instance %s", args[0])
			})
		},
	}
}

func instanceDeleteCmd(g *Globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an instance's local data (its cluster is not touched)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.store()
			if err != nil {
				return err
			}
			if _, err := s.Open(args[0]); err != nil {
				return err
			}
			ok, err := confirm(g, yes, fmt.Sprintf("Delete instance %s and all its local config and secrets?", args[0]))
			if err != nil || !ok {
				return err
			}
			if err := s.Delete(args[0]); err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"deleted": args[0]}, func(t *Table) {
				t.Line("deleted instance %s (apps in its cluster were left running)", args[0])
			})
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func mark(b bool) string {
	if b {
		return "*"
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// instances describes every instance, here or on the server.
func (g *Globals) instances(ctx context.Context) ([]instance.Info, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.listInstances(ctx)
	}
	s, err := g.store()
	if err != nil {
		return nil, err
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	infos := []instance.Info{}
	for _, n := range all {
		info, err := s.Describe(n)
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}
