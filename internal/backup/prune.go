package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/backup/retention"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// Schedule is an app's backup schedule and retention, from config.yaml:
//
//	backup:
//	  retention: {keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6}   # every app
//	  apps:
//	    gitea:
//	      schedule: "0 3 * * *"       # cron, five fields; wild serve runs it
//	      retention: {keepDaily: 14}  # replaces backup.retention for gitea
//	      verify: "0 5 * * 0"         # cron: a restore drill (Verify) of the newest backup
//
// Without a retention, scheduled backups are never deleted.
type Schedule struct {
	Cron      string           `json:"schedule,omitempty"`
	Verify    string           `json:"verify,omitempty"`
	Retention retention.Policy `json:"retention,omitempty"`
}

// ReadSchedules returns the schedule of every app that has one or a
// retention of its own, by app name.
func ReadSchedules(inst *instance.Instance) (map[string]Schedule, error) {
	var def retention.Policy
	if err := configInto(inst, "backup.retention", &def); err != nil {
		return nil, err
	}
	var apps map[string]Schedule
	if err := configInto(inst, "backup.apps", &apps); err != nil {
		return nil, err
	}
	out := map[string]Schedule{}
	for app, s := range apps {
		if s.Retention.IsZero() {
			s.Retention = def
		}
		if err := s.Retention.Validate(); err != nil {
			return nil, problem.New(problem.Invalid, fmt.Sprintf("config.yaml backup.apps.%s.retention: %v", app, err))
		}
		out[app] = s
	}
	return out, nil
}

// RetentionFor is the policy that applies to app.
func RetentionFor(inst *instance.Instance, app string) (retention.Policy, error) {
	all, err := ReadSchedules(inst)
	if err != nil {
		return retention.Policy{}, err
	}
	if s, ok := all[app]; ok {
		return s.Retention, nil
	}
	var def retention.Policy
	return def, configInto(inst, "backup.retention", &def)
}

// configInto decodes a config.yaml key strictly; a missing key leaves v.
func configInto(inst *instance.Instance, key string, v any) error {
	d, err := inst.ReadConfig()
	if err != nil {
		return err
	}
	raw, ok, err := d.Value(strings.Split(key, "."))
	if err != nil || !ok {
		return err
	}
	b, err := sigsyaml.Marshal(raw)
	if err == nil {
		err = sigsyaml.UnmarshalStrict(b, v)
	}
	if err != nil {
		return problem.New(problem.Invalid, fmt.Sprintf("config.yaml %s: %v (retention keys: keepLast, keepDaily, keepWeekly, keepMonthly; schedule and verify are cron strings)", key, err))
	}
	return nil
}

// Prune applies the app's retention policy: it deletes the snapshots the
// policy drops, and their plans. Only settled backups count (backed up,
// or cleaned after a switch); a plan that is running, failed, or whose
// standby still exists is never pruned, and a zero policy prunes nothing.
type Prune struct {
	Env
	App string
	// Policy overrides the configured one.
	Policy *retention.Policy
	DryRun bool
	Now    func() time.Time
}

// PruneResult lists the plans kept and dropped, newest first.
type PruneResult struct {
	App       string   `json:"app"`
	Kept      []string `json:"kept"`
	Dropped   []string `json:"dropped"`
	DryRun    bool     `json:"dryRun,omitempty"`
	Operation string   `json:"operation,omitempty"`
}

// Run takes the app's lock and prunes.
func (p *Prune) Run(ctx context.Context) (*PruneResult, error) {
	if err := names.Validate("app", p.App); err != nil {
		return nil, problem.New(problem.Invalid, err.Error())
	}
	unlock, err := lockApp(p.Env, p.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	op, err := p.startOp("prune", p.App)
	if err != nil {
		return nil, err
	}
	res := &PruneResult{App: p.App, DryRun: p.DryRun, Operation: op.ID()}
	return res, op.FinishCtx(ctx, p.run(ctx, op, res))
}

func (p *Prune) run(ctx context.Context, op *operation.Op, res *PruneResult) error {
	policy, err := p.policy()
	if err != nil {
		return err
	}
	plans, err := ListPlans(p.Instance, p.App)
	if err != nil {
		return err
	}
	byID := map[string]*RecoveryPlan{}
	var items []retention.Item
	for _, pl := range plans {
		if !settled(pl) {
			continue
		}
		t, err := time.Parse(tsLayout, pl.Timestamp)
		if err != nil {
			continue
		}
		byID[pl.Timestamp] = pl
		items = append(items, retention.Item{ID: pl.Timestamp, Time: t})
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	keep, drop := retention.Select(items, policy, now())
	for _, it := range keep {
		res.Kept = append(res.Kept, it.ID)
	}
	if p.DryRun || len(drop) == 0 {
		for _, it := range drop {
			res.Dropped = append(res.Dropped, it.ID)
		}
		return nil
	}
	op.Step("prune")
	store, err := p.store(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	for _, it := range drop {
		if err := p.drop(ctx, store, byID[it.ID]); err != nil {
			return err
		}
		res.Dropped = append(res.Dropped, it.ID)
	}
	op.Note("kept %d backups, deleted %d", len(res.Kept), len(res.Dropped))
	return nil
}

func (p *Prune) policy() (retention.Policy, error) {
	if p.Policy != nil {
		return *p.Policy, p.Policy.Validate()
	}
	return RetentionFor(p.Instance, p.App)
}

// settled: a backup whose data is only in the repository now.
func settled(pl *RecoveryPlan) bool {
	return pl.Snapshot != "" && (pl.Status == StatusBackedUp || pl.Status == StatusCleaned)
}

// drop deletes the snapshot first: a crash between the two leaves a plan
// whose snapshot is gone, which the next prune removes (ErrNotFound).
func (p *Prune) drop(ctx context.Context, store Store, pl *RecoveryPlan) error {
	if err := store.Delete(ctx, pl.Snapshot); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete backup %s: %w", pl.Timestamp, err)
	}
	return p.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("backup(%s): prune %s", p.App, pl.Timestamp)
		e.RemoveAll(planDir(p.App, pl.Timestamp))
		return nil
	})
}

// Scheduled is the run of an app's backup schedule: a backup, then the
// retention policy (a failed backup prunes nothing).
type Scheduled struct {
	Env
	App string
}

// ScheduledResult is both steps' results.
type ScheduledResult struct {
	Backup *BackupResult `json:"backup"`
	Prune  *PruneResult  `json:"prune,omitempty"`
}

// Run backs up and prunes.
func (s *Scheduled) Run(ctx context.Context) (*ScheduledResult, error) {
	b, err := (&Backup{Env: s.Env, App: s.App}).Run(ctx)
	res := &ScheduledResult{Backup: b}
	if err != nil {
		return res, err
	}
	res.Prune, err = (&Prune{Env: s.Env, App: s.App}).Run(ctx)
	return res, err
}

// LastBackup is when the app's newest settled backup was taken; zero if
// it has none.
func LastBackup(inst *instance.Instance, app string) time.Time {
	plans, err := ListPlans(inst, app)
	if err != nil {
		return time.Time{}
	}
	for _, p := range plans {
		if settled(p) {
			t, _ := time.Parse(tsLayout, p.Timestamp)
			return t
		}
	}
	return time.Time{}
}

// BeforeUpdate is lifecycle.Update's BackupFirst: a backup of an app that
// has data (a database or a volume its manifest declares, or a database
// dependency), nothing for one that has none.
func BeforeUpdate(e Env) func(ctx context.Context, app string) (string, error) {
	return func(ctx context.Context, app string) (string, error) {
		m, err := e.manifest(app)
		if err != nil || !HasData(m) {
			return "", err
		}
		res, err := (&Backup{Env: e, App: app}).RunLocked(ctx)
		if err != nil {
			return "", err
		}
		return res.ID, nil
	}
}

// HasData reports whether an app keeps data worth a backup.
func HasData(m *catalog.Manifest) bool {
	if r := m.Restore; r != nil && (len(r.Databases) > 0 || len(r.Volumes) > 0) {
		return true
	}
	for _, req := range m.Requires {
		switch req.Name {
		case "postgres", "mysql", "mariadb":
			return true
		}
	}
	return false
}
