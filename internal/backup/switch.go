package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/side"
)

// Switch moves an app's traffic to its restored standby: the live
// side's Ingresses for the app's hosts are removed, the standby's take
// the real hosts, and the instance records the standby as active. Every
// step is idempotent and the plan says "switching" until all are done,
// so a switch that failed half-way is finished by running it again.
type Switch struct {
	Env
	App string
	// Timeout bounds the readiness check of the standby; 0 = 2m.
	Timeout time.Duration
}

// SwitchResult says which side serves now.
type SwitchResult struct {
	App       string `json:"app"`
	ID        string `json:"id"`
	Active    string `json:"active"`
	Retired   string `json:"retired"`
	Namespace string `json:"namespace"`
	Operation string `json:"operation"`
}

// Run takes the app's lock and switches.
func (s *Switch) Run(ctx context.Context) (*SwitchResult, error) {
	if err := checkAdded(s.Env, s.App); err != nil {
		return nil, err
	}
	if _, err := planIn(s.Env, s.App, "restore it first", StatusRestored, StatusSwitching); err != nil {
		return nil, err
	}
	unlock, err := lockApp(s.Env, s.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	op, err := s.startOp("switch", s.App)
	if err != nil {
		return nil, err
	}
	res := &SwitchResult{App: s.App, Operation: op.ID()}
	return res, op.FinishCtx(ctx, s.run(ctx, op, res))
}

func (s *Switch) run(ctx context.Context, op *operation.Op, res *SwitchResult) error {
	op.Step("prepare")
	a, err := s.loadApp(s.App, op.Warn)
	if err != nil {
		return err
	}
	plan, err := planIn(s.Env, s.App, "restore it first", StatusRestored, StatusSwitching)
	if err != nil {
		return err
	}
	res.ID, res.Active, res.Retired, res.Namespace = plan.Timestamp, plan.StandbyColor, plan.Source.ActiveColor, plan.Standby.Namespace
	op.Step("verify standby")
	objs, err := kube.Build(s.Instance.Path(plan.Standby.AppDir))
	if err == nil {
		err = a.Kube.Wait(ctx, objs, orDefault(s.Timeout, 2*time.Minute), nil)
	}
	if err != nil && plan.Phases["switch"] != nil && plan.Status == StatusSwitching && len(objs) > 0 {
		// Hosts may have moved already: only finishing helps now.
		op.Warn("the standby is not ready yet (%v); finishing the switch that was under way", oneLine(err))
		err = nil
	}
	if err != nil {
		// Nothing moved: the restore stays usable for a later switch.
		plan.Status, plan.Error, plan.Owner = StatusRestored, "switch refused: the standby is not ready: "+oneLine(err), nil
		_ = plan.Save(s.Instance)
		return fmt.Errorf("the standby is not ready, nothing was switched: %w", err)
	}
	op.Step("move hosts")
	if plan.Status != StatusSwitching {
		plan.start("switch")
	}
	plan.Status, plan.Owner = StatusSwitching, owner()
	if err := plan.Save(s.Instance); err != nil {
		return err
	}
	if err := s.moveHosts(ctx, a, plan, objs); err != nil {
		plan.Error = oneLine(err)
		_ = plan.Save(s.Instance) // stays "switching": run again to finish
		return err
	}
	if err := side.Write(s.Instance, s.App, activeAfter(plan)); err != nil {
		return err
	}
	plan.Status, plan.Error, plan.Owner = StatusSwitched, "", nil
	plan.complete("switch")
	return plan.Save(s.Instance)
}

// moveHosts frees the hosts on the live side first (one host in two
// Ingresses is ambiguous to a controller), then gives them to the standby.
func (s *Switch) moveHosts(ctx context.Context, a *App, plan *RecoveryPlan, objs []*unstructured.Unstructured) error {
	ings := a.Kube.Clientset.NetworkingV1().Ingresses(plan.Source.Namespace)
	list, err := ings.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ing := range list.Items {
		if !servesAny(&ing, plan.Standby.Hosts) {
			continue
		}
		if err := ings.Delete(ctx, ing.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("remove Ingress %s/%s from the retired side: %w", plan.Source.Namespace, ing.Name, err)
		}
	}
	crashpoint.Hit("backup.switch-hosts-freed")
	back := map[string]string{}
	for live, preview := range plan.Standby.Hosts {
		back[preview] = live
	}
	for _, o := range objs {
		if o.GetKind() == "Ingress" {
			side.RewriteIngressHosts(o, func(h string) string { return orName(back[h], h) })
		}
	}
	if err := saveStandbyObjects(s.Instance, plan, objs); err != nil {
		return err
	}
	id, err := s.Instance.ID()
	if err != nil {
		return err
	}
	_, err = a.Kube.Apply(ctx, objs, kube.ApplyOptions{Prune: true, Inventory: kube.Inventory{App: plan.Standby.Namespace, InstanceID: id}})
	return err
}

// activeAfter is the side a switch to plan's standby makes active, with
// the renames its restore made, so that a later deploy of apps/APP lands
// on the same copy.
func activeAfter(plan *RecoveryPlan) side.Active {
	rn := &side.Renames{Databases: map[string]string{}, Volumes: map[string]string{}}
	for i := range plan.Strategies {
		addRenames(rn, &plan.Strategies[i])
	}
	return side.Active{Color: plan.StandbyColor, Namespace: plan.Standby.Namespace, Plan: plan.Timestamp, Databases: rn.Databases, Volumes: rn.Volumes}
}

func servesAny(ing *networkingv1.Ingress, hosts map[string]string) bool {
	for _, r := range ing.Spec.Rules {
		if _, ok := hosts[r.Host]; ok {
			return true
		}
	}
	return false
}

// saveStandbyObjects rewrites the standby's compiled objects in the plan
// directory, atomically.
func saveStandbyObjects(inst *instance.Instance, plan *RecoveryPlan, objs []*unstructured.Unstructured) error {
	body, err := marshalObjects(objs)
	if err != nil {
		return err
	}
	return inst.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("backup(%s): standby %s", plan.App, plan.StandbyColor)
		return e.ReplaceDir(plan.Standby.AppDir, func(dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), standbyKustomization, 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "resources.yaml"), body, 0o644)
		})
	})
}

var standbyKustomization = []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - resources.yaml\n")

// planIn returns the newest plan of app in one of the statuses.
func planIn(e Env, app, hint string, statuses ...string) (*RecoveryPlan, error) {
	plans, err := ListPlans(e.Instance, app)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		for _, st := range statuses {
			if p.Status == st && p.Standby != nil {
				return p, nil
			}
		}
	}
	return nil, problem.New(problem.PreconditionFailed, fmt.Sprintf("%s has no backup in state %v; %s", app, statuses, hint))
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Cleanup removes the retired side of an app once the switch is
// verified: the active side's workloads are ready and serve the hosts.
// It deletes the retired namespace (and so its volumes) and its
// databases; the active side is never touched.
type Cleanup struct {
	Env
	App string
}

// CleanupResult lists what was removed.
type CleanupResult struct {
	App       string   `json:"app"`
	ID        string   `json:"id"`
	Removed   []string `json:"removed"`
	Warnings  []string `json:"warnings,omitempty"`
	Operation string   `json:"operation"`
}

// Run takes the app's lock and cleans up.
func (c *Cleanup) Run(ctx context.Context) (*CleanupResult, error) {
	if err := checkAdded(c.Env, c.App); err != nil {
		return nil, err
	}
	if _, err := planIn(c.Env, c.App, "switch first", StatusSwitched); err != nil {
		return nil, err
	}
	unlock, err := lockApp(c.Env, c.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	op, err := c.startOp("cleanup", c.App)
	if err != nil {
		return nil, err
	}
	res := &CleanupResult{App: c.App, Operation: op.ID()}
	err = c.run(ctx, op, res)
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

func (c *Cleanup) run(ctx context.Context, op *operation.Op, res *CleanupResult) error {
	op.Step("verify switch")
	a, err := c.loadApp(c.App, op.Warn)
	if err != nil {
		return err
	}
	plan, err := planIn(c.Env, c.App, "switch first", StatusSwitched)
	if err != nil {
		return err
	}
	res.ID = plan.Timestamp
	if a.active.Namespace != plan.Standby.Namespace {
		return problem.New(problem.PreconditionFailed, fmt.Sprintf("%s's active side is %s, not the switched standby %s; nothing was removed", c.App, a.Namespace, plan.Standby.Namespace))
	}
	objs, err := kube.Build(c.Instance.Path(plan.Standby.AppDir))
	if err != nil {
		return err
	}
	if err := a.Kube.Wait(ctx, objs, time.Minute, nil); err != nil {
		return fmt.Errorf("the active side is not ready, so the retired side is kept: %w", err)
	}
	plan.start("cleanup")
	if err := plan.Save(c.Instance); err != nil {
		return err
	}
	op.Step("remove data")
	for i := range plan.Strategies {
		e := &plan.Strategies[i]
		s, err := strategyFor(e)
		if err != nil {
			return err
		}
		what, err := s.Remove(ctx, a, e)
		if err != nil {
			return err
		}
		if what != "" {
			res.Removed = append(res.Removed, what)
		}
	}
	op.Step("remove namespace")
	if plan.Source.Namespace != plan.Standby.Namespace {
		if _, err := a.Kube.DeleteNamespace(ctx, plan.Source.Namespace, 2*time.Minute); err != nil {
			return fmt.Errorf("delete the retired namespace %s: %w", plan.Source.Namespace, err)
		}
		res.Removed = append(res.Removed, "namespace "+plan.Source.Namespace)
		if err := c.removeInventory(ctx, a, plan); err != nil {
			return err
		}
	}
	plan.Status = StatusCleaned
	plan.complete("cleanup")
	return plan.Save(c.Instance)
}

// removeInventory drops the retired side's record of what it deployed,
// which lives outside its namespace and so outlives it.
func (c *Cleanup) removeInventory(ctx context.Context, a *App, plan *RecoveryPlan) error {
	inv := plan.Source.Inventory
	if inv == "" { // a plan from before the field: the side's own rule
		inv = side.Active{Original: plan.Source.Namespace != a.Name+"-"+plan.Source.ActiveColor, Namespace: plan.Source.Namespace}.Inventory(a.Name)
	}
	id, err := c.Instance.ID()
	if err != nil {
		return err
	}
	if _, err := a.Kube.DeleteInventory(ctx, kube.Inventory{App: inv, InstanceID: id}, false); err != nil {
		return fmt.Errorf("remove the retired side's inventory: %w", err)
	}
	return nil
}
