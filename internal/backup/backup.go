package backup

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// Backup stores one backup of an app: every selected strategy's streams
// in one snapshot, with a RecoveryPlan under backups/APP/TS/.
type Backup struct {
	Env
	App string
	// Skip leaves out strategies by name (e.g. volume, for a cluster where
	// the app's volumes cannot be mounted by a helper pod). The config
	// strategy is never skipped: a restore needs it.
	Skip []string
}

// BackupResult is what a backup stored.
type BackupResult struct {
	App        string          `json:"app"`
	ID         string          `json:"id"`
	Snapshot   string          `json:"snapshot"`
	Strategies []StrategyEntry `json:"strategies"`
	Stats      Stats           `json:"stats"`
	Warnings   []string        `json:"warnings,omitempty"`
	Operation  string          `json:"operation"`
}

// Run takes the app's lock and backs it up.
func (b *Backup) Run(ctx context.Context) (*BackupResult, error) {
	if err := checkAdded(b.Env, b.App); err != nil {
		return nil, err
	}
	unlock, err := lockApp(b.Env, b.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return b.RunLocked(ctx)
}

// RunLocked backs up for a caller that holds the app's lock (an update
// taking its backup first).
func (b *Backup) RunLocked(ctx context.Context) (*BackupResult, error) {
	if err := checkAdded(b.Env, b.App); err != nil {
		return nil, err
	}
	op, err := b.startOp("backup", b.App)
	if err != nil {
		return nil, err
	}
	res := &BackupResult{App: b.App, Operation: op.ID()}
	err = b.run(ctx, op, res)
	res.Warnings = op.Warnings()
	return res, op.FinishCtx(ctx, err)
}

func (b *Backup) run(ctx context.Context, op *operation.Op, res *BackupResult) error {
	op.Step("prepare")
	a, err := b.loadApp(b.App, op.Warn)
	if err != nil {
		return err
	}
	if err := markInterrupted(b.Env, b.App); err != nil {
		return err
	}
	store, err := b.store(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	plan := newPlan(b.Env, a)
	res.ID = plan.Timestamp
	plan.start("backup")
	if err := plan.Save(b.Instance); err != nil {
		return err
	}
	defer heartbeat(b.Instance, plan.App, plan.Timestamp, HeartbeatEvery)()
	op.Step("backup")
	// The repository reports what it has read of all streams so far.
	progress := b.progressEvents(b.App, "backup")
	snap, used, err := b.save(ctx, a, plan, store, progress)
	defer releaseAll(used)
	if err != nil {
		return failPlan(b.Env, plan, err)
	}
	crashpoint.Hit("backup.dumped")
	op.Step("checksum tables")
	recordTables(ctx, a, plan, used)
	plan.Snapshot, plan.Status, plan.Owner = snap.ID, StatusBackedUp, nil
	for i := range plan.Strategies {
		plan.Strategies[i].Status = StatusBackedUp
	}
	plan.complete("backup")
	res.Snapshot, res.Stats, res.Strategies = snap.ID, snap.Stats, plan.Strategies
	op.Note("%d bytes read, %d new bytes stored", snap.Stats.Bytes, snap.Stats.NewBytes)
	if err := plan.Save(b.Instance); err != nil {
		return err
	}
	// This run holds the app's lock, which every drill holds while it
	// runs: a drill side that exists now was left by a killed drill.
	if _, err := removeLeftoverDrill(ctx, op, a, plan); err != nil {
		op.Warn("%v", err)
	}
	return nil
}

// save stores the streams of the app's strategies in one snapshot; used
// are the strategies that wrote plan.Strategies, in its order, for the
// caller to release what they hold.
func (b *Backup) save(ctx context.Context, a *App, plan *RecoveryPlan, store Store, progress func(string, int64)) (_ Snapshot, used []Strategy, _ error) {
	var streams []Stream
	for _, s := range SelectStrategies(a) {
		if s.Name() != "config" && slices.Contains(b.Skip, s.Name()) {
			continue
		}
		used = append(used, s)
		st, params, err := s.Backup(ctx, a)
		if err != nil {
			return Snapshot{}, used, fmt.Errorf("%s: %w", s.Name(), err)
		}
		e := StrategyEntry{Name: s.Name(), Status: StatusBackingUp, Params: params}
		for _, x := range st {
			e.Files = append(e.Files, x.Name)
		}
		plan.Strategies = append(plan.Strategies, e)
		streams = append(streams, st...)
	}
	if err := plan.Save(b.Instance); err != nil {
		return Snapshot{}, used, err
	}
	tags := map[string]string{"plan": plan.Timestamp}
	snap, err := store.Save(ctx, Source{Instance: b.Instance.Name, App: b.App}, tags, streams, func(p Progress) {
		progress(p.File, p.Bytes)
	})
	return snap, used, err
}

func newPlan(e Env, a *App) *RecoveryPlan {
	ts := time.Now().UTC()
	// One backup per second at most: the timestamp is the plan's id.
	for {
		if _, err := os.Stat(e.Instance.Path(planDir(a.Name, ts.Format(tsLayout)))); os.IsNotExist(err) {
			break
		}
		ts = ts.Add(time.Second)
	}
	return &RecoveryPlan{
		App: a.Name, Instance: e.Instance.Name, Timestamp: ts.Format(tsLayout), Status: StatusBackingUp,
		Source: Side{ActiveColor: a.active.Color, Namespace: a.Namespace, Inventory: a.active.Inventory(a.Name), AppDir: "apps/" + a.Name},
		Owner:  owner(),
	}
}

// failPlan records err on the plan and returns it.
func failPlan(e Env, plan *RecoveryPlan, err error) error {
	plan.Status, plan.Error, plan.Owner = StatusFailed, oneLine(err), nil
	if serr := plan.Save(e.Instance); serr != nil {
		return fmt.Errorf("%w (and the plan could not be saved: %v)", err, serr)
	}
	return err
}

// markInterrupted tells the truth about plans whose run died: a backup
// that never completed has no snapshot (the repository commits a
// snapshot only whole), so it is marked failed.
func markInterrupted(e Env, app string) error {
	plans, err := ListPlans(e.Instance, app)
	if err != nil {
		return err
	}
	for _, p := range plans {
		if p.Status == StatusBackingUp && p.Stale(time.Now()) {
			p.Status, p.Error, p.Owner = StatusFailed, "interrupted: the process running the backup stopped", nil
			if err := p.Save(e.Instance); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkAdded refuses, before anything is written, a bad name or an app
// the instance does not have.
func checkAdded(e Env, app string) error {
	if err := names.Validate("app", app); err != nil {
		return problem.New(problem.Invalid, err.Error())
	}
	if _, err := os.Stat(e.Instance.Path(instance.AppsDir, app, catalog.ManifestFile)); err != nil {
		return problem.New(problem.NotFound, fmt.Sprintf("%s is not added to instance %s", app, e.Instance.Name)).With("app.add", "add it first", "app", app)
	}
	return nil
}

func lockApp(e Env, app string) (func(), error) {
	if e.Instance == nil {
		return nil, problem.New(problem.Invalid, "no instance")
	}
	return e.Instance.LockApp(app)
}

func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// List returns an app's backups, newest first.
type List struct {
	Env
	App string
}

// Run reads the plans; it needs neither the cluster nor the repository.
func (l *List) Run(ctx context.Context) ([]*RecoveryPlan, error) {
	if _, err := l.loadManifestOnly(); err != nil {
		return nil, err
	}
	plans, err := ListPlans(l.Instance, l.App)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, p := range plans {
		if (p.Status == StatusBackingUp || p.Status == StatusRestoring || p.Status == StatusSwitching) && p.Stale(now) {
			p.Error = "interrupted: the process running it stopped; run the operation again to resume"
		}
	}
	return plans, nil
}

func (l *List) loadManifestOnly() (bool, error) {
	if err := names.Validate("app", l.App); err != nil {
		return false, problem.New(problem.Invalid, err.Error())
	}
	if _, err := os.Stat(l.Instance.AppDir(l.App)); err != nil {
		if _, perr := os.Stat(l.Instance.Path(BackupsDir, l.App)); perr == nil {
			return false, nil // deleted app: its backups still list
		}
		return false, problem.New(problem.NotFound, fmt.Sprintf("%s is not added to instance %s and has no backups", l.App, l.Instance.Name))
	}
	return true, nil
}
