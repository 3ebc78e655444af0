package backup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

// Plan statuses, in the order a plan moves through them.
const (
	StatusBackingUp = "backing-up"
	StatusBackedUp  = "backed-up"
	StatusRestoring = "restoring"
	StatusRestored  = "restored"
	StatusSwitching = "switching"
	StatusSwitched  = "switched"
	StatusCleaned   = "cleaned"
	StatusFailed    = "failed"
)

// BackupsDir holds one directory per app, and in it one per backup
// timestamp with its plan.yaml.
const BackupsDir = "backups"

// RecoveryPlan is the coordination record of one backup and what was
// done with it (seed 004). It is rewritten at every transition, so after
// a crash it says how far the run got and a new run resumes from there.
type RecoveryPlan struct {
	App          string            `json:"app"`
	Instance     string            `json:"instance"`
	Timestamp    string            `json:"timestamp"`
	Status       string            `json:"status"`
	Error        string            `json:"error,omitempty"`
	Snapshot     string            `json:"snapshot,omitempty"`
	StandbyColor string            `json:"standbyColor,omitempty"`
	Source       Side              `json:"source"`
	Standby      *Side             `json:"standby,omitempty"`
	Strategies   []StrategyEntry   `json:"strategies"`
	Phases       map[string]*Phase `json:"phases"`
	// Verification is the last restore drill of this backup.
	Verification *Verification `json:"verification,omitempty"`
	// Owner is the process running the plan, with a heartbeat; a plan
	// whose owner stopped beating for LockTTL may be taken over.
	Owner *Owner `json:"owner,omitempty"`
}

// Side is one color of the app.
type Side struct {
	ActiveColor string `json:"activeColor,omitempty"`
	Color       string `json:"color,omitempty"`
	Namespace   string `json:"namespace"`
	// Inventory is the name the side's objects are recorded under in the
	// cluster (see side.Active.Inventory); cleanup removes the record.
	Inventory string `json:"inventory,omitempty"`
	AppDir    string `json:"appDir"`
	// Hosts maps each live Ingress host to the standby's preview host.
	Hosts map[string]string `json:"hosts,omitempty"`
}

// StrategyEntry is one strategy's part of the plan.
type StrategyEntry struct {
	Name    string            `json:"name"`
	Status  string            `json:"status"`
	Params  map[string]string `json:"params,omitempty"`
	Backup  map[string]string `json:"backup,omitempty"`
	Restore map[string]string `json:"restore,omitempty"`
	Files   []string          `json:"files,omitempty"`
}

// Phase is when one phase (backup, restore, switch, cleanup) ran.
type Phase struct {
	StartedAt   time.Time  `json:"startedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty"`
}

// Owner holds a plan while a run works on it.
type Owner struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Heartbeat time.Time `json:"heartbeat"`
}

// LockTTL is how long a plan's owner may be silent before another run
// takes the plan over: a crashed run never blocks the app for good.
var LockTTL = 10 * time.Minute

// Stale reports whether the plan's owner is gone or silent past LockTTL.
func (p *RecoveryPlan) Stale(now time.Time) bool {
	if p.Owner == nil {
		return true
	}
	if h, _ := os.Hostname(); h == p.Owner.Host && p.Owner.PID != os.Getpid() && !processAlive(p.Owner.PID) {
		return true
	}
	return now.Sub(p.Owner.Heartbeat) > LockTTL
}

func planDir(app, ts string) string { return path.Join(BackupsDir, app, ts) }

func planPath(app, ts string) string { return path.Join(planDir(app, ts), "plan.yaml") }

// Save writes the plan atomically under the instance locks.
func (p *RecoveryPlan) Save(inst *instance.Instance) error {
	if p.Owner != nil {
		p.Owner.Heartbeat = time.Now().UTC()
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	return inst.Update(func(e *instance.Edit) error {
		return e.WriteFile(planPath(p.App, p.Timestamp), b, 0o600)
	})
}

func (p *RecoveryPlan) start(phase string) {
	if p.Phases == nil {
		p.Phases = map[string]*Phase{}
	}
	p.Phases[phase] = &Phase{StartedAt: time.Now().UTC()}
}

func (p *RecoveryPlan) complete(phase string) {
	now := time.Now().UTC()
	if ph := p.Phases[phase]; ph != nil {
		ph.CompletedAt = &now
	}
}

func (p *RecoveryPlan) entry(name string) *StrategyEntry {
	for i := range p.Strategies {
		if p.Strategies[i].Name == name {
			return &p.Strategies[i]
		}
	}
	return nil
}

// LoadPlan reads one plan; ts "" is the newest.
func LoadPlan(inst *instance.Instance, app, ts string) (*RecoveryPlan, error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	if ts == "" {
		all, err := ListPlans(inst, app)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, notFound(fmt.Sprintf("%s has no backups in instance %s", app, inst.Name), app)
		}
		return all[0], nil
	}
	if !validTimestamp(ts) {
		return nil, problem.New(problem.Invalid, fmt.Sprintf("%q is not a backup id (like 20260308T231537Z)", ts)).With("app.backups", "list them", "app", app)
	}
	b, err := os.ReadFile(inst.Path(planPath(app, ts)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound(fmt.Sprintf("%s has no backup %s", app, ts), app)
	}
	if err != nil {
		return nil, err
	}
	p := &RecoveryPlan{}
	if err := yaml.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the file)", planPath(app, ts), err)
	}
	return p, nil
}

// ListPlans returns the app's plans, newest first.
func ListPlans(inst *instance.Instance, app string) ([]*RecoveryPlan, error) {
	entries, err := os.ReadDir(inst.Path(BackupsDir, app))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*RecoveryPlan
	for _, e := range entries {
		if !e.IsDir() || !validTimestamp(e.Name()) {
			continue
		}
		p, err := LoadPlan(inst, app, e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp > out[j].Timestamp })
	return out, nil
}

const tsLayout = "20060102T150405Z"

func validTimestamp(s string) bool {
	_, err := time.Parse(tsLayout, s)
	return err == nil
}

// HeartbeatEvery is how often a running backup or restore refreshes its
// plan's heartbeat: well inside LockTTL, so a dump or a restore that
// takes longer than LockTTL is never taken for dead by a run on another
// host (where the owner's PID cannot be checked).
var HeartbeatEvery = LockTTL / 4

// heartbeat refreshes the owner's heartbeat of the stored plan app/ts every
// interval until stop is called (stop waits for a refresh under way). It
// reads the plan afresh under the instance lock and changes only the
// heartbeat, so it never undoes what the run saved meanwhile, and it
// leaves alone a plan this process no longer owns.
func heartbeat(inst *instance.Instance, app, ts string, every time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				_ = beat(inst, app, ts) // a missed beat is retried next tick; the TTL allows several
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

func beat(inst *instance.Instance, app, ts string) error {
	return inst.Update(func(e *instance.Edit) error {
		b, err := os.ReadFile(inst.Path(planPath(app, ts)))
		if err != nil {
			return err
		}
		p := &RecoveryPlan{}
		if err := yaml.Unmarshal(b, p); err != nil {
			return err
		}
		me := owner()
		if p.Owner == nil || p.Owner.PID != me.PID || p.Owner.Host != me.Host {
			return nil
		}
		p.Owner.Heartbeat = me.Heartbeat
		if b, err = yaml.Marshal(p); err != nil {
			return err
		}
		return e.WriteFile(planPath(app, ts), b, 0o600)
	})
}
