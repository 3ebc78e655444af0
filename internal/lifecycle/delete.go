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
		return nil
	})
	if err == nil {
		res.LocalCleaned = []string{"apps/" + d.App + "/", "config.yaml apps." + d.App, "secrets.yaml apps." + d.App}
	}
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

// cleanCluster deletes what the app deployed and its namespace, waiting up
// to d.Wait, then forces finalizers. It never touches a namespace another
// instance or app owns.
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
	if _, err := c.EnsureNamespace(ctx, t.namespace, t.owner(d.Instance), true); err != nil {
		var oe *kube.OwnershipError
		if errors.As(err, &oe) {
			return fmt.Errorf("namespace %s belongs to someone else, so it was left alone: %w", t.namespace, err)
		}
	}
	if _, err := c.DeleteInventory(ctx, t.inventory(), false); err != nil {
		return err
	}
	wait := d.Wait
	if wait == 0 {
		wait = 30 * time.Second
	}
	gone, err := c.DeleteNamespace(ctx, t.namespace, wait)
	if err != nil {
		return err
	}
	if !gone {
		d.logf(d.App, "namespace %s still terminating after %s; forcing its finalizers", t.namespace, wait)
		op.Note("forced finalizers of namespace %s", t.namespace)
		if err := c.ClearTerminating(ctx, t.namespace, kube.ClearOptions{Attempts: 3, Wait: 5 * time.Second, Progress: func(s string) { op.Note("%s", s) }}); err != nil {
			return err
		}
	}
	res.ClusterCleaned = true
	res.ClusterDetail = "namespace " + t.namespace + " and every object the app deployed are gone"
	return nil
}
