package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/side"
)

// Delete removes an app in two phases (state DELETING): the cluster, best
// effort and bounded in time; then the local state, always.
type Delete struct {
	Env
	App string
	// Force deletes even when other added apps depend on this one.
	Force bool
	// Wait bounds the graceful namespace deletion before finalizers are
	// forced; default 30s.
	Wait   time.Duration
	Client *kube.Client
}

// DeleteResult says what was and was not cleaned.
type DeleteResult struct {
	App            string   `json:"app"`
	Namespace      string   `json:"namespace,omitempty"`
	ClusterCleaned bool     `json:"clusterCleaned"`
	ClusterDetail  string   `json:"clusterDetail"`
	LocalCleaned   []string `json:"localCleaned"`
	Warnings       []string `json:"warnings,omitempty"`
	Operation      string   `json:"operation"`
}

// Dependents lists the added apps whose installedAs points at app.
func Dependents(inst *instance.Instance, app string) ([]string, error) {
	added, err := AddedApps(inst)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range added {
		for _, dep := range a.Manifest.InstalledAs {
			if dep == app && a.Name != app {
				out = append(out, a.Name)
				break
			}
		}
	}
	return out, nil
}

// Run deletes the app.
func (d *Delete) Run(ctx context.Context) (*DeleteResult, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	unlock, err := d.Instance.LockApp(d.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return d.run(ctx)
}

// RunLocked is Run for a caller that already holds the app's lock.
func (d *Delete) RunLocked(ctx context.Context) (*DeleteResult, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.run(ctx)
}

// check refuses an app that is not added, or that others depend on.
func (d *Delete) check() error {
	if err := names.Validate("app", d.App); err != nil {
		return err
	}
	m, err := ReadInstalledManifest(d.Instance, d.App)
	var corrupt *catalog.ManifestError
	if errors.As(err, &corrupt) {
		// A corrupt instance manifest must not make the app undeletable:
		// the compiled manifests still say what to remove.
		d.observer().Observe(event.Event{Kind: event.Warning, Time: time.Now().UTC(), App: d.App,
			Message: fmt.Sprintf("%v; deleting %s anyway", err, d.App)})
		m, err = &catalog.Manifest{Name: d.App}, nil
	}
	if err != nil {
		return err
	}
	if m == nil {
		return problem.New(problem.NotFound, fmt.Sprintf("%s is not added to instance %s; nothing to delete", d.App, d.Instance.Name)).
			With("app.list", "see what is added")
	}
	if deps, err := Dependents(d.Instance, d.App); err != nil {
		return err
	} else if len(deps) > 0 && !d.Force {
		return problem.New(problem.PreconditionFailed, fmt.Sprintf("%s is used by %s; delete those first, or delete it anyway", d.App, strings.Join(deps, ", "))).
			With("app.delete", "to delete it anyway", "app", d.App, "flag", "force")
	}
	return nil
}

func (d *Delete) run(ctx context.Context) (*DeleteResult, error) {
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	op, err := d.startOp("delete", d.App)
	if err != nil {
		return nil, err
	}
	res := &DeleteResult{App: d.App, Operation: op.ID()}
	op.Step("cluster cleanup")
	if err := d.cleanCluster(ctx, res, op); err != nil {
		res.ClusterDetail = "not cleaned: " + oneLine(err)
		op.Warn("cluster not cleaned: %v", err)
	}
	op.Step("local cleanup")
	err = d.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("chore(%s): delete app", d.App)
		e.RemoveAll(path.Join(instance.AppsDir, d.App))
		e.Config.Delete([]string{"apps", d.App})
		e.Secrets.Delete([]string{"apps", d.App})
		side.Forget(e, d.App)
		return nil
	})
	if err == nil {
		res.LocalCleaned = []string{"apps/" + d.App + "/", "config.yaml apps." + d.App, "secrets.yaml apps." + d.App}
	}
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

// cleanCluster deletes what the app deployed and its namespace, on every
// copy a restore made (the active one, a retired or a standby one),
// waiting up to d.Wait per namespace, then forces finalizers. It never
// touches a namespace another instance or app owns.
func (d *Delete) cleanCluster(ctx context.Context, res *DeleteResult, op *operation.Op) error {
	t, err := loadTargetWith(d.Instance, d.App, d.Instance.AppDir(d.App), true)
	if err != nil {
		return err
	}
	res.Namespace = t.namespace
	c := d.Client
	if c == nil {
		if c, err = clientFor(d.Instance); err != nil {
			return err
		}
	}
	if err := c.Ping(ctx); err != nil {
		return err
	}
	if err := d.removeCopy(ctx, c, op, t.instanceID, t.side.Inventory(d.App), t.namespace); err != nil {
		return err
	}
	others, err := otherCopies(ctx, c, d.Instance, t)
	if err != nil {
		return err
	}
	for _, o := range others {
		if err := d.removeCopy(ctx, c, op, t.instanceID, o.inventory, o.namespace); err != nil {
			return err
		}
	}
	res.ClusterCleaned = true
	res.ClusterDetail = "namespace " + strings.Join(append([]string{t.namespace}, namespacesOf(others)...), ", ") + " and every object the app deployed are gone"
	return nil
}

// removeCopy deletes one copy's inventory and namespace.
func (d *Delete) removeCopy(ctx context.Context, c *kube.Client, op *operation.Op, instanceID, inv, ns string) error {
	owner := kube.Owner{Instance: d.Instance.Name, InstanceID: instanceID, App: inv}
	if _, err := c.EnsureNamespace(ctx, ns, owner, true); err != nil {
		var oe *kube.OwnershipError
		if errors.As(err, &oe) {
			return fmt.Errorf("namespace %s belongs to someone else, so it was left alone: %w", ns, err)
		}
	}
	if _, err := c.DeleteInventory(ctx, kube.Inventory{App: inv, InstanceID: instanceID}, false); err != nil {
		return err
	}
	wait := d.Wait
	if wait == 0 {
		wait = 30 * time.Second
	}
	gone, err := c.DeleteNamespace(ctx, ns, wait)
	if err != nil || gone {
		return err
	}
	d.logf(d.App, "namespace %s still terminating after %s; forcing its finalizers", ns, wait)
	op.Note("forced finalizers of namespace %s", ns)
	return c.ClearTerminating(ctx, ns, kube.ClearOptions{Attempts: 3, Wait: 5 * time.Second, Progress: func(s string) { op.Note("%s", s) }})
}

// appCopy is one copy of an app in the cluster besides the active one.
type appCopy struct{ inventory, namespace string }

// otherCopies are the app's copies that exist besides the active one and
// that this instance owns: the original after a switch, and colored ones
// a restore or a drill left.
func otherCopies(ctx context.Context, c *kube.Client, inst *instance.Instance, t *target) ([]appCopy, error) {
	var cands []appCopy
	if !t.side.Original {
		cands = append(cands, appCopy{t.app, t.baseNamespace})
	}
	for _, inv := range side.Copies(t.app) {
		if inv != t.side.Inventory(t.app) {
			cands = append(cands, appCopy{inv, inv})
		}
	}
	var out []appCopy
	for _, cand := range cands {
		phase, err := c.NamespacePhase(ctx, cand.namespace)
		if err != nil {
			return nil, err
		}
		if phase == kube.PhaseNotFound {
			continue
		}
		owner := kube.Owner{Instance: inst.Name, InstanceID: t.instanceID, App: cand.inventory}
		if _, err := c.EnsureNamespace(ctx, cand.namespace, owner, true); err == nil {
			out = append(out, cand)
		}
	}
	return out, nil
}

func namespacesOf(cs []appCopy) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.namespace
	}
	return out
}
