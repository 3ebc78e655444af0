package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
)

// Deploy makes the cluster match an added app (states DEPLOYING and
// DEPLOYED, 3a, and the recovery of Edge Cases 1-4).
type Deploy struct {
	Env
	App      string
	DryRun   bool
	NoWait   bool
	WithDeps bool
	Timeout  time.Duration
	// Progress receives live resource statuses while waiting.
	Progress func([]kube.ResourceStatus)
	// Client is reused across dependency deploys; made from the instance's
	// kubeconfig when nil.
	Client *kube.Client
	// AllowDirty deploys over uncommitted edits in apps/NAME/ (git mode).
	AllowDirty bool

	deployed map[string]bool
	// targets caches built apps within one run (RunMany, --with-deps), so a
	// dependency is built by kustomize once, not once per dependent.
	targets map[string]*target
	// lockHeld is set when the caller (update, rollback) already holds
	// the app lock; taking it again would wait on ourselves.
	lockHeld bool
	// buildDir, when set, is a preview compile to deploy from (dry run).
	buildDir string
}

// DeployResult reports what a deploy did; it never holds secret values.
type DeployResult struct {
	App        string        `json:"app"`
	Namespace  string        `json:"namespace"`
	DryRun     bool          `json:"dryRun"`
	Recompiled bool          `json:"recompiled"`
	Changes    []kube.Change `json:"changes"`
	Restarted  []string      `json:"restarted,omitempty"`
	Warnings   []string      `json:"warnings,omitempty"`
	Ready      bool          `json:"ready"`
	Deps       []string      `json:"depsDeployed,omitempty"`
	Operation  string        `json:"operation"`
}

// Unchanged reports whether the deploy changed nothing in the cluster.
func (r *DeployResult) Unchanged() bool {
	for _, c := range r.Changes {
		if c.Action != kube.ActionUnchanged && c.Action != kube.ActionSkipped {
			return false
		}
	}
	return !r.Recompiled
}

// DependencyError is a pre-flight failure: a dependency is not deployed or
// not ready. Nothing was applied.
type DependencyError struct {
	App     string
	Missing []string
	Reason  string
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("%s depends on %s, which %s; deploy it first: wild app deploy %s (or: wild app deploy %s --with-deps)",
		e.App, strings.Join(e.Missing, ", "), e.Reason, strings.Join(e.Missing, " && wild app deploy "), e.App)
}

// Run deploys the app (and, with WithDeps, its dependencies first).
func (d *Deploy) Run(ctx context.Context) (*DeployResult, error) {
	if d.Timeout == 0 {
		d.Timeout = 5 * time.Minute
	}
	if d.deployed == nil {
		d.deployed = map[string]bool{}
	}
	if d.targets == nil {
		d.targets = map[string]*target{}
	}
	m, err := ReadInstalledManifest(d.Instance, d.App)
	if err != nil {
		return nil, err
	}
	if m == nil {
		_, err := loadTarget(d.Instance, d.App) // validates the name and says how to add it
		return nil, err
	}
	if d.Client == nil {
		if d.Client, err = clientFor(d.Instance); err != nil {
			return nil, err
		}
	}
	var deps []string
	if d.WithDeps {
		if deps, err = d.deployDeps(ctx, m.InstalledAs); err != nil {
			return nil, err
		}
	}
	if !d.lockHeld {
		unlock, err := d.Instance.LockApp(d.App)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	action := "deploy"
	if d.DryRun {
		action = "deploy-dry-run"
	}
	op, err := operation.Start(d.Instance.Path(instance.OperationsDir), d.Instance.Name, action, d.App)
	if err != nil {
		return nil, err
	}
	res := &DeployResult{App: d.App, DryRun: d.DryRun, Deps: deps, Operation: op.ID()}
	err = d.run(ctx, op, res)
	res.Warnings = op.Warnings()
	for _, c := range res.Changes {
		if c.Action != kube.ActionUnchanged {
			op.Change(fmt.Sprintf("%s %s", c.Action, c.Ref))
		}
	}
	d.deployed[d.App] = err == nil
	return res, op.Finish(err)
}

func clientFor(inst *instance.Instance) (*kube.Client, error) {
	kc, err := inst.Kubeconfig()
	if err != nil {
		return nil, err
	}
	return kube.NewClient(kc)
}

// deployDeps deploys every dependency (recursively, each once) before the
// app, waiting for each to be ready so the app's pre-flight passes.
func (d *Deploy) deployDeps(ctx context.Context, installedAs map[string]string) ([]string, error) {
	var done []string
	for _, dep := range sortedDeps(installedAs) {
		if _, ok := d.deployed[dep]; ok {
			continue
		}
		sub := &Deploy{Env: d.Env, App: dep, DryRun: d.DryRun, NoWait: d.NoWait, WithDeps: true, Timeout: d.Timeout,
			Progress: d.Progress, Client: d.Client, AllowDirty: d.AllowDirty, deployed: d.deployed, targets: d.targets}
		d.logf("deploying dependency %s of %s", dep, d.App)
		res, err := sub.Run(ctx)
		if err != nil {
			return done, fmt.Errorf("deploy dependency %s: %w", dep, err)
		}
		done = append(done, append(res.Deps, dep)...)
	}
	return done, nil
}

func (d *Deploy) run(ctx context.Context, op *operation.Op, res *DeployResult) error {
	if gitmode.IsRepo(d.Instance) {
		op.Step("git checks")
		if err := d.gitChecks(); err != nil {
			return err
		}
	}
	op.Step("recompile")
	if err := d.recompile(res); err != nil {
		return err
	}
	if d.buildDir != "" {
		defer os.RemoveAll(d.buildDir)
	}
	t, err := d.target()
	if err != nil {
		return err
	}
	res.Namespace = t.namespace

	op.Step("check dependencies")
	if err := d.checkDeps(ctx, t); err != nil {
		return err
	}
	op.Step("check namespace")
	if err := d.prepareNamespace(ctx, t, op); err != nil {
		return err
	}
	op.Step("secrets")
	if err := d.secrets(ctx, t, op, res); err != nil {
		return err
	}
	op.Step("apply")
	applied, err := d.Client.Apply(ctx, t.objs, kube.ApplyOptions{DryRun: d.DryRun, Prune: true, Inventory: t.inventory()})
	if applied != nil {
		res.Changes = append(res.Changes, applied.Changes...)
	}
	if err != nil {
		return err
	}
	op.Note("%d objects, %d changed", len(t.objs), countChanged(applied.Changes))
	if d.DryRun || d.NoWait {
		return nil
	}
	op.Step("wait")
	d.logf("waiting up to %s for %s to be ready", d.Timeout, d.App)
	if err := d.Client.Wait(ctx, t.objs, d.Timeout, d.Progress); err != nil {
		var te *kube.WaitTimeoutError
		if errors.As(err, &te) {
			return fmt.Errorf("%w; the changes are applied and the cluster keeps trying: follow it with wild app status %s, or wait longer with --timeout", err, d.App)
		}
		return err
	}
	res.Ready = true
	return nil
}

func countChanged(cs []kube.Change) int {
	n := 0
	for _, c := range cs {
		if c.Action != kube.ActionUnchanged && c.Action != kube.ActionSkipped {
			n++
		}
	}
	return n
}

// gitChecks refuses to deploy unresolved merge conflicts, ever, and
// uncommitted hand edits unless AllowDirty: what is deployed must be what
// git records.
func (d *Deploy) gitChecks() error {
	if bad, files, err := gitmode.HasConflictMarkers(d.Instance, d.App); err != nil {
		return err
	} else if bad {
		return fmt.Errorf("apps/%s has unresolved merge conflicts in %s; resolve the <<<<<<< markers, then: wild app update %s --continue", d.App, strings.Join(files, ", "), d.App)
	}
	if dirty, files, err := gitmode.DirtyApp(d.Instance, d.App); err != nil {
		return err
	} else if dirty && !d.AllowDirty {
		return fmt.Errorf("apps/%s has uncommitted edits (%s); commit them (git add + git commit in %s) or pass --allow-dirty", d.App, strings.Join(files, ", "), d.Instance.Dir)
	}
	return nil
}

// recompile re-adds the app when its config changed since the last compile
// (state 3a). In a dry run it only says so: a dry run writes nothing.
func (d *Deploy) recompile(res *DeployResult) error {
	need, err := NeedsRecompile(d.Instance, d.App)
	if err != nil || !need {
		return err
	}
	if gitmode.IsRepo(d.Instance) {
		if custom, err := gitmode.Customized(d.Instance, d.App); err == nil && custom {
			// Re-rendering would overwrite committed hand edits; they win.
			d.logf("warning: config of %s changed since it was compiled, but apps/%s has committed hand edits, so it was not recompiled; deploying the committed files (to re-render over your edits: wild app add %s)", d.App, d.App, d.App)
			return nil
		}
	}
	if d.DryRun {
		return d.preview(res)
	}
	pkg, err := d.Catalog.Get(d.App)
	if err != nil {
		return fmt.Errorf("config of %s changed, but it cannot be recompiled: %w", d.App, err)
	}
	add := &Add{Env: d.Env, App: d.App}
	r, err := add.runLocked(pkg)
	if err != nil {
		return fmt.Errorf("recompile %s: %w", d.App, err)
	}
	res.Recompiled = filesChanged(r.Files)
	d.logf("recompiled %s after a config change", d.App)
	return nil
}

func (d *Deploy) target() (*target, error) {
	if d.buildDir != "" {
		return loadTargetFrom(d.Instance, d.App, d.buildDir)
	}
	t, err := loadTarget(d.Instance, d.App)
	if err == nil && d.targets != nil {
		d.targets[d.App] = t
	}
	return t, err
}

// depTarget returns a dependency's built target, from this run's cache
// when it was deployed moments ago.
func (d *Deploy) depTarget(dep string) (*target, error) {
	if t := d.targets[dep]; t != nil {
		return t, nil
	}
	return loadTarget(d.Instance, dep)
}

// preview compiles the changed config into a temp dir, so a dry run shows
// what the real deploy will apply, and writes nothing to the instance.
func (d *Deploy) preview(res *DeployResult) error {
	files, err := (&Add{Env: d.Env, App: d.App}).Preview()
	if err != nil {
		return fmt.Errorf("config of %s changed, but it does not compile: %w", d.App, err)
	}
	dir, err := os.MkdirTemp("", "wild-preview-"+d.App+"-")
	if err != nil {
		return err
	}
	if err := writeFiles(dir, files); err != nil {
		os.RemoveAll(dir)
		return err
	}
	d.buildDir = dir
	res.Recompiled = true
	d.logf("config of %s changed since it was compiled; the dry run shows the recompiled manifests", d.App)
	return nil
}

// checkDeps is the pre-flight of Edge Case 3: every mapped dependency must
// be deployed and ready, or nothing is applied.
func (d *Deploy) checkDeps(ctx context.Context, t *target) error {
	var notDeployed []string
	for _, dep := range sortedDeps(t.manifest.InstalledAs) {
		if d.deployed[dep] {
			continue // deployed (and, unless --no-wait, waited for) in this run
		}
		dt, err := d.depTarget(dep)
		if err != nil {
			return err
		}
		refs, err := d.Client.InventoryRefs(ctx, dt.inventory())
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			notDeployed = append(notDeployed, dep)
			continue
		}
		if d.DryRun {
			continue
		}
		if d.NoWait {
			// --no-wait never blocks on readiness; the user is told instead.
			if err := d.Client.Wait(ctx, dt.objs, time.Millisecond, nil); err != nil {
				d.logf("warning: dependency %s is deployed but not ready yet; %s may not start until it is", dep, d.App)
			}
			continue
		}
		// A dependency deployed a moment ago (--no-wait) gets a bounded
		// grace period to become ready rather than an immediate failure.
		if err := d.Client.Wait(ctx, dt.objs, min(d.Timeout, time.Minute), nil); err != nil {
			return &DependencyError{App: d.App, Missing: []string{dep}, Reason: "is deployed but not ready (" + oneLine(err) + ")"}
		}
	}
	if len(notDeployed) > 0 {
		return &DependencyError{App: d.App, Missing: notDeployed, Reason: "is not deployed"}
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// prepareNamespace recovers a namespace stuck Terminating (Edge Cases 1
// and 2), then creates or stamps it, refusing one another owner holds.
func (d *Deploy) prepareNamespace(ctx context.Context, t *target, op *operation.Op) error {
	phase, err := d.Client.NamespacePhase(ctx, t.namespace)
	if err != nil {
		return err
	}
	if phase == "Terminating" && !d.DryRun {
		d.logf("namespace %s is terminating; clearing what blocks it", t.namespace)
		op.Note("namespace %s was Terminating", t.namespace)
		err := d.Client.ClearTerminating(ctx, t.namespace, kube.ClearOptions{Attempts: 3, Wait: 5 * time.Second, Progress: func(s string) {
			d.logf("  %s", s)
			op.Note("%s", s)
		}})
		if err != nil {
			return err
		}
	}
	_, err = d.Client.EnsureNamespace(ctx, t.namespace, t.owner(d.Instance), d.DryRun)
	return err
}

// secrets writes <app>-secrets from secrets.yaml (the source of truth,
// Edge Case 4), stamps its hash on the workloads that use it so a change
// rolls them, and copies dependency and wildcard TLS secrets the app uses.
func (d *Deploy) secrets(ctx context.Context, t *target, op *operation.Op, res *DeployResult) error {
	data, err := secretData(d.Instance, d.App)
	if err != nil {
		return err
	}
	labels := t.inventory().Labels()
	ch, err := d.Client.ApplySecret(ctx, t.namespace, t.secretName(), data, labels, d.DryRun)
	if err != nil {
		return err
	}
	res.Changes = append(res.Changes, ch)
	stamped := kube.StampSecretHash(t.objs, t.secretName(), kube.SecretHash(data))
	if ch.Action != kube.ActionUnchanged && ch.Action != kube.ActionCreated {
		res.Restarted = stamped
	}
	return d.copySecrets(ctx, t, labels, op, res)
}

type secretCopy struct {
	from, name string
	tls        bool
}

// copySecrets copies the dependency and wildcard TLS secrets the app's
// manifests reference, concurrently: they are independent, and a deploy
// of many apps does this for each.
func (d *Deploy) copySecrets(ctx context.Context, t *target, labels map[string]string, op *operation.Op, res *DeployResult) error {
	text := compiledText(d.Instance, d.App)
	var copies []secretCopy
	for _, dep := range sortedDeps(t.manifest.InstalledAs) {
		if name := dep + "-secrets"; strings.Contains(text, name) {
			ns, err := d.depNamespace(dep)
			if err != nil {
				return err
			}
			copies = append(copies, secretCopy{ns, name, false})
		}
	}
	for _, name := range wildcardSecrets {
		if strings.Contains(text, name) {
			copies = append(copies, secretCopy{certManagerNamespace, name, true})
		}
	}
	changes := make([]kube.Change, len(copies))
	errs := make([]error, len(copies))
	var wg sync.WaitGroup
	for i, c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			changes[i], errs[i] = d.Client.CopySecret(ctx, c.from, c.name, t.namespace, labels, d.DryRun)
		}()
	}
	wg.Wait()
	for i, c := range copies {
		var nf *kube.SecretNotFoundError
		switch {
		case c.tls && errors.As(errs[i], &nf):
			op.Warn("TLS secret %s/%s does not exist, so %s's Ingress has no certificate yet; create it (cert-manager) and redeploy", c.from, c.name, d.App)
			d.logf("warning: %s/%s not found; the Ingress will serve without it until it exists", c.from, c.name)
		case errs[i] != nil:
			return fmt.Errorf("copy %s into %s: %w", c.name, t.namespace, errs[i])
		default:
			res.Changes = append(res.Changes, changes[i])
		}
	}
	return nil
}

// depNamespace is where a dependency's Secret lives: its compiled
// namespace (from this run's cache when it was just deployed).
func (d *Deploy) depNamespace(dep string) (string, error) {
	dt, err := d.depTarget(dep)
	if err != nil {
		return "", fmt.Errorf("dependency %s: %w", dep, err)
	}
	return dt.namespace, nil
}

// RunMany deploys apps in the given order with one client, each
// dependency at most once. It stops at the first failure and returns the
// results so far.
func (d *Deploy) RunMany(ctx context.Context, apps []string) ([]*DeployResult, error) {
	var out []*DeployResult
	if d.deployed == nil {
		d.deployed = map[string]bool{}
	}
	if d.targets == nil {
		d.targets = map[string]*target{}
	}
	for _, app := range apps {
		if d.deployed[app] {
			continue
		}
		one := *d
		one.App = app
		res, err := one.Run(ctx)
		d.Client = one.Client
		if res != nil {
			out = append(out, res)
		}
		if err != nil && len(apps) > 1 {
			return out, fmt.Errorf("%s: %w", app, err)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
