package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/instance"
)

func init() {
	register(20, func(root *cobra.Command, g *Globals) {
		root.AddCommand(configCmd(g), secretCmd(g))
	})
}

func configCmd(g *Globals) *cobra.Command {
	cfg := &cobra.Command{
		Use:   "config",
		Short: "Read and change config.yaml by dotted path",
		Long: `Read and change the instance's config.yaml. Paths are dotted, e.g. apps.ghost.port.
Edits keep the comments and key order of the file; values are read as YAML,
so 8080 is a number and "8080" a string.`,
	}
	cfg.AddCommand(&cobra.Command{
		Use:     "get PATH",
		Short:   "Print a config value",
		Example: "  wild config get cloud.domain\n  wild config get apps.ghost -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			v, err := inst.GetConfig(args[0])
			if err != nil {
				return err
			}
			return printValue(g, v)
		},
	}, setCmd(g, "config", "Set a config value (redeploy the app to apply it)",
		"  wild config set apps.ghost.port 2368\n  wild config set cloud.smtp.host smtp.example.com",
		func(inst *instance.Instance, path, value string) error { return inst.SetConfig(path, value) }))
	return cfg
}

func secretCmd(g *Globals) *cobra.Command {
	sec := &cobra.Command{
		Use:   "secret",
		Short: "Read and change secrets.yaml by dotted path",
		Long: `Read and change the instance's secrets.yaml (kept at mode 0600).
Values are only printed by 'secret get'; 'secret list' shows paths, never values.`,
	}
	sec.AddCommand(&cobra.Command{
		Use:   "get PATH",
		Short: "Print one secret value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			v, err := inst.GetSecret(args[0])
			if err != nil {
				return err
			}
			return printValue(g, v)
		},
	}, setCmd(g, "secret", "Set a secret value (redeploy the app to apply it)",
		"  wild secret set apps.ghost.smtpPassword 'my smtp password'",
		func(inst *instance.Instance, path, value string) error { return inst.SetSecret(path, value) }),
		secretListCmd(g))
	return sec
}

// setCmd is `config set` and `secret set`: same shape, different file.
func setCmd(g *Globals, what, short, example string, set func(*instance.Instance, string, string) error) *cobra.Command {
	return &cobra.Command{
		Use:     "set PATH VALUE",
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			if err := set(inst, args[0], args[1]); err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"set": args[0]}, func(t *Table) {
				t.Line("set %s %s", what, args[0])
			})
		},
	}
}

func secretListCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list [PREFIX]",
		Short: "List secret paths (values masked)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			entries, err := inst.ListSecrets(optionalArg(args))
			if err != nil {
				return err
			}
			return g.Printer().Print(entries, func(t *Table) {
				t.Header("path", "value")
				for _, e := range entries {
					t.Row(e.Path, fmt.Sprintf("******** (%d chars)", e.Length))
				}
			})
		},
	}
}

// printValue prints a scalar bare in table mode (so scripts can use it) and
// anything else as YAML.
func printValue(g *Globals, v any) error {
	if g.Output != "table" {
		return g.Printer().Print(v, nil)
	}
	switch v.(type) {
	case map[string]any, []any:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = g.Out.Write(b)
		return err
	}
	_, err := fmt.Fprintln(g.Out, v)
	return err
}
