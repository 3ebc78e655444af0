package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/side"
)

// Restore restores a backup to the standby color: namespace {app}-{color},
// databases {db}_{color}, PVCs {pvc}-{color}, and the app's compiled
// objects renamed to them and deployed there. The live side is never
// touched; a failed restore leaves it running, and running the restore
// again converges.
type Restore struct {
	Env
	App  string
	From string // backup id (timestamp); "" = the newest completed one
	// Timeout bounds waiting for the standby to be ready; 0 = 5m.
	Timeout time.Duration
}

// RestoreResult says where the standby is.
type RestoreResult struct {
	App       string            `json:"app"`
	ID        string            `json:"id"`
	Color     string            `json:"color"`
	Namespace string            `json:"namespace"`
	Hosts     map[string]string `json:"hosts,omitempty"` // live host -> standby preview host
	Plan      *RecoveryPlan     `json:"plan"`
	Warnings  []string          `json:"warnings,omitempty"`
	Operation string            `json:"operation"`
}

// Run takes the app's lock and restores.
func (r *Restore) Run(ctx context.Context) (*RestoreResult, error) {
	if err := checkAdded(r.Env, r.App); err != nil {
		return nil, err
	}
	if _, err := r.plan(); err != nil {
		return nil, err
	}
	unlock, err := lockApp(r.Env, r.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	op, err := r.startOp("restore", r.App)
	if err != nil {
		return nil, err
	}
	res := &RestoreResult{App: r.App, Operation: op.ID()}
	err = r.run(ctx, op, res)
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

func (r *Restore) run(ctx context.Context, op *operation.Op, res *RestoreResult) error {
	op.Step("prepare")
	a, err := r.loadApp(r.App, op.Warn)
	if err != nil {
		return err
	}
	plan, err := r.plan()
	if err != nil {
		return err
	}
	store, err := r.store(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	a.Color = otherColor(a.active.Color)
	res.ID, res.Color, res.Namespace, res.Plan = plan.Timestamp, a.Color, a.standbyNamespace(), plan
	plan.Status, plan.Error, plan.StandbyColor, plan.Owner = StatusRestoring, "", a.Color, owner()
	plan.Standby = &Side{Color: a.Color, Namespace: a.standbyNamespace(), AppDir: path.Join(planDir(a.Name, plan.Timestamp), "standby-app")}
	plan.start("restore")
	if err := plan.Save(r.Instance); err != nil {
		return err
	}
	defer heartbeat(r.Instance, plan.App, plan.Timestamp, HeartbeatEvery)()
	a.Progress = r.progressEvents(r.App, "restore")
	in := func(ctx context.Context, name string) (io.ReadCloser, error) {
		return store.Open(ctx, plan.Snapshot, name)
	}
	if err := r.restore(ctx, op, a, plan, in); err != nil {
		return failPlan(r.Env, plan, err)
	}
	res.Hosts = plan.Standby.Hosts
	plan.Status, plan.Owner = StatusRestored, nil
	plan.complete("restore")
	return plan.Save(r.Instance)
}

// plan picks the backup to restore.
func (r *Restore) plan() (*RecoveryPlan, error) {
	if r.From != "" {
		p, err := LoadPlan(r.Instance, r.App, r.From)
		if err != nil {
			return nil, err
		}
		if p.Snapshot == "" {
			return nil, problem.New(problem.PreconditionFailed, fmt.Sprintf("backup %s of %s never completed (%s); pick another", r.From, r.App, p.Status))
		}
		return p, r.notRunning(p)
	}
	plans, err := ListPlans(r.Instance, r.App)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if p.Snapshot != "" {
			return p, r.notRunning(p)
		}
	}
	return nil, notFound(fmt.Sprintf("%s has no completed backup in instance %s", r.App, r.Instance.Name), r.App)
}

func (r *Restore) notRunning(p *RecoveryPlan) error {
	if p.Status == StatusRestoring && !p.Stale(time.Now()) {
		return problem.New(problem.Conflict, fmt.Sprintf("backup %s of %s is being restored by process %d; wait for it", p.Timestamp, r.App, p.Owner.PID))
	}
	return nil
}

func (r *Restore) restore(ctx context.Context, op *operation.Op, a *App, plan *RecoveryPlan, in Reader) error {
	rn, id, err := r.restoreData(ctx, op, a, plan, in, func() error { return plan.Save(r.Instance) })
	if err != nil {
		return err
	}
	op.Step("deploy standby")
	return r.deployStandby(ctx, a, plan, in, rn, id, true)
}

// restoreData creates a.Color's namespace and runs every strategy's
// restore into it; save records each step (a drill passes one that
// keeps its scratch copy of the plan off disk).
func (r *Restore) restoreData(ctx context.Context, op *operation.Op, a *App, plan *RecoveryPlan, in Reader, save func() error) (*side.Renames, string, error) {
	op.Step("namespace")
	id, err := r.Instance.ID()
	if err != nil {
		return nil, "", err
	}
	owner := kube.Owner{Instance: r.Instance.Name, InstanceID: id, App: a.standbyNamespace()}
	if _, err := a.Kube.EnsureNamespace(ctx, a.standbyNamespace(), owner, false); err != nil {
		return nil, "", err
	}
	rn := &side.Renames{Namespace: a.standbyNamespace(), Preview: a.Color, Databases: map[string]string{}, Volumes: map[string]string{}}
	for i := range plan.Strategies {
		e := &plan.Strategies[i]
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		s, err := strategyFor(e)
		if err != nil {
			return nil, "", err
		}
		op.Step("restore " + e.Name)
		if err := s.Restore(ctx, a, in, e); err != nil {
			return nil, "", fmt.Errorf("restore %s: %w", e.Name, err)
		}
		e.Status = StatusRestored
		addRenames(rn, e)
		if err := save(); err != nil {
			return nil, "", err
		}
		crashpoint.Hit("backup.restored-" + e.Name)
	}
	return rn, id, nil
}

// addRenames records what restoring e renamed.
func addRenames(rn *side.Renames, e *StrategyEntry) {
	switch e.Name {
	case "postgres", "mysql":
		if e.Restore["dbName"] == "" {
			return
		}
		// The snapshot's compiled files name the base database; a
		// backup of a switched side also names the colored one.
		rn.Databases[e.Params["dbName"]] = e.Restore["dbName"]
		if base := e.Params["baseName"]; base != "" {
			rn.Databases[base] = e.Restore["dbName"]
		}
	case "volume":
		for from, to := range e.Restore {
			rn.Volumes[from] = to
		}
	}
}

// strategyFor rebuilds a strategy from its plan entry: a restore follows
// what the snapshot holds, not what the manifest says today.
func strategyFor(e *StrategyEntry) (Strategy, error) {
	switch e.Name {
	case "config":
		return configStrategy{}, nil
	case "postgres":
		return &dbStrategy{dialect: postgres, server: e.Params["server"], configKey: e.Params["configKey"]}, nil
	case "mysql":
		return &dbStrategy{dialect: mysql, server: e.Params["server"], configKey: e.Params["configKey"]}, nil
	case "volume":
		return &volumeStrategy{pvcs: strings.Split(e.Params["pvcs"], ",")}, nil
	}
	return nil, fmt.Errorf("the plan names strategy %q, which this version of wild does not know", e.Name)
}

// deployStandby writes the standby's compiled objects into the plan's
// directory and applies them with the app's secrets (declared keys
// renamed) in the standby namespace. persist keeps the objects in the
// plan's directory, for switch; a drill's throwaway side needs no record.
func (r *Restore) deployStandby(ctx context.Context, a *App, plan *RecoveryPlan, in Reader, rn *side.Renames, id string, persist bool) error {
	objs, err := backedUpObjects(ctx, plan, in)
	if err != nil {
		return err
	}
	objs = rn.Objects(objs)
	plan.Standby.Hosts = rn.Hosts
	if persist {
		if err := saveStandbyObjects(r.Instance, plan, objs); err != nil {
			return err
		}
	}
	inv := kube.Inventory{App: a.standbyNamespace(), InstanceID: id}
	if err := r.standbySecrets(ctx, a, rn, inv, objs); err != nil {
		return err
	}
	if _, err := a.Kube.Apply(ctx, objs, kube.ApplyOptions{Prune: true, Inventory: inv}); err != nil {
		return fmt.Errorf("deploy the standby into %s: %w", a.standbyNamespace(), err)
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	return a.Kube.Wait(ctx, objs, timeout, nil)
}

// backedUpObjects builds the compiled files the snapshot holds.
func backedUpObjects(ctx context.Context, plan *RecoveryPlan, in Reader) ([]*unstructured.Unstructured, error) {
	cfg := plan.entry("config")
	if cfg == nil {
		return nil, fmt.Errorf("backup %s has no config strategy, so it cannot deploy a standby", plan.Timestamp)
	}
	dir, err := os.MkdirTemp("", "wild-standby-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, f := range cfg.Files {
		rel, ok := strings.CutPrefix(f, appFilesDir)
		if !ok {
			continue
		}
		b, err := readAll(ctx, in, f)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
	}
	return kube.Build(dir)
}

// standbySecrets writes NAME-secrets in the standby namespace from
// secrets.yaml (the source of truth), with the secret keys the manifest
// declares as embedding a database name rewritten, and copies the
// dependency secrets the app uses.
func (r *Restore) standbySecrets(ctx context.Context, a *App, rn *side.Renames, inv kube.Inventory, objs []*unstructured.Unstructured) error {
	d, err := r.Instance.ReadSecrets()
	if err != nil {
		return err
	}
	data := instance.AppSecretData(d, a.Name)
	rn.SecretData(data, a.Manifest.Restore)
	labels := inv.Labels()
	if _, err := a.Kube.ApplySecret(ctx, rn.Namespace, a.Name+"-secrets", data, labels, false); err != nil {
		return err
	}
	for _, dep := range a.Manifest.InstalledAs {
		ns := dep
		if v, err := r.Instance.GetConfig("apps." + dep + ".namespace"); err == nil {
			ns = fmt.Sprint(v)
		}
		if _, err := a.Kube.CopySecret(ctx, ns, dep+"-secrets", rn.Namespace, labels, false); err != nil {
			a.warn("copy %s-secrets into the standby: %v", dep, err)
		}
	}
	return copyWildcardTLS(ctx, a, rn.Namespace, labels, objs)
}

// copyWildcardTLS gives the standby the wildcard certificates its
// Ingresses name, as a deploy does for the live side; its preview hosts
// stay under the same wildcard.
func copyWildcardTLS(ctx context.Context, a *App, ns string, labels map[string]string, objs []*unstructured.Unstructured) error {
	text, err := marshalObjects(objs)
	if err != nil {
		return err
	}
	for _, name := range kube.WildcardTLSSecrets {
		if !strings.Contains(string(text), name) {
			continue
		}
		_, err := a.Kube.CopySecret(ctx, kube.CertManagerNamespace, name, ns, labels, false)
		var nf *kube.SecretNotFoundError
		switch {
		case errors.As(err, &nf):
			a.warn("TLS secret %s/%s does not exist, so the standby's Ingress has no certificate yet", kube.CertManagerNamespace, name)
		case err != nil:
			return fmt.Errorf("copy %s into %s: %w", name, ns, err)
		}
	}
	return nil
}
