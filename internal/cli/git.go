package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/gitmode"
)

func addGitCommands(root *cobra.Command, g *Globals) {
	inst := subcommand(root, "instance")
	if inst == nil {
		return
	}
	inst.AddCommand(instanceGitCmd(g), instanceLogCmd(g))
	if create := subcommand(inst, "create"); create != nil {
		addGitFlag(create, g)
	}
}

func subcommand(parent *cobra.Command, name string) *cobra.Command {
	for _, c := range parent.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// addGitFlag gives `wild instance create` a --git flag that turns the new
// instance into a repository right after it is created.
func addGitFlag(create *cobra.Command, g *Globals) {
	var enable bool
	create.Flags().BoolVar(&enable, "git", false, "make the instance a git repository (one commit per operation)")
	inner := create.RunE
	create.RunE = func(cmd *cobra.Command, args []string) error {
		if err := inner(cmd, args); err != nil || !enable {
			return err
		}
		s, err := g.store()
		if err != nil {
			return err
		}
		inst, err := s.Open(args[0])
		if err != nil {
			return err
		}
		res, err := gitmode.Init(inst)
		if err != nil {
			return fmt.Errorf("instance %s was created, but making it a git repository failed (retry: wild instance git init): %w", args[0], err)
		}
		// stderr: stdout already holds create's (possibly JSON) result.
		fmt.Fprintf(g.ErrOut, "initialized git repository in %s (commit %s)\n", res.Dir, short(res.Commit))
		return nil
	}
}

func short(h string) string {
	if len(h) > 8 {
		return h[:8]
	}
	return h
}

func instanceGitCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "git",
		Short: "Manage the instance as a git repository (advanced users)",
		Long: `In git mode the instance directory is a git repository. Every mutating
operation (add, config set, update, delete, rollback) makes one commit with a
conventional message, e.g. "upgrade(immich): 1.2.0 -> 1.3.0". secrets.yaml,
kubeconfig, snapshots and runtime files are git-ignored. Edit compiled
manifests by hand and commit them: updates merge them three-way.`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "init",
		Short: "Make the instance a git repository and commit its current state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			res, err := gitmode.Init(inst)
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				verb := "initialized"
				if !res.Created {
					verb = "enabled git mode in existing"
				}
				t.Line("%s git repository in %s (commit %s)", verb, res.Dir, short(res.Commit))
			})
		},
	})
	for _, on := range []bool{true, false} {
		on := on
		use, short := "on", "Commit every operation automatically (the default in git mode)"
		if !on {
			use, short = "off", "Stop committing operations (you commit by hand)"
		}
		cmd.AddCommand(&cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				inst, err := g.instance()
				if err != nil {
					return err
				}
				if err := gitmode.SetEnabled(inst, on); err != nil {
					return err
				}
				return g.Printer().Print(map[string]bool{"autoCommit": on}, func(t *Table) {
					t.Line("auto-commit %s for instance %s", use, inst.Name)
				})
			},
		})
	}
	return cmd
}

func instanceLogCmd(g *Globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "log [APP]",
		Short: "Show the instance's git history (optionally one app's)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			app := optionalArg(args)
			entries, err := gitmode.Log(inst, app, limit)
			if err != nil {
				return err
			}
			return g.Printer().Print(entries, func(t *Table) {
				t.Header("commit", "date", "message")
				for _, e := range entries {
					t.Row(e.Short, e.Date.Local().Format("2006-01-02 15:04"), e.Message)
				}
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "max-count", "n", 0, "show at most N commits")
	return cmd
}
