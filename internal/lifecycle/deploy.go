package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// Deploy makes the cluster match an added app (states DEPLOYING and
// DEPLOYED, 3a, and the recovery of edge cases 1-4; see doc.go).
// It holds options only; one run's state lives in a deployRun.
type Deploy struct {
	Env
	App      string
	DryRun   bool
	NoWait   bool
	WithDeps bool
	Timeout  time.Duration
	// Client is reused across dependency deploys; made from the instance's
	// kubeconfig when nil.
	Client *kube.Client
	// AllowDirty deploys over uncommitted edits in apps/NAME/ (git mode).
	AllowDirty bool
	// waitListing makes every app of RunMany wait for the listing rather
	// than read for itself while it is under way: tests use it to know
	// which path answered.
	waitListing bool
}

// deployRun is the state shared by the deploys of one run (RunMany,
// --with-deps): the client, what was deployed, and the built apps, so a
// dependency is built by kustomize once, not once per dependent.
type deployRun struct {
	opts     Deploy
	client   *kube.Client
	deployed map[string]bool
	targets  map[string]*target
	first    bool // the next operation record takes Env.OperationID
	// listing is RunMany's consistent listing of the instance; changed
	// records that a deploy of this run changed the cluster, after which
	// the listing is not trusted.
	listing *listing
	changed bool
}

// deployOne is one app's deploy within a run.
type deployOne struct {
	*deployRun
	app string
	op  *operation.Op
	res *DeployResult
	// buildDir, when set, is a preview compile to deploy from (dry run).
	buildDir string
	// current holds the objects' statuses when the no-op check read them.
	current []kube.ResourceStatus
	copies  *[]secretCopy     // plannedCopies, once per deploy
	secret  map[string][]byte // secretData, once per deploy
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
	return !kube.AnyChanged(r.Changes) && !r.Recompiled
}

// DependencyError is a pre-flight failure: a dependency is not deployed or
// not ready. Nothing was applied. It unwraps to a *problem.Error with the
// advice (deploy the dependency, or the app with its dependencies).
type DependencyError struct {
	App     string
	Missing []string
	Reason  string
}

func (e *DependencyError) Error() string { return e.problem().Error() }

// Unwrap returns the typed problem, so problem.CodeOf and HintOf see it.
func (e *DependencyError) Unwrap() error { return e.problem() }

func (e *DependencyError) problem() *problem.Error {
	return problem.New(problem.PreconditionFailed, fmt.Sprintf("%s depends on %s, which %s", e.App, strings.Join(e.Missing, ", "), e.Reason)).
		With("app.deploy", "deploy it first", "app", strings.Join(e.Missing, " ")).
		Or("app.deploy", "app", e.App, "flag", "with-deps")
}

// Run takes the app's lock and deploys the app (and, with WithDeps, its
// dependencies first, each under its own lock).
func (d *Deploy) Run(ctx context.Context) (*DeployResult, error) {
	return d.newRun().deploy(ctx, d.App, false)
}

// RunLocked is Run for a caller that already holds the app's lock (an
// update or rollback that redeploys, or a daemon that took it with
// TryLockApp). Dependencies are still locked one by one.
func (d *Deploy) RunLocked(ctx context.Context) (*DeployResult, error) {
	return d.newRun().deploy(ctx, d.App, true)
}

// RunMany deploys apps in the given order with one client, each
// dependency at most once. It stops at the first failure and returns the
// results so far.
func (d *Deploy) RunMany(ctx context.Context, apps []string) ([]*DeployResult, error) {
	r := d.newRun()
	r.startListing(ctx, apps)
	var out []*DeployResult
	for _, app := range apps {
		if r.deployed[app] {
			continue
		}
		res, err := r.deploy(ctx, app, false)
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

func (d *Deploy) newRun() *deployRun {
	opts := *d
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	return &deployRun{opts: opts, client: d.Client, deployed: map[string]bool{}, targets: map[string]*target{}, first: true}
}

// deploy deploys one app of the run; locked says the caller holds its lock.
func (r *deployRun) deploy(ctx context.Context, app string, locked bool) (*DeployResult, error) {
	m, err := ReadInstalledManifest(r.opts.Instance, app)
	if err != nil {
		return nil, err
	}
	if m == nil {
		_, err := loadTarget(r.opts.Instance, app) // validates the name and says how to add it
		return nil, err
	}
	if r.client == nil {
		if r.client, err = idleClientFor(r.opts.Instance); err != nil {
			return nil, err
		}
	}
	var deps []string
	if r.opts.WithDeps {
		if deps, err = r.deployDeps(ctx, app, m.InstalledAs); err != nil {
			return nil, err
		}
	}
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	if !locked {
		unlock, err := r.opts.Instance.LockApp(app)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	defer r.prefetch(ctx, app)()
	action := "deploy"
	if r.opts.DryRun {
		action = "deploy-dry-run"
	}
	env := r.opts.Env
	if !r.first {
		env = env.side()
	}
	r.first = false
	// Quiet: a no-op redeploy writes its record once, at the end.
	op, err := env.startQuietOp(action, app)
	if err != nil {
		return nil, err
	}
	one := &deployOne{deployRun: r, app: app, op: op,
		res: &DeployResult{App: app, DryRun: r.opts.DryRun, Deps: deps, Operation: op.ID()}}
	err = one.run(ctx)
	one.res.Warnings = op.Warnings()
	for _, c := range one.res.Changes {
		if c.Action != kube.ActionUnchanged {
			op.Change(fmt.Sprintf("%s %s", c.Action, c.Ref))
		}
	}
	r.deployed[app] = err == nil
	if err == nil && one.res.Unchanged() {
		op.ChangedNothing()
	} else {
		r.changed = true
	}
	return one.res, op.FinishCtx(ctx, err)
}

// clientFor is a client for the instance's cluster, its connection
// opening in the background (kube.Client.Warm).
func clientFor(inst *instance.Instance) (*kube.Client, error) {
	c, err := idleClientFor(inst)
	if err == nil {
		c.Warm()
	}
	return c, err
}

// idleClientFor is clientFor without the warming ping: a deploy opens
// the connection with its first read instead (prefetch).
func idleClientFor(inst *instance.Instance) (*kube.Client, error) {
	kc, err := inst.Kubeconfig()
	if err != nil {
		return nil, err
	}
	return kube.NewIdleClient(kc)
}

// prefetch starts reading the app's inventory, which every deploy reads,
// as soon as the app is locked: the read opens the connection while the
// app is loaded and built, as a ping would, without costing the API
// server a request of its own. The returned func drops an unused answer.
// A run with a listing (startListing) has its connection open already,
// and answers most checks without reading inventories: it prefetches
// nothing.
func (r *deployRun) prefetch(ctx context.Context, app string) func() {
	if r.listing != nil {
		return func() {}
	}
	inv, err := inventoryOf(r.opts.Instance, app)
	if err != nil {
		r.client.Warm() // the deploy reports the error itself, once it reads the app
		return func() {}
	}
	return r.client.PrefetchInventory(ctx, inv)
}

// deployDeps deploys every dependency (recursively, each once) before the
// app, waiting for each to be ready so the app's pre-flight passes.
func (r *deployRun) deployDeps(ctx context.Context, app string, installedAs map[string]string) ([]string, error) {
	var done []string
	for _, dep := range sortedDeps(installedAs) {
		if _, ok := r.deployed[dep]; ok {
			continue
		}
		r.opts.logf(app, "deploying dependency %s of %s", dep, app)
		res, err := r.deploy(ctx, dep, false)
		if err != nil {
			return done, fmt.Errorf("deploy dependency %s: %w", dep, err)
		}
		done = append(done, append(res.Deps, dep)...)
	}
	return done, nil
}

func (o *deployOne) inst() *instance.Instance { return o.opts.Instance }

func (o *deployOne) run(ctx context.Context) error {
	if gitmode.IsRepo(o.inst()) {
		o.op.Step("preflight")
		if err := o.gitChecks(); err != nil {
			return err
		}
	}
	o.op.Step("compile")
	if err := o.recompile(); err != nil {
		return err
	}
	if o.buildDir != "" {
		defer os.RemoveAll(o.buildDir)
	}
	t, err := o.target()
	if err != nil {
		return err
	}
	o.res.Namespace = t.namespace

	// The no-op check only reads, so it runs beside the dependency check
	// (whose failure still stops the deploy before anything is written).
	noop := o.startUnchanged(ctx, t)
	if err := o.runSteps(ctx, t, deployStep{"dependencies", o.checkDeps}); err != nil {
		return err
	}
	if err := cancelled(ctx); err != nil {
		return err
	}
	if !noop() {
		if err := o.write(ctx, t); err != nil {
			return err
		}
	}
	if o.opts.DryRun || o.opts.NoWait {
		return nil
	}
	if allCurrent(o.current) {
		o.res.Ready = true // as listed a moment ago: nothing to wait for
		return nil
	}
	o.op.Step("wait")
	return o.wait(ctx, t)
}

// deployStep is one phase of a deploy, recorded as a step of its
// operation.
type deployStep struct {
	phase string
	do    func(context.Context, *target) error
}

func (o *deployOne) runSteps(ctx context.Context, t *target, steps ...deployStep) error {
	for _, s := range steps {
		if err := cancelled(ctx); err != nil {
			return err
		}
		o.op.Step(s.phase)
		if err := s.do(ctx, t); err != nil {
			return err
		}
		crashpoint.Hit("deploy.after-" + s.phase)
	}
	return nil
}

// write runs the steps that change the cluster, after announcing the
// operation (its record exists before the first change). A namespace
// deleted under their writes (edge case 2 met mid-deploy) is recovered
// once: the steps run again from the namespace step, which recovers it,
// and what the failed pass recorded is dropped, so each change is
// reported once.
func (o *deployOne) write(ctx context.Context, t *target) error {
	if err := o.op.Announce(); err != nil {
		return err
	}
	steps := []deployStep{{"namespace", o.prepareNamespace}, {"secrets", o.secrets}, {"apply", o.apply}}
	changes := len(o.res.Changes)
	err := o.runSteps(ctx, t, steps...)
	if !kube.IsNamespaceTerminating(err) {
		return err
	}
	o.opts.logf(o.app, "namespace %s began terminating during the deploy; recovering it", t.namespace)
	o.op.Note("namespace %s began terminating during the deploy", t.namespace)
	o.res.Changes = o.res.Changes[:changes]
	return o.runSteps(ctx, t, steps...)
}

// startUnchanged starts the no-op fast path's reads and returns what
// tells their outcome: when the cluster already holds what the namespace,
// secrets and apply steps would write (kube.Unchanged, one round of
// concurrent reads with Apply's own fingerprint rule), they are skipped.
// Anything else, drift or a deleted object included, answers false and
// the full steps run and repair it.
func (o *deployOne) startUnchanged(ctx context.Context, t *target) func() bool {
	no := func() bool { return false }
	// An app this instance never deployed is a first deploy: the check
	// would only cost it a round of reads that find nothing. The hint is
	// safe both ways, since the check decides nothing by itself.
	if o.opts.DryRun || !operation.Ran(o.inst().Path(instance.OperationsDir), "deploy", o.app, o.op.ID()) {
		return no
	}
	state, err := o.noopState(t)
	if err != nil {
		return no
	}
	check := o.listedCheck(ctx, state)
	if check == nil {
		check = startCheck(ctx, o.client, state)
	}
	return func() bool {
		o.op.Step("check")
		<-check.done
		if !check.ok {
			return false
		}
		for _, m := range check.res.Missing {
			o.warnNoTLS(m.Namespace, m.Name)
		}
		o.res.Changes = append(o.res.Changes, check.res.Changes...)
		o.current = check.res.Statuses
		o.op.Note("%d objects, 0 changed (every recorded fingerprint matches%s)", len(t.objs), check.note)
		return true
	}
}

// noopState is what the no-op check compares the cluster with: the
// objects as Apply would send them, and the namespace, Secret and copies
// the namespace and secrets steps would write.
func (o *deployOne) noopState(t *target) (kube.DeployState, error) {
	data, err := o.secretData(t)
	if err != nil {
		return kube.DeployState{}, err
	}
	copies, err := o.plannedCopies(t)
	if err != nil {
		return kube.DeployState{}, err
	}
	srcs := make([]kube.SecretSource, len(copies))
	for i, c := range copies {
		srcs[i] = kube.SecretSource{Namespace: c.from, Name: c.name, Optional: c.tls}
	}
	kube.StampSecretHash(t.objs, t.secretName(), kube.SecretHash(data))
	return kube.DeployState{Inventory: t.inventory(), Objects: t.objs, Namespace: t.namespace,
		Owner: t.owner(o.inst()), SecretName: t.secretName(), SecretData: data, Copies: srcs}, nil
}

// allCurrent reports whether every status is Current (false for none).
func allCurrent(sts []kube.ResourceStatus) bool {
	for _, s := range sts {
		if s.Status != kube.StatusCurrent {
			return false
		}
	}
	return len(sts) > 0
}

func (o *deployOne) apply(ctx context.Context, t *target) error {
	applied, err := o.client.Apply(ctx, t.objs, kube.ApplyOptions{DryRun: o.opts.DryRun, Prune: true, Inventory: t.inventory()})
	if applied != nil {
		o.res.Changes = append(o.res.Changes, applied.Changes...)
	}
	if err != nil {
		return err
	}
	o.op.Note("%d objects, %d changed", len(t.objs), kube.CountChanged(applied.Changes))
	return nil
}

func (o *deployOne) wait(ctx context.Context, t *target) error {
	o.opts.logf(o.app, "waiting up to %s for %s to be ready", o.opts.Timeout, o.app)
	if err := o.client.Wait(ctx, t.objs, o.opts.Timeout, resourceEvents(o.opts.observer(), o.app)); err != nil {
		var te *kube.WaitTimeoutError
		if errors.As(err, &te) {
			return problem.Wrap(problem.Unavailable, err, "").
				With("app.status", "the changes are applied and the cluster keeps trying; wait longer with a longer timeout, or follow it", "app", o.app)
		}
		return err
	}
	o.res.Ready = true
	return nil
}

// resourceEvents turns Wait's polls into one resource_status event per
// resource whose status or message changed.
func resourceEvents(obs event.Observer, app string) func([]kube.ResourceStatus) {
	var mu sync.Mutex
	last := map[kube.ObjectRef]string{}
	return func(sts []kube.ResourceStatus) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now().UTC()
		for _, s := range sts {
			key := s.Status + "\x00" + s.Message
			if last[s.Ref] == key {
				continue
			}
			last[s.Ref] = key
			obs.Observe(event.Event{Kind: event.ResourceStatus, Time: now, App: app, Phase: "wait", Resource: &event.Resource{
				Kind: s.Ref.Kind, Namespace: s.Ref.Namespace, Name: s.Ref.Name, Status: s.Status, Message: s.Message}})
		}
	}
}

// gitChecks refuses to deploy unresolved merge conflicts, ever, and
// uncommitted hand edits unless AllowDirty: what is deployed must be what
// git records.
func (o *deployOne) gitChecks() error {
	if bad, files, err := gitmode.HasConflictMarkers(o.inst(), o.app); err != nil {
		return err
	} else if bad {
		return problem.New(problem.Conflict, fmt.Sprintf("apps/%s has unresolved merge conflicts in %s", o.app, strings.Join(files, ", "))).
			With("app.update", "resolve the <<<<<<< markers, then", "app", o.app, "flag", "continue")
	}
	if dirty, files, err := gitmode.DirtyApp(o.inst(), o.app); err != nil {
		return err
	} else if dirty && !o.opts.AllowDirty {
		return problem.New(problem.PreconditionFailed, fmt.Sprintf("apps/%s has uncommitted edits (%s); commit them (git add + git commit in %s) or allow them", o.app, strings.Join(files, ", "), o.inst().Dir)).
			With("app.deploy", "deploy anyway", "app", o.app, "flag", "allow-dirty")
	}
	return nil
}

// recompile re-adds the app when its config changed since the last compile
// (the "changed" state, see doc.go). In a dry run it only says so: a dry run writes nothing.
func (o *deployOne) recompile() error {
	need, err := NeedsRecompile(o.inst(), o.app)
	if err != nil || !need {
		return err
	}
	if gitmode.IsRepo(o.inst()) {
		if custom, err := gitmode.Customized(o.inst(), o.app, Recompile); err == nil && custom {
			// Re-rendering would overwrite committed hand edits; they win.
			o.op.Warn("config of %s changed since it was compiled, but apps/%s has committed hand edits, so it was not recompiled; deploying the committed files (to re-render over your edits, add %s again)", o.app, o.app, o.app)
			return nil
		}
	}
	if o.opts.DryRun {
		return o.preview()
	}
	if err := o.op.Announce(); err != nil {
		return err
	}
	pkg, err := o.opts.Catalog.Get(o.app)
	if err != nil {
		return fmt.Errorf("config of %s changed, but it cannot be recompiled: %w", o.app, err)
	}
	r, err := addLocked(o.opts.Env.side(), addOptions{App: o.app}, pkg)
	if err != nil {
		return fmt.Errorf("recompile %s: %w", o.app, err)
	}
	o.res.Recompiled = filesChanged(r.Files)
	o.opts.logf(o.app, "recompiled %s after a config change", o.app)
	return nil
}

func (o *deployOne) target() (*target, error) {
	if o.buildDir != "" {
		return loadTargetFrom(o.inst(), o.app, o.buildDir)
	}
	t, err := loadTarget(o.inst(), o.app)
	if err == nil {
		o.targets[o.app] = t
	}
	return t, err
}

// depTarget returns a dependency's built target, from this run's cache
// when it was deployed or read moments ago: an app's deploy reads its
// dependency twice (the secret copies it plans, then the pre-flight), and
// each load parses the manifest and decodes every object. A dependency
// deployed later in the run replaces the entry with what it deployed.
func (r *deployRun) depTarget(dep string) (*target, error) {
	if t := r.targets[dep]; t != nil {
		return t, nil
	}
	t, err := loadTarget(r.opts.Instance, dep)
	if err == nil {
		r.targets[dep] = t
	}
	return t, err
}

// preview compiles the changed config into a temp dir, so a dry run shows
// what the real deploy will apply, and writes nothing to the instance.
func (o *deployOne) preview() error {
	files, err := previewAdd(&o.opts.Env, addOptions{App: o.app})
	if err != nil {
		return fmt.Errorf("config of %s changed, but it does not compile: %w", o.app, err)
	}
	dir, err := os.MkdirTemp("", "wild-preview-"+o.app+"-")
	if err != nil {
		return err
	}
	if err := writeFiles(dir, files); err != nil {
		os.RemoveAll(dir)
		return err
	}
	o.buildDir = dir
	o.res.Recompiled = true
	o.opts.logf(o.app, "config of %s changed since it was compiled; the dry run shows the recompiled manifests", o.app)
	return nil
}

// checkDeps is the pre-flight of edge case 3: every mapped dependency must
// be deployed and ready, or nothing is applied. A dependency whose
// namespace is Terminating counts as not deployed: it is going away,
// whatever its workloads and inventory still show, and deploying it
// recovers the namespace (prepareNamespace).
func (o *deployOne) checkDeps(ctx context.Context, t *target) error {
	var notDeployed, terminating []string
	for _, dep := range sortedDeps(t.manifest.InstalledAs) {
		if o.deployed[dep] {
			continue // deployed (and, unless NoWait, waited for) in this run
		}
		dt, err := o.depTarget(dep)
		if err != nil {
			return err
		}
		st, err := o.depState(ctx, dt)
		if err != nil {
			return err
		}
		if st.terminating {
			terminating = append(terminating, dep)
			continue
		}
		if !st.deployed {
			notDeployed = append(notDeployed, dep)
			continue
		}
		if o.opts.DryRun {
			continue
		}
		if o.opts.NoWait {
			// NoWait never blocks on readiness; the user is told instead.
			if !st.ready {
				o.op.Warn("dependency %s is deployed but not ready yet; %s may not start until it is", dep, o.app)
			}
			continue
		}
		// A dependency deployed a moment ago (NoWait) gets a bounded
		// grace period to become ready rather than an immediate failure.
		if err := o.client.Wait(ctx, dt.objs, min(o.opts.Timeout, time.Minute), nil); err != nil {
			return &DependencyError{App: o.app, Missing: []string{dep}, Reason: "is deployed but not ready (" + oneLine(err) + ")"}
		}
	}
	if len(terminating) > 0 {
		return &DependencyError{App: o.app, Missing: terminating, Reason: "is being deleted (its namespace is Terminating)"}
	}
	if len(notDeployed) > 0 {
		return &DependencyError{App: o.app, Missing: notDeployed, Reason: "is not deployed"}
	}
	return nil
}

// depStatus is what checkDeps knows of a dependency.
type depStatus struct {
	deployed, ready bool // ready is only read under NoWait
	terminating     bool // its namespace is being deleted
}

// depState reads a dependency's state. Its namespace is read beside the
// rest, so a deploy waits for one round trip, not two. Under NoWait its
// workloads are read first: when they show it deployed
// (kube.Client.Ready), its inventory is not read, one request fewer in
// every deploy of an app with a dependency. Else, and always without
// NoWait, its inventory decides.
func (o *deployOne) depState(ctx context.Context, dt *target) (depStatus, error) {
	var st depStatus
	var phase string
	var g errgroup.Group
	g.Go(func() (err error) { phase, err = o.client.NamespacePhase(ctx, dt.namespace); return err })
	g.Go(func() (err error) { st, err = o.depDeployed(ctx, dt); return err })
	err := g.Wait()
	st.terminating = phase == kube.PhaseTerminating
	return st, err
}

func (o *deployOne) depDeployed(ctx context.Context, dt *target) (depStatus, error) {
	if o.opts.NoWait && !o.opts.DryRun {
		// A failed read is only "not known ready": the warning.
		ready, deployed, err := o.client.Ready(ctx, kube.ReadinessSet(dt.objs), dt.inventory())
		if err == nil && deployed {
			return depStatus{deployed: true, ready: ready}, nil
		}
	}
	refs, err := o.client.InventoryRefs(ctx, dt.inventory())
	return depStatus{deployed: len(refs) > 0}, err
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// prepareNamespace recovers a namespace stuck Terminating (edge cases 1
// and 2), then creates or stamps it, refusing one another owner holds.
func (o *deployOne) prepareNamespace(ctx context.Context, t *target) error {
	phase, err := o.client.NamespacePhase(ctx, t.namespace)
	if err != nil {
		return err
	}
	if phase == "Terminating" && !o.opts.DryRun {
		o.opts.logf(o.app, "namespace %s is terminating; clearing what blocks it", t.namespace)
		o.op.Note("namespace %s was Terminating", t.namespace)
		err := o.client.ClearTerminating(ctx, t.namespace, kube.ClearOptions{Attempts: 3, Wait: 5 * time.Second, Progress: func(s string) {
			o.opts.logf(o.app, "  %s", s)
			o.op.Note("%s", s)
		}})
		if err != nil {
			return err
		}
	}
	_, err = o.client.EnsureNamespace(ctx, t.namespace, t.owner(o.inst()), o.opts.DryRun)
	return err
}

// secrets writes <app>-secrets from secrets.yaml (the source of truth,
// edge case 4), stamps its hash on the workloads that use it so a change
// rolls them, and copies dependency and wildcard TLS secrets the app uses.
func (o *deployOne) secrets(ctx context.Context, t *target) error {
	data, err := o.secretData(t)
	if err != nil {
		return err
	}
	labels := t.inventory().Labels()
	// The copies do not depend on the app Secret: both go at once, since
	// a no-op deploy is bound by round trips.
	var ch kube.Change
	done := make(chan error, 1)
	go func() {
		var err error
		ch, err = o.client.ApplySecret(ctx, t.namespace, t.secretName(), data, labels, o.opts.DryRun)
		done <- err
	}()
	copies, copyErr := o.copySecrets(ctx, t, labels)
	if err := <-done; err != nil {
		return err
	}
	o.res.Changes = append(o.res.Changes, ch)
	o.res.Changes = append(o.res.Changes, copies...)
	stamped := kube.StampSecretHash(t.objs, t.secretName(), kube.SecretHash(data))
	if ch.Action != kube.ActionUnchanged && ch.Action != kube.ActionCreated {
		o.res.Restarted = stamped
	}
	return copyErr
}

type secretCopy struct {
	from, name string
	tls        bool
}

func (o *deployOne) warnNoTLS(ns, name string) {
	o.op.Warn("TLS secret %s/%s does not exist, so %s's Ingress has no certificate yet; create it (cert-manager) and redeploy", ns, name, o.app)
}

// secretData is the app Secret's data from secrets.yaml, read once per
// deploy: the no-op check and the secrets step compare and write the same.
func (o *deployOne) secretData(t *target) (map[string][]byte, error) {
	if o.secret != nil {
		return o.secret, nil
	}
	data, err := t.secretData(o.inst())
	if err == nil {
		o.secret = data
	}
	return data, err
}

// plannedCopies lists the dependency and wildcard TLS secrets the app's
// manifests reference.
func (o *deployOne) plannedCopies(t *target) ([]secretCopy, error) {
	if o.copies != nil {
		return *o.copies, nil
	}
	text := compiledText(o.inst(), o.app)
	var copies []secretCopy
	for _, dep := range sortedDeps(t.manifest.InstalledAs) {
		if name := dep + "-secrets"; strings.Contains(text, name) {
			dt, err := o.depTarget(dep)
			if err != nil {
				return nil, fmt.Errorf("dependency %s: %w", dep, err)
			}
			copies = append(copies, secretCopy{dt.namespace, name, false})
		}
	}
	for _, name := range kube.WildcardTLSSecrets {
		if strings.Contains(text, name) {
			copies = append(copies, secretCopy{kube.CertManagerNamespace, name, true})
		}
	}
	o.copies = &copies
	return copies, nil
}

// copySecrets copies the dependency and wildcard TLS secrets the app's
// manifests reference, concurrently: they are independent, and a deploy
// of many apps does this for each.
func (o *deployOne) copySecrets(ctx context.Context, t *target, labels map[string]string) ([]kube.Change, error) {
	copies, err := o.plannedCopies(t)
	if err != nil {
		return nil, err
	}
	changes := make([]kube.Change, len(copies))
	errs := make([]error, len(copies))
	var wg sync.WaitGroup
	for i, c := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			changes[i], errs[i] = o.client.CopySecret(ctx, c.from, c.name, t.namespace, labels, o.opts.DryRun)
		}()
	}
	wg.Wait()
	var done []kube.Change
	for i, c := range copies {
		var nf *kube.SecretNotFoundError
		switch {
		case c.tls && errors.As(errs[i], &nf):
			o.warnNoTLS(c.from, c.name)
		case errs[i] != nil:
			return done, fmt.Errorf("copy %s into %s: %w", c.name, t.namespace, errs[i])
		default:
			done = append(done, changes[i])
		}
	}
	return done, nil
}
