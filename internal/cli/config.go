package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/problem"
)

func addConfigCommands(root *cobra.Command, g *Globals) {
	root.AddCommand(configCmd(g), secretCmd(g))
}

func configCmd(g *Globals) *cobra.Command {
	cfg := &cobra.Command{
		Use:   "config",
		Short: "Read and change config.yaml by dotted path",
		Long: `Read and change the instance's config.yaml. Paths are dotted, e.g. apps.ghost.port.
Edits keep the comments and key order of the file. A plain number, bool or
one-line [list] is typed as YAML reads it (8080 is a number, "8080" a string);
anything else is stored as plain text: tags, anchors and aliases are never
interpreted, and multi-line values are kept as literal blocks. VALUE - reads
stdin. Replacing a whole mapping with one value needs --force.`,
	}
	cfg.AddCommand(&cobra.Command{
		Use:     "get PATH",
		Short:   "Print a config value",
		Example: "  wild config get cloud.domain\n  wild config get apps.ghost -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := g.getConfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printValue(g, v)
		},
		Annotations: map[string]string{remoteOK: "yes"},
	}, setCmd(g, "config", "Set a config value (redeploy the app to apply it)",
		"  wild config set apps.ghost.port 2368\n  wild config set cloud.smtp.host smtp.example.com",
		func(inst *instance.Instance, path, value string, o instance.SetOptions) (instance.SetResult, error) {
			return inst.SetConfigWith(path, value, o)
		}))
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
		"  wild secret set apps.ghost.smtpPassword          # prompts, without echo\n  pass show smtp | wild secret set apps.ghost.smtpPassword -",
		func(inst *instance.Instance, path, value string, o instance.SetOptions) (instance.SetResult, error) {
			return inst.SetSecretWith(path, value, o)
		}),
		secretListCmd(g))
	return sec
}

func (g *Globals) getConfig(ctx context.Context, path string) (any, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.getConfig(ctx, path)
	}
	inst, err := g.instance()
	if err != nil {
		return nil, err
	}
	return inst.GetConfig(path)
}

// setCmd is `config set` and `secret set`: same shape, different file.
// VALUE "-" reads the value from stdin (one trailing newline dropped), so
// a secret need not appear in ps or shell history; a secret with no VALUE
// is prompted for on a terminal.
func setCmd(g *Globals, what, short, example string, set func(*instance.Instance, string, string, instance.SetOptions) (instance.SetResult, error)) *cobra.Command {
	var force bool
	args := cobra.ExactArgs(2)
	use := "set PATH VALUE|-"
	if what == "secret" {
		args, use = cobra.RangeArgs(1, 2), "set PATH [VALUE|-]"
	}
	cmd := &cobra.Command{
		Use:         use,
		Short:       short,
		Example:     example,
		Args:        args,
		Annotations: map[string]string{remoteOK: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			value, err := setValue(g, what, args)
			if err != nil {
				return err
			}
			res, err := g.set(cmd.Context(), what, args[0], value, instance.SetOptions{Force: force}, set)
			if err != nil {
				return err
			}
			if res.Snapshot != "" {
				fmt.Fprintf(g.ErrOut, "warning: replaced everything under %s; the old value is saved in %s. To undo: %s\n", args[0], res.Snapshot, res.Undo)
			}
			return g.Printer().Print(map[string]string{"set": args[0]}, func(t *Table) {
				t.Line("set %s %s", what, args[0])
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace a whole mapping (e.g. every key of an app) with one value; the old one is saved first")
	return cmd
}

// set writes one value here or through the server (which refuses a
// forced replace: that needs the local snapshot).
func (g *Globals) set(ctx context.Context, what, path, value string, o instance.SetOptions,
	local func(*instance.Instance, string, string, instance.SetOptions) (instance.SetResult, error)) (instance.SetResult, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return instance.SetResult{}, err
		}
		if o.Force {
			return instance.SetResult{}, problem.New(problem.Invalid, "--force runs only locally; drop --server for it")
		}
		return instance.SetResult{}, r.set(ctx, what, path, value)
	}
	inst, err := g.instance()
	if err != nil {
		return instance.SetResult{}, err
	}
	return local(inst, path, value, o)
}

func setValue(g *Globals, what string, args []string) (string, error) {
	if len(args) == 2 && args[1] != "-" {
		return args[1], nil
	}
	if len(args) == 1 || isTTY(g.In) {
		if !isTTY(g.In) {
			return "", fmt.Errorf("no value given and no terminal to ask on; pass it as an argument, or - to read it from stdin")
		}
		f := g.In.(*os.File)
		fmt.Fprintf(g.ErrOut, "value for %s (not shown): ", args[0])
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read the value from the terminal: %w", err)
		}
		return string(b), nil
	}
	b, err := io.ReadAll(io.LimitReader(g.In, maxStdinValue+1))
	if err != nil {
		return "", fmt.Errorf("read the %s value from stdin: %w", what, err)
	}
	if len(b) > maxStdinValue {
		return "", fmt.Errorf("the %s value on stdin is over %d bytes; keep large data in a file the app mounts", what, maxStdinValue)
	}
	v := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(v, "\r"), nil
}

// maxStdinValue bounds a value read from stdin.
const maxStdinValue = 1 << 20

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
