package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/problem"
)

// updateClusterHooks connects update and rollback to the cluster (server
// side dry-run preview, deployed check, deploy).
func updateClusterHooks(ctx context.Context, g *Globals, env lifecycle.Env) lifecycle.ClusterHooks {
	return lifecycle.ClusterHooksFor(env)
}

func addUpdateCommands(root *cobra.Command, g *Globals) {
	appCmd := subcommand(root, "app")
	appCmd.AddCommand(appOutdatedCmd(g), appUpdateCmd(g), appRollbackCmd(g))
}

func appOutdatedCmd(g *Globals) *cobra.Command {
	return remoteCapable(&cobra.Command{
		Use:   "outdated [NAME]",
		Short: "List added apps whose Wild Directory package changed",
		Long: `Compare each added app's package (apps/NAME/.package/) with the Wild
Directory by content hash, and list the apps that changed: installed vs
available version and which package files differ.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, err := g.outdated(cmd.Context(), optionalArg(args))
			if err != nil {
				return err
			}
			return g.Printer().Print(rows, func(t *Table) {
				if len(rows) == 0 {
					t.Line("all added apps match the Wild Directory")
					return
				}
				t.Header("app", "installed", "available", "changed files")
				for _, r := range rows {
					avail := r.Available
					if r.Major {
						avail += " (major)"
					}
					var files []string
					for _, f := range r.Files {
						files = append(files, f.Path+" ("+string(f.Change)+")")
					}
					t.Row(r.App, r.Installed, avail, strings.Join(files, ", "))
				}
				t.Line("update one with: wild app update NAME --dry-run")
			})
		},
	})
}

func appUpdateCmd(g *Globals) *cobra.Command {
	var u lifecycle.Update
	var yes, noBackup bool
	var renames, deps []string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Update an app to the Wild Directory's current package, keeping your changes",
		Long: `Update an added app to its current Wild Directory package:

  1. snapshot its config, secrets and compiled files (undo: wild app rollback NAME)
  2. merge config three-way: keys you never changed follow the new defaults,
     your values stay, new keys are added; existing secrets are kept and only
     new ones generated; .package/ is replaced
  3. recompile and show the review (config and secret changes, a diff of the
     manifests, and what would change in the cluster), then ask to apply
  4. back up an app that has data (its database, its volumes) before writing
     anything (see wild app backup --help); --no-backup skips it

Breaking changes (a removed or renamed config key you have a value for, changed
dependencies, a major version bump) stop the update until you decide:
--rename OLD=NEW, --accept-removed, --accept-breaking. --fresh starts over
(deletes the app's config and secrets and adds it again).

In git mode, the compiled manifests are merged three-way as well, so committed
hand edits survive; a real conflict leaves <<<<<<< ours / >>>>>>> theirs
markers for you to resolve, then: wild app update NAME --continue.`,
		Example: `  wild app update ghost --dry-run
  wild app update ghost --yes --deploy
  wild app update ghost --rename dbName=databaseName
  wild app update ghost --fresh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			u.App = args[0]
			if u.Renames, err = keyValues("--rename", renames); err != nil {
				return err
			}
			if u.Deps, err = keyValues("--dep", deps); err != nil {
				return err
			}
			if r, err := g.remote(cmd.Context()); r != nil || err != nil {
				if err != nil {
					return err
				}
				rv, err := r.update(cmd.Context(), g, &u, yes, noBackup)
				return finishUpdate(g, &u, rv, err)
			}
			env, err := g.env()
			if err != nil {
				return err
			}
			u.Env = env
			u.Cluster = updateClusterHooks(cmd.Context(), g, env)
			if !noBackup {
				u.BackupFirst = backup.BeforeUpdate(backup.Env{Instance: env.Instance, Observer: g.observer(), Open: g.engines.OpenBackup})
			}
			if !yes && !u.DryRun && !u.Continue {
				u.Confirm = func(rv *lifecycle.UpdateReview) (bool, error) { return confirmUpdate(g, rv) }
			}
			rv, err := u.Run(cmd.Context())
			return finishUpdate(g, &u, rv, err)
		},
	}
	remoteCapable(cmd)
	// The backup first is the only part that needs the backup engine.
	needs(cmd, engineBackup, "no-backup", "dry-run")
	f := cmd.Flags()
	f.BoolVar(&u.DryRun, "dry-run", false, "show the review and write nothing")
	f.BoolVarP(&yes, "yes", "y", false, "apply without asking")
	f.BoolVar(&u.Deploy, "deploy", false, "deploy the app after a clean update")
	f.BoolVar(&u.AcceptRemoved, "accept-removed", false, "drop config keys the new package removed")
	f.StringArrayVar(&renames, "rename", nil, "carry a value across a renamed key: OLD=NEW, keys relative to apps.NAME (repeatable)")
	f.BoolVar(&u.AcceptBreaking, "accept-breaking", false, "accept a major version bump or changed dependencies")
	f.StringArrayVar(&deps, "dep", nil, "map a new dependency: ALIAS=ADDED_APP (repeatable)")
	f.BoolVar(&noBackup, "no-backup", false, "do not back up the app's data first (only when it is safe elsewhere)")
	f.BoolVar(&u.Fresh, "fresh", false, "destructive: delete the app's config and secrets and add it again")
	f.BoolVar(&u.Continue, "continue", false, "git mode: commit the update once its conflicts are resolved")
	return cmd
}

// confirmUpdate shows the review and asks. Without a terminal it refuses:
// a script must say --yes.
func confirmUpdate(g *Globals, rv *lifecycle.UpdateReview) (bool, error) {
	if g.Printer().Structured() {
		return false, fmt.Errorf("updating %s needs confirmation; pass --yes (or --dry-run to only see the review)", rv.App)
	}
	if err := g.Printer().Print(rv, func(t *Table) { printReview(t, rv) }); err != nil {
		return false, err
	}
	q := fmt.Sprintf("Apply this update to %s?", rv.App)
	if rv.Fresh {
		q = fmt.Sprintf("Discard everything listed above and reinstall %s?", rv.App)
	}
	ok, err := confirm(g, false, q)
	if err != nil && !isTTY(g.In) {
		return false, fmt.Errorf("%s; pass --yes to apply, or --dry-run to only review", strings.TrimSuffix(err.Error(), "; pass --yes to confirm"))
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return false, nil
	}
	return ok, err
}

func finishUpdate(g *Globals, u *lifecycle.Update, rv *lifecycle.UpdateReview, err error) error {
	if errors.Is(err, lifecycle.ErrCancelled) {
		return ExitCode(1, "cancelled; nothing changed")
	}
	var be *lifecycle.BreakingError
	var ce *lifecycle.ConflictError
	remoteRefusal := problem.CodeOf(err) == problem.Breaking || problem.CodeOf(err) == problem.Conflict
	if rv != nil && (err == nil || errors.As(err, &be) || errors.As(err, &ce) || remoteRefusal) {
		shownAlready := u.Confirm != nil && !rv.UpToDate && rv.Applied
		if perr := g.Printer().Print(rv, func(t *Table) {
			if !shownAlready {
				printReview(t, rv)
			}
			printOutcome(t, rv)
		}); perr != nil {
			return perr
		}
	}
	return err
}

func printReview(t *Table, rv *lifecycle.UpdateReview) {
	if rv.UpToDate {
		t.Line("%s is up to date with the Wild Directory (%s)", rv.App, rv.ToVersion)
		return
	}
	if rv.Applied && rv.FromVersion == "" { // --continue
		return
	}
	t.Line("update %s %s -> %s", rv.App, rv.FromVersion, rv.ToVersion)
	for _, c := range rv.Config {
		switch c.Change {
		case change.Created:
			t.Line("  config added    apps.%s.%s = %s", rv.App, c.Key, c.New)
		case change.Configured:
			t.Line("  config updated  apps.%s.%s: %s -> %s (new default)", rv.App, c.Key, c.Old, c.New)
		case change.Kept:
			t.Line("  config kept     apps.%s.%s = %s (kept your value; new default is %s)", rv.App, c.Key, c.Old, c.NewDefault)
		case change.Renamed:
			t.Line("  config renamed  apps.%s.%s -> apps.%s.%s = %s", rv.App, c.Old, rv.App, c.Key, c.New)
		case change.Pruned:
			t.Line("  config removed  apps.%s.%s (was %s)", rv.App, c.Key, c.Old)
		}
	}
	for _, s := range rv.SecretsAdded {
		t.Line("  secret added    %s", s)
	}
	for _, s := range rv.SecretsCopied {
		t.Line("  secret copied   %s", s)
	}
	for _, f := range rv.Files {
		t.Line("  %-9s apps/%s/%s", f.Change, rv.App, f.Path)
	}
	for _, f := range rv.Merged {
		t.Line("  merged    apps/%s/%s (your committed edits kept)", rv.App, f)
	}
	for _, l := range rv.Lost {
		t.Line("  LOST      %s", l)
	}
	if d := rv.UnifiedDiff(); d != "" {
		t.Line("%s", strings.TrimRight(d, "\n"))
	}
	if len(rv.Cluster) > 0 {
		var b strings.Builder
		for _, d := range rv.Cluster {
			fmt.Fprintf(&b, "%s %s\n%s", d.Action, d.Ref, d.Unified)
		}
		t.Line("cluster changes (server-side dry run):\n%s", indent(b.String(), "  "))
	}
	for _, b := range rv.Breaking {
		t.Line("  BREAKING  %s", advice.Message(&problem.Error{Message: b.Message, Hint: b.Hint, Alt: b.Alt}))
	}
	for _, w := range rv.Warnings {
		t.Line("  warning: %s", w)
	}
}

func printOutcome(t *Table, rv *lifecycle.UpdateReview) {
	switch {
	case rv.UpToDate:
	case len(rv.Conflicts) > 0:
		t.Line("CONFLICT in %s", strings.Join(rv.Conflicts, ", "))
	case rv.Applied && rv.FromVersion == "":
		t.Line("committed the resolved update of %s", rv.App)
	case rv.Applied:
		t.Line("updated %s to %s (snapshot %s; undo with: wild app rollback %s)", rv.App, rv.ToVersion, rv.Snapshot, rv.App)
		if rv.Deployed {
			t.Line("deployed %s", rv.App)
		} else {
			t.Line("next: wild app deploy %s", rv.App)
		}
	case len(rv.Breaking) == 0:
		t.Line("dry run: nothing was written; apply with: wild app update %s", rv.App)
	}
}

func appRollbackCmd(g *Globals) *cobra.Command {
	var r lifecycle.Rollback
	var list bool
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Restore an app as it was before its last update (and redeploy it)",
		Long: `Restore the app's config section, secrets and compiled files from the snapshot
taken before its last update (or --snapshot ID), or in git mode from a commit
(--to COMMIT: its apps/NAME/ and config; secrets are not in git and stay).
If the app is deployed, it is redeployed.`,
		Example: `  wild app rollback ghost
  wild app rollback ghost --list
  wild app rollback ghost --to 3f2a9c1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rm, err := g.remote(cmd.Context()); rm != nil || err != nil {
				if err != nil {
					return err
				}
				if list {
					return problem.New(problem.Invalid, "--list runs only locally; drop --server for it")
				}
				r.App = args[0]
				res, err := rm.rollback(cmd.Context(), g, &r)
				if err != nil {
					return err
				}
				return printRollback(g, res)
			}
			env, err := g.env()
			if err != nil {
				return err
			}
			if list {
				snaps, err := lifecycle.Snapshots(env.Instance, args[0])
				if err != nil {
					return err
				}
				return g.Printer().Print(snaps, func(t *Table) {
					t.Header("snapshot", "reason", "from", "to")
					for _, s := range snaps {
						t.Row(s.ID, s.Reason, s.FromVersion, s.ToVersion)
					}
				})
			}
			r.Env, r.App = env, args[0]
			r.Cluster = updateClusterHooks(cmd.Context(), g, env)
			res, err := r.Run(cmd.Context())
			if err != nil {
				return err
			}
			return printRollback(g, res)
		},
	}
	remoteCapable(cmd)
	cmd.Flags().StringVar(&r.To, "to", "", "git mode: restore the app as of this commit")
	cmd.Flags().StringVar(&r.Snapshot, "snapshot", "", "restore this snapshot (default: the newest)")
	cmd.Flags().BoolVar(&list, "list", false, "list the app's snapshots")
	return cmd
}

func printRollback(g *Globals, res *lifecycle.RollbackResult) error {
	return g.Printer().Print(res, func(t *Table) {
		t.Line("restored %s %s from %s (was %s)", res.App, res.To, res.Source, res.From)
		switch {
		case res.Redeployed:
			t.Line("redeployed %s", res.App)
		case res.NotDeployed:
			t.Line("next: wild app deploy %s", res.App)
		}
	})
}

func (g *Globals) outdated(ctx context.Context, app string) ([]lifecycle.OutdatedApp, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.outdated(ctx, app)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	return (&lifecycle.Outdated{Env: env, App: app}).Run(ctx)
}
