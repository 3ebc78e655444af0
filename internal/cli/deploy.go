package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/operation"
)

func addDeployCommands(root *cobra.Command, g *Globals) {
	appCmd := subcommand(root, "app")
	appCmd.AddCommand(appDeployCmd(g), appDiffCmd(g), appStatusCmd(g), appDeleteCmd(g))
	op := &cobra.Command{Use: "operation", Short: "Show the records of past operations (add, deploy, delete, ...)"}
	op.AddCommand(operationListCmd(g), operationShowCmd(g))
	root.AddCommand(op)
}

func (g *Globals) deployMany(ctx context.Context, d *lifecycle.Deploy, apps []string) ([]*lifecycle.DeployResult, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.deploy(ctx, g, d, apps)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	d.Env = env
	return d.RunMany(ctx, apps)
}

func appDeployCmd(g *Globals) *cobra.Command {
	d := &lifecycle.Deploy{}
	cmd := &cobra.Command{
		Use:   "deploy NAME [NAME...]",
		Short: "Deploy added apps to the cluster and wait until they are ready",
		Long: `Deploy an added app: check its dependencies are deployed and ready, recover
its namespace if a previous delete left it Terminating, create the namespace
(stamped with this instance as owner), write NAME-secrets from secrets.yaml,
copy the dependency and TLS secrets it uses, server-side apply its manifests
(pruning what it no longer has), then wait until everything is ready.

Deploying an unchanged app changes nothing. If config changed since the last
compile, the app is recompiled first; if only secrets changed, the workloads
that use them are restarted. Several apps are deployed in the order given.
With --no-wait, dependencies must be deployed but need not be ready yet.`,
		Example: `  wild app deploy ghost
  wild app deploy ghost --with-deps        # deploy mysql first
  wild app deploy ghost --dry-run          # what would change, with diffs
  wild app deploy postgres gitea --no-wait --timeout 10m`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			results, err := g.deployMany(cmd.Context(), d, args)
			var v any = results
			if len(args) == 1 && len(results) == 1 {
				v = results[0]
			}
			if len(results) > 0 && (err == nil || d.DryRun) {
				if perr := g.Printer().Print(v, func(t *Table) {
					for _, r := range results {
						printDeploy(t, r)
					}
				}); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	remoteCapable(cmd)
	f := cmd.Flags()
	f.BoolVar(&d.DryRun, "dry-run", false, "show what would change (server-side dry run, with diffs); change nothing")
	f.BoolVar(&d.NoWait, "no-wait", false, "return once applied, without waiting for readiness")
	f.BoolVar(&d.WithDeps, "with-deps", false, "deploy the app's dependencies first, in dependency order")
	f.DurationVar(&d.Timeout, "timeout", 5*time.Minute, "how long to wait for readiness")
	f.BoolVar(&d.AllowDirty, "allow-dirty", false, "git mode: deploy even with uncommitted edits in apps/NAME/")
	return cmd
}

func printDeploy(t *Table, r *lifecycle.DeployResult) {
	verb := "deployed"
	switch {
	case r.DryRun:
		verb = "dry run of"
	case r.Unchanged():
		verb = "unchanged:"
	}
	t.Line("%s %s (namespace %s)", verb, r.App, r.Namespace)
	for _, dep := range r.Deps {
		t.Line("  dependency deployed: %s", dep)
	}
	if r.Recompiled {
		t.Line("  recompiled after a config change")
	}
	for _, c := range r.Changes {
		if c.Action == kube.ActionUnchanged && !r.DryRun {
			continue
		}
		t.Line("  %-10s %s", dryAction(c.Action, r.DryRun), c.Ref)
		if c.Message != "" {
			t.Line("             %s", c.Message)
		}
		if r.DryRun && c.Diff != "" {
			t.Line("%s", indent(strings.TrimRight(c.Diff, "\n"), "      "))
		}
	}
	for _, w := range r.Restarted {
		t.Line("  restarting %s (its secrets changed)", w)
	}
	for _, w := range r.Warnings {
		t.Line("  warning: %s", w)
	}
	if r.Ready {
		t.Line("%s is ready", r.App)
	}
}

func dryAction(a kube.Action, dry bool) string {
	if !dry {
		return string(a)
	}
	switch a {
	case kube.ActionCreated:
		return "create"
	case kube.ActionConfigured:
		return "update"
	case kube.ActionPruned:
		return "prune"
	case kube.ActionRecreated:
		return "recreate"
	}
	return string(a)
}

func appDiffCmd(g *Globals) *cobra.Command {
	return remoteCapable(&cobra.Command{
		Use:   "diff NAME",
		Short: "Show drift between the cluster and the instance (exit 1 if any)",
		Long: `Compare the live objects of a deployed app with what 'wild app deploy' would
apply. Fields that controllers own (status, defaults) are ignored; Secret
values are redacted. Exit code 0: no drift; 1: drift (like kubectl diff).
Reconcile with: wild app deploy NAME`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.appDiff(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := g.Printer().Print(res, func(t *Table) { printDiff(t, res) }); err != nil {
				return err
			}
			if res.Drifted {
				return ExitCode(1, "")
			}
			return nil
		},
	})
}

func printDiff(t *Table, r *lifecycle.DiffResult) {
	if !r.Drifted {
		t.Line("no drift: %s matches the instance", r.App)
		return
	}
	for _, o := range r.Objects {
		if !o.Action.Changed() {
			continue
		}
		t.Line("%s %s", dryAction(o.Action, true), o.Ref)
		if o.Unified != "" {
			t.Line("%s", strings.TrimRight(o.Unified, "\n"))
		}
	}
	if r.Secret.Action != kube.ActionUnchanged {
		t.Line("secret %s differs from secrets.yaml (%s); values are not shown", r.Secret.Ref, strings.TrimSpace(r.Secret.Diff))
	}
	t.Line("reconcile with: wild app deploy %s", r.App)
}

func appStatusCmd(g *Globals) *cobra.Command {
	return remoteCapable(&cobra.Command{
		Use:   "status NAME",
		Short: "Show an app's resources, pods, ingress hosts, volumes, secrets and last operation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.appStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) { printStatus(t, res) })
		},
	})
}

func printStatus(t *Table, r *lifecycle.StatusResult) {
	c := r.Cluster
	state := r.State
	if r.Detail != "" {
		state += " (" + r.Detail + ")"
	}
	t.Line("%s: %s (namespace %s, %s)", r.App, state, c.Namespace, c.NamespacePhase)
	if r.Side != "" {
		t.Line("serving: the %s copy restored from backup %s (wild app backups %s)", r.Side, r.Restored, r.App)
	}
	if r.Customized {
		t.Line("apps/%s carries committed hand edits (customized): intentional, not drift", r.App)
	}
	t.Line("resources:")
	for _, s := range c.Resources {
		t.Line("  %-9s %s %s", s.Status, s.Ref, s.Message)
	}
	if len(c.Pods) > 0 {
		t.Line("pods:")
		for _, p := range c.Pods {
			t.Line("  %-40s %-9s ready=%-5v %s", p.Name, p.Phase, p.Ready, p.Reason)
		}
	}
	for _, i := range c.Ingresses {
		t.Line("ingress %s: https://%s", i.Name, strings.Join(i.Hosts, ", https://"))
	}
	for _, p := range c.PVCs {
		t.Line("volume %s: %s %s", p.Name, p.Phase, p.Capacity)
	}
	for _, s := range c.Secrets {
		t.Line("secret %s: %s", s.Name, map[bool]string{true: "present", false: "missing"}[s.Exists])
	}
	if op := r.LastOperation; op != nil {
		t.Line("last operation: %s %s at %s (%s)", op.Action, op.Status, op.StartedAt.Format(time.RFC3339), op.ID)
	}
}

func appDeleteCmd(g *Globals) *cobra.Command {
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an app from the cluster and the instance",
		Long: `Delete in two phases. Phase 1 deletes what the app deployed and its
namespace, waits up to 30s, then forces the finalizers that block it.
Phase 2 always removes the local state (apps/NAME, apps.NAME in config.yaml
and secrets.yaml), even when the cluster cannot be reached; the output says
what was and was not cleaned in the cluster.

Secrets are deleted with the app: a later 'wild app add' generates new ones.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := g.appDelete(cmd.Context(), args[0], yes, force)
			if err != nil || res == nil {
				return err
			}
			return g.Printer().Print(res, func(t *Table) {
				t.Line("deleted %s", res.App)
				if res.ClusterCleaned {
					t.Line("  cluster: %s", res.ClusterDetail)
				} else {
					t.Line("  cluster: %s", res.ClusterDetail)
					t.Line("  the namespace may still exist; the next deploy of %s recovers it, or delete it when the cluster is back", res.App)
				}
				t.Line("  local: removed %s", strings.Join(res.LocalCleaned, ", "))
			})
		},
	}
	remoteCapable(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&force, "force", false, "delete even if other added apps depend on it")
	return cmd
}

func operationListCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:         "list [APP]",
		Short:       "List operation records, newest first",
		Args:        cobra.MaximumNArgs(1),
		Annotations: map[string]string{remoteOK: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := g.records(cmd.Context(), optionalArg(args))
			if err != nil {
				return err
			}
			if recs == nil {
				recs = []operation.Record{}
			}
			return g.Printer().Print(recs, func(t *Table) {
				t.Header("id", "action", "app", "status", "started", "duration")
				for _, r := range recs {
					t.Row(r.ID, r.Action, r.App, r.Status, r.StartedAt.Local().Format("2006-01-02 15:04:05"), (time.Duration(r.DurationMs) * time.Millisecond).String())
				}
			})
		},
	}
}

func operationShowCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one operation record: steps, timings, warnings, error",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, err := g.instance()
			if err != nil {
				return err
			}
			r, err := operation.Get(inst.Path(instance.OperationsDir), args[0])
			if err != nil {
				return err
			}
			return g.Printer().Print(r, func(t *Table) {
				t.Line("%s: %s %s %s (%dms)", r.ID, r.Action, r.App, r.Status, r.DurationMs)
				for _, s := range r.Steps {
					t.Line("  %-20s %-9s %6dms %s%s", s.Name, s.Status, s.DurationMs, s.Message, errSuffix(s.Error))
				}
				for _, w := range r.Warnings {
					t.Line("  warning: %s", w)
				}
				for _, c := range r.Changes {
					t.Line("  change: %s", c)
				}
				if r.Error != "" {
					t.Line("  error: %s", r.Error)
				}
			})
		},
	}
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " error: " + e
}

func (g *Globals) appDiff(ctx context.Context, app string) (*lifecycle.DiffResult, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.diff(ctx, app)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	return (&lifecycle.Diff{Env: env, App: app}).Run(ctx)
}

func (g *Globals) appStatus(ctx context.Context, app string) (*lifecycle.StatusResult, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		return r.status(ctx, app)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	return (&lifecycle.Status{Env: env, App: app}).Run(ctx)
}

// appDelete asks first (unless yes) when the app is added.
func (g *Globals) appDelete(ctx context.Context, app string, yes, force bool) (*lifecycle.DeleteResult, error) {
	ask := func() (bool, error) {
		return confirm(g, yes, fmt.Sprintf("Delete %s from the cluster and remove its config and secrets?", app))
	}
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		if ok, err := ask(); err != nil || !ok {
			return nil, err
		}
		return r.deleteApp(ctx, g, app, force)
	}
	env, err := g.env()
	if err != nil {
		return nil, err
	}
	if m, _ := lifecycle.ReadInstalledManifest(env.Instance, app); m != nil {
		if ok, err := ask(); err != nil || !ok {
			return nil, err
		}
	}
	return (&lifecycle.Delete{Env: env, App: app, Force: force}).Run(ctx)
}

// records lists operation records, here or on the server (the same
// records: the daemon's service layer writes them too).
func (g *Globals) records(ctx context.Context, app string) ([]operation.Record, error) {
	if r, err := g.remote(ctx); r != nil || err != nil {
		if err != nil {
			return nil, err
		}
		var out struct{ Records []operation.Record }
		q := ""
		if app != "" {
			q = "?app=" + url.QueryEscape(app)
		}
		return out.Records, r.c.Do(ctx, "GET", r.inst("/records"+q), nil, &out)
	}
	inst, err := g.instance()
	if err != nil {
		return nil, err
	}
	return operation.List(inst.Path(instance.OperationsDir), app)
}
