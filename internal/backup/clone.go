package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// Clone restores a backup of an app made in another instance (the
// source, A) into this one (Env.Instance, B) as B's own app: added from
// B's catalog with B's config defaults (domain, hosts, namespace) and B's
// secrets, then its databases and volumes filled from the backup, then
// deployed. The policy of what crosses over is ClonePolicy's. The source
// is only read: its config, secrets, plans and cluster objects are never
// written. A failed clone is resumed by running it again, which
// converges; the record backups/APP/clone.yaml in B says how far it got.
type Clone struct {
	Env
	// Catalog is B's catalog, which the app is added from.
	Catalog *catalog.Catalog
	App     string
	// Source is the instance whose backup is cloned (same data
	// directory); or Repository names a bare repository instead.
	Source     *instance.Instance
	Repository *RepositorySource
	// From is the source's backup id; "" is its newest completed one.
	From string
	// Set is config B sets on the app (KEY=VALUE relative to apps.APP,
	// as wild app add --set); it wins over anything carried.
	Set map[string]string
	// Timeout bounds each wait for the app to be ready; 0 = 5m.
	Timeout time.Duration
}

// CloneResult says what the clone made in B.
type CloneResult struct {
	App       string `json:"app"`
	Source    string `json:"source"`
	ID        string `json:"id"`
	Namespace string `json:"namespace"`
	// Hosts are the Ingress hosts the app serves in B.
	Hosts []string `json:"hosts,omitempty"`
	// ConfigCarried and SecretsCarried name (never show) what came from
	// the source's backup; everything else is B's own.
	ConfigCarried  []string `json:"configCarried,omitempty"`
	SecretsCarried []string `json:"secretsCarried,omitempty"`
	Restored       []string `json:"restored,omitempty"`
	Resumed        bool     `json:"resumed,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`
	Operation      string   `json:"operation"`
}

// Clone record statuses, in order; a rerun skips what is done.
const (
	cloneAdding   = "adding"
	cloneDeployed = "deployed"
	cloneStopped  = "stopped"
	cloneRestored = "restored"
	cloneDone     = "cloned"
)

var cloneOrder = []string{cloneAdding, cloneDeployed, cloneStopped, cloneRestored, cloneDone}

// CloneRecord is B's record of a clone, backups/APP/clone.yaml: where the
// data came from and how far the clone got. No secret is in it.
type CloneRecord struct {
	App            string `json:"app"`
	SourceInstance string `json:"sourceInstance"`
	Backup         string `json:"backup"`
	Snapshot       string `json:"snapshot"`
	Status         string `json:"status"`
	Error          string `json:"error,omitempty"`
	// Replicas are the app's workloads' replicas before the clone stopped
	// them to load the data, so a rerun starts them as deployed.
	Replicas       map[string]int32  `json:"replicas,omitempty"`
	ConfigCarried  []string          `json:"configCarried,omitempty"`
	SecretsCarried []string          `json:"secretsCarried,omitempty"`
	Phases         map[string]*Phase `json:"phases,omitempty"`
}

func clonePath(app string) string { return path.Join(BackupsDir, app, "clone.yaml") }

// ReadCloneRecord returns B's record of the app's clone; nil when none.
func ReadCloneRecord(inst *instance.Instance, app string) (*CloneRecord, error) {
	b, err := os.ReadFile(inst.Path(clonePath(app)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := &CloneRecord{}
	if err := sigsyaml.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the file)", clonePath(app), err)
	}
	return r, nil
}

func (r *CloneRecord) save(inst *instance.Instance) error {
	b, err := sigsyaml.Marshal(r)
	if err != nil {
		return err
	}
	return inst.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("backup(%s): clone from %s %s: %s", r.App, r.SourceInstance, r.Backup, r.Status)
		return e.WriteFile(clonePath(r.App), b, 0o644)
	})
}

// reached reports whether the record got to status s.
func (r *CloneRecord) reached(s string) bool {
	return indexOf(cloneOrder, r.Status) >= indexOf(cloneOrder, s)
}

func (r *CloneRecord) mark(inst *instance.Instance, s string) error {
	r.Status, r.Error = s, ""
	if r.Phases == nil {
		r.Phases = map[string]*Phase{}
	}
	now := time.Now().UTC()
	r.Phases[s] = &Phase{StartedAt: now, CompletedAt: &now}
	if err := r.save(inst); err != nil {
		return err
	}
	crashpoint.Hit("backup.clone-" + s)
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Run checks everything it can before writing anything, takes the app's
// lock in B and clones (or resumes a clone).
func (c *Clone) Run(ctx context.Context) (*CloneResult, error) {
	plan, rec, err := c.check(ctx)
	if err != nil {
		return nil, err
	}
	unlock, err := lockApp(c.Env, c.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Again under the lock: another clone or add may have been first.
	if plan, rec, err = c.check(ctx); err != nil {
		return nil, err
	}
	op, err := c.startOp("clone", c.App)
	if err != nil {
		return nil, err
	}
	res := &CloneResult{App: c.App, Source: c.sourceName(), ID: plan.Timestamp, Operation: op.ID(), Resumed: rec != nil}
	if rec == nil {
		rec = &CloneRecord{App: c.App, SourceInstance: c.sourceName(), Backup: plan.Timestamp, Snapshot: plan.Snapshot}
	}
	err = c.run(ctx, op, plan, rec, res)
	if err != nil {
		err = c.failed(rec, err)
	}
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

// failed records err and says how to go on.
func (c *Clone) failed(rec *CloneRecord, err error) error {
	if rec.Status == "" {
		return err // nothing was made in B
	}
	rec.Error = oneLine(err)
	if serr := rec.save(c.Instance); serr != nil {
		return fmt.Errorf("%w (and the clone record could not be saved: %v)", err, serr)
	}
	pe := problem.Wrap(problem.CodeOf(err), err, fmt.Sprintf("the clone of %s stopped after %q", c.App, rec.Status))
	if c.Repository != nil {
		return pe.With("", "run the same clone again to resume it, or delete the half-made app").Or("app.delete", "app", c.App)
	}
	return pe.With("app.clone", "run the same clone again to resume it", "app", c.App, "from-instance", c.Source.Name, "from", rec.Backup).
		Or("app.delete", "app", c.App)
}

// Check refuses a bad request (names, instances, backup id, an app the
// target already has, a dependency it lacks) without writing anything,
// for a caller that answers before the clone runs (the API's 202).
func (c *Clone) Check(ctx context.Context) error {
	_, _, err := c.check(ctx)
	return err
}

// check validates the request and finds the backup, writing nothing.
// rec is the unfinished clone of the same backup to resume, if any.
func (c *Clone) check(ctx context.Context) (*RecoveryPlan, *CloneRecord, error) {
	if err := names.Validate("app", c.App); err != nil {
		return nil, nil, problem.New(problem.Invalid, err.Error())
	}
	if c.Catalog == nil || c.Instance == nil {
		return nil, nil, problem.New(problem.Internal, "a clone needs the target instance and its catalog")
	}
	switch {
	case (c.Source == nil) == (c.Repository == nil):
		return nil, nil, problem.New(problem.Invalid, "a clone needs one source: the instance or the repository to clone from")
	case c.Repository != nil:
		if err := names.Validate("instance", c.Repository.Instance); err != nil {
			return nil, nil, problem.New(problem.Invalid, "the repository's instance: "+err.Error())
		}
	case c.Source.Dir == c.Instance.Dir:
		return nil, nil, problem.New(problem.Invalid, fmt.Sprintf("%s is the instance being cloned into; within one instance, restore instead", c.Source.Name)).
			With("app.restore", "restore to a standby", "app", c.App)
	}
	plan, err := c.sourcePlan(ctx)
	if err != nil {
		return nil, nil, err
	}
	rec, err := c.resumable(plan)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		// Resolves B's dependencies and renders B's defaults: a missing
		// database server in B stops the clone here.
		if _, err := c.add(nil).Defaults(); err != nil {
			return nil, nil, err
		}
	}
	return plan, rec, nil
}

// resumable refuses an app B already has, unless it is the unfinished
// clone of this same backup.
func (c *Clone) resumable(plan *RecoveryPlan) (*CloneRecord, error) {
	if _, err := os.Stat(c.Instance.Path(instance.AppsDir, c.App, catalog.ManifestFile)); errors.Is(err, os.ErrNotExist) {
		return nil, nil // a record of a deleted app does not count
	}
	rec, err := ReadCloneRecord(c.Instance, c.App)
	if err != nil {
		return nil, err
	}
	switch {
	case rec == nil || rec.Status == cloneDone:
		return nil, problem.New(problem.Conflict, fmt.Sprintf("%s is already added to instance %s; a clone makes a new app: delete it first or clone into another instance", c.App, c.Instance.Name)).
			With("app.delete", "delete it", "app", c.App)
	case rec.SourceInstance != c.sourceName() || rec.Backup != plan.Timestamp:
		return nil, problem.New(problem.Conflict, fmt.Sprintf("instance %s holds an unfinished clone of %s from %s backup %s; run that clone again to finish it, or delete the app", c.Instance.Name, c.App, rec.SourceInstance, rec.Backup)).
			With("app.clone", "finish it", "app", c.App, "from-instance", rec.SourceInstance, "from", rec.Backup)
	}
	return rec, nil
}

func (c *Clone) lifecycleEnv() lifecycle.Env {
	return lifecycle.Env{Instance: c.Instance, Catalog: c.Catalog, Observer: c.Observer}
}

func (c *Clone) add(set map[string]string) *lifecycle.Add {
	all := map[string]string{}
	for k, v := range set {
		all[k] = v
	}
	for k, v := range c.Set {
		all[k] = v
	}
	return &lifecycle.Add{Env: c.lifecycleEnv(), App: c.App, Set: all}
}

func (c *Clone) run(ctx context.Context, op *operation.Op, plan *RecoveryPlan, rec *CloneRecord, res *CloneResult) error {
	op.Step("open the source's repository")
	store, err := c.openSource(ctx)
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	in := func(ctx context.Context, name string) (io.ReadCloser, error) {
		return store.Open(ctx, plan.Snapshot, name)
	}
	if !rec.reached(cloneAdding) || rec.Status == cloneAdding {
		if err := c.addApp(ctx, op, in, rec); err != nil {
			return err
		}
	}
	res.ConfigCarried, res.SecretsCarried = rec.ConfigCarried, rec.SecretsCarried
	a, err := c.loadApp(c.App, op.Warn)
	if err != nil {
		return err
	}
	res.Namespace = a.Namespace
	if !rec.reached(cloneDeployed) {
		op.Step("deploy")
		if err := c.deploy(ctx, a); err != nil {
			return err
		}
		if err := rec.mark(c.Instance, cloneDeployed); err != nil {
			return err
		}
	}
	if !rec.reached(cloneStopped) {
		op.Step("stop the app to load its data")
		if rec.Replicas, err = stopWorkloads(ctx, a); err != nil {
			return err
		}
		if err := rec.mark(c.Instance, cloneStopped); err != nil {
			return err
		}
	}
	if !rec.reached(cloneRestored) {
		a.Progress = c.progressEvents(c.App, "clone")
		if res.Restored, err = c.restoreData(ctx, op, a, plan, in); err != nil {
			return err
		}
		if err := rec.mark(c.Instance, cloneRestored); err != nil {
			return err
		}
	}
	op.Step("start")
	if err := scaleAll(ctx, a, rec.Replicas); err != nil {
		return err
	}
	if err := c.deploy(ctx, a); err != nil {
		return err
	}
	if res.Hosts, err = ingressHosts(ctx, a); err != nil {
		return err
	}
	return rec.mark(c.Instance, cloneDone)
}

// addApp adds the app to B with the carried config, then writes the
// carried secrets, before the first deploy reads them.
func (c *Clone) addApp(ctx context.Context, op *operation.Op, in Reader, rec *CloneRecord) error {
	op.Step("add")
	pkg, err := c.Catalog.Get(c.App)
	if err != nil {
		return err
	}
	srcCfg, err := readSection(ctx, in, configFile)
	if err != nil {
		return err
	}
	srcSec, err := readSection(ctx, in, secretsFile)
	if err != nil {
		return err
	}
	defaults, err := c.add(nil).Defaults()
	if err != nil {
		return err
	}
	c.warnVersion(ctx, op, in, pkg.Manifest.Version)
	domain := c.sourceDomain(srcCfg)
	pol := ClonePolicy(pkg.Manifest, srcCfg, srcSec, defaults, domain)
	for _, n := range pol.Notes {
		op.Note("%s", n)
	}
	for _, k := range pol.MissingSecrets {
		op.Warn("the backup holds no %s secret %s, which its data depends on: %s generates a new one", c.App, k, c.Instance.Name)
	}
	rec.ConfigCarried, rec.SecretsCarried = sortedMapKeys(pol.Config), sortedMapKeys(pol.Secrets)
	if err := rec.mark(c.Instance, cloneAdding); err != nil {
		return err
	}
	if _, err := c.add(pol.Config).RunLocked(ctx); err != nil {
		return fmt.Errorf("add %s to %s: %w", c.App, c.Instance.Name, err)
	}
	return c.writeSecrets(pol.Secrets)
}

// warnVersion says when the backup was made by another version of the
// app than the one this catalog adds: an older backup's data goes through
// the newer app's migrations when it starts, and a newer one's may not be
// readable by the older app at all.
func (c *Clone) warnVersion(ctx context.Context, op *operation.Op, in Reader, adds string) {
	raw, err := readAll(ctx, in, appFilesDir+catalog.ManifestFile)
	if err != nil {
		return
	}
	m, err := catalog.ParseManifest(catalog.ManifestFile, raw)
	if err != nil || m.Version == "" || m.Version == adds {
		return
	}
	from, ferr := semver.NewVersion(m.Version)
	to, terr := semver.NewVersion(adds)
	if ferr == nil && terr == nil && from.GreaterThan(to) {
		op.Warn("the backup was made by %s %s, newer than the %s this catalog adds: the older app may not read its data; update the catalog first", c.App, m.Version, adds)
		return
	}
	op.Warn("the backup was made by %s %s; this catalog adds %s, which migrates the data when it first starts", c.App, m.Version, adds)
}

func (c *Clone) writeSecrets(secrets map[string]string) error {
	if len(secrets) == 0 {
		return nil
	}
	return c.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("backup(%s): the secrets its data depends on, from %s", c.App, c.sourceName())
		for _, k := range sortedMapKeys(secrets) {
			p := append([]string{"apps", c.App}, strings.Split(k, ".")...)
			if err := e.Secrets.Set(p, &yaml.Node{Kind: yaml.ScalarNode, Value: secrets[k], Tag: "!!str"}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Clone) deploy(ctx context.Context, a *App) error {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	d := &lifecycle.Deploy{Env: c.lifecycleEnv(), App: c.App, Client: a.Kube, Timeout: timeout}
	if _, err := d.RunLocked(ctx); err != nil {
		return fmt.Errorf("deploy %s in %s: %w", c.App, c.Instance.Name, err)
	}
	return nil
}

// restoreData loads every database and volume of the backup into B's
// own: B's database names (its config), on B's servers, owned by B's
// users; B's claims, emptied first.
func (c *Clone) restoreData(ctx context.Context, op *operation.Op, a *App, plan *RecoveryPlan, in Reader) ([]string, error) {
	var done []string
	for i := range plan.Strategies {
		e := plan.Strategies[i] // a copy: the source's plan is never written
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch e.Name {
		case "config":
			continue
		case "postgres", "mysql":
			op.Step("restore " + e.Name)
			db, err := cloneDatabase(ctx, a, in, &e)
			if err != nil {
				return nil, err
			}
			done = append(done, e.Name+" "+db)
		case "volume":
			op.Step("restore volume")
			for _, pvc := range strings.Split(e.Params["pvcs"], ",") {
				if err := cloneVolume(ctx, a, in, pvc); err != nil {
					return nil, err
				}
				done = append(done, "volume "+pvc)
			}
		default:
			return nil, fmt.Errorf("the backup holds strategy %q, which this version of wild cannot clone", e.Name)
		}
	}
	return done, nil
}

// cloneLoad reads a dump into $2 as $3. Roles of the source instance
// do not exist in B, so the dump's owners and grants are left out:
// B's owner owns everything.
var cloneLoad = map[string]string{
	"postgres": pgEnv + `pg_restore -d "$2" --no-owner --no-acl --role="$3" --exit-on-error`,
	"mysql":    mysql.load,
}

// cloneDatabase replaces B's database (named by B's config at the key the
// backup recorded) with the backup's dump, keeping B's owner, which B's
// deploy created with B's password.
func cloneDatabase(ctx context.Context, a *App, in Reader, e *StrategyEntry) (string, error) {
	s, ok := dbFor(e)
	if !ok {
		return "", fmt.Errorf("strategy %s is not a database", e.Name)
	}
	kinds := []string{"postgres"}
	if e.Name == "mysql" {
		kinds = []string{"mysql", "mariadb"}
	}
	server := a.dependency(kinds...)
	if server == "" {
		return "", fmt.Errorf("%s in %s requires no %s server, but the backup holds a %s database", a.Name, a.Instance.Name, e.Name, e.Name)
	}
	key := e.Params["configKey"]
	target, ok := a.configString(key)
	if !ok || !dbName().MatchString(target) {
		return "", fmt.Errorf("%s: config apps.%s.%s is %q, not a database name", a.Name, a.Name, key, target)
	}
	px, err := serverPod(ctx, a, server)
	if err != nil {
		return "", err
	}
	owner, err := px.run(ctx, s.dialect.owner, target)
	if err != nil {
		return "", fmt.Errorf("find database %s on %s: %w", target, server, err)
	}
	if owner = strings.TrimSpace(owner); owner == "" {
		return "", fmt.Errorf("database %s does not exist on %s in %s: the app's deploy creates it (its db-init Job); check that Job, then run the clone again", target, server, a.Instance.Name)
	}
	if _, err := px.run(ctx, s.dialect.prepare, target, target, owner); err != nil {
		return "", fmt.Errorf("empty database %s: %w", target, err)
	}
	r, err := in(ctx, e.Params["file"])
	if err != nil {
		return "", err
	}
	defer r.Close()
	err = px.streamIn(ctx, "load "+target, cloneLoad[e.Name], r, func(n int64) { a.progress(e.Params["file"], n) }, target, target, owner)
	return target, err
}

// cloneVolume empties B's claim and unpacks the backup's archive into it.
func cloneVolume(ctx context.Context, a *App, in Reader, pvc string) error {
	if err := names.Validate("volume (PVC name)", pvc); err != nil {
		return err
	}
	r, err := in(ctx, volumeFile(pvc))
	if err != nil {
		return err
	}
	defer r.Close()
	px, stop, err := helperPod(ctx, a, a.Namespace, pvc, false)
	if err != nil {
		return err
	}
	defer stop()
	if _, err := px.run(ctx, `find /data -mindepth 1 -delete`); err != nil {
		return fmt.Errorf("empty volume %s: %w", pvc, err)
	}
	return px.streamIn(ctx, "restore volume "+pvc, `tar -C /data --numeric-owner -xf -`, r, func(n int64) { a.progress(volumeFile(pvc), n) })
}

// ingressHosts lists the hosts the app's Ingresses serve.
func ingressHosts(ctx context.Context, a *App) ([]string, error) {
	list, err := a.Kube.Clientset.NetworkingV1().Ingresses(a.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ing := range list.Items {
		for _, r := range ing.Spec.Rules {
			out = append(out, r.Host)
		}
	}
	sort.Strings(out)
	return out, nil
}

// readSection reads the app's backed-up config.yaml or secrets.yaml
// section.
func readSection(ctx context.Context, in Reader, name string) (map[string]any, error) {
	b, err := readAll(ctx, in, name)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s of the backup: %w", name, err)
	}
	return m, nil
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
