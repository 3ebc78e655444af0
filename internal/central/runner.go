package central

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/wire"
)

// Spec is an operation to start.
type Spec struct {
	Action   string
	Instance string
	App      string // empty for instance-wide operations
	By       string
	// Do runs the operation. It must honour ctx and send its events to obs.
	Do func(ctx context.Context, id string, obs event.Observer) (any, error)
}

type run struct {
	info   wire.RunInfo
	cancel context.CancelFunc
	done   chan struct{}
}

// Runner runs operations in the daemon, independent of the client that
// asked: one at a time per app, any number across apps. Each run's record
// and events are persisted as they happen.
//
// Only the daemon writes its runs directory, so the records are read once,
// at start, and kept in memory: the UI lists operations constantly, and a
// list used to read and decode every record ever written.
type Runner struct {
	dir     string
	bus     *Bus
	metrics RunMeter

	mu      sync.Mutex
	active  map[string]*run         // by id
	records map[string]wire.RunInfo // every record on disk, by id
	closing bool
	wg      sync.WaitGroup
}

// Keep is how many finished runs the daemon keeps of each subject (an app
// of an instance, or the instance itself); older ones are removed as new
// ones finish. The instance's own operation records are bounded the same
// way (operation.Keep).
const Keep = operation.Keep

// RunMeter counts runs as they start and end: Wild Central's metrics
// (internal/metrics), kept behind this interface so this package does not
// link Prometheus's client.
type RunMeter interface {
	OpStarted(action string)
	OpFinished(wire.RunInfo)
}

// NewRunner keeps run records in dir; m may be nil. Runs left "running"
// by a daemon that died are marked interrupted, with an event saying so.
func NewRunner(dir string, bus *Bus, m RunMeter) (*Runner, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r := &Runner{dir: dir, bus: bus, metrics: m, active: map[string]*run{}}
	if err := r.load(); err != nil {
		return nil, err
	}
	type subject struct{ instance, app string }
	subjects := map[subject]bool{}
	for _, ri := range r.List(Topic{}) {
		subjects[subject{ri.Instance, ri.App}] = true
		if ri.Status == wire.Running {
			r.finish(&run{info: ri}, wire.Interrupted, nil, &wire.ErrorBody{Code: problem.Internal,
				Message: "the daemon stopped while this operation ran; run it again (operations are idempotent)"})
		}
	}
	// A directory from before the bound, or from a daemon that stopped
	// mid-prune, is brought within it at once, not only for the subjects
	// that run again.
	for s := range subjects {
		r.prune(s.instance, s.app)
	}
	return r, nil
}

// load reads every record in the runs directory; an unreadable one is
// left on disk and out of the lists, as before.
func (r *Runner) load() error {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	r.records = make(map[string]wire.RunInfo, len(ents))
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || validID(id) != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		var ri wire.RunInfo
		if err != nil || json.Unmarshal(b, &ri) != nil || ri.ID != id {
			continue
		}
		r.records[id] = ri
	}
	return nil
}

// Start begins an operation and returns its record at once. A second
// operation on an app that has one running is refused, naming the first.
func (r *Runner) Start(s Spec) (wire.RunInfo, error) {
	if err := names.Validate("instance", s.Instance); err != nil {
		return wire.RunInfo{}, &problem.Error{Code: problem.Invalid, Err: err}
	}
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return wire.RunInfo{}, problem.New(problem.Unavailable, "Wild Central is shutting down; try again when it is back")
	}
	if busy := r.conflict(s); busy != nil {
		r.mu.Unlock()
		what := "instance " + s.Instance
		if busy.info.App != "" {
			what = busy.info.App
		}
		return wire.RunInfo{}, problem.New(problem.Conflict,
			fmt.Sprintf("%s is busy: operation %s (%s) is running", what, busy.info.ID, busy.info.Action)).
			With("operation.follow", "wait for it to finish, or cancel it", "id", busy.info.ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ru := &run{cancel: cancel, done: make(chan struct{}), info: wire.RunInfo{
		ID: NewID(s.Action, s.App), Action: s.Action, Instance: s.Instance, App: s.App,
		Status: wire.Running, StartedAt: time.Now().UTC(), By: s.By,
	}}
	r.active[ru.info.ID] = ru
	r.wg.Add(1)
	r.mu.Unlock()

	if err := r.save(ru.info); err != nil {
		r.mu.Lock()
		delete(r.active, ru.info.ID)
		r.mu.Unlock()
		r.wg.Done()
		cancel()
		return wire.RunInfo{}, err
	}
	r.publishStatus(ru.info)
	if r.metrics != nil {
		r.metrics.OpStarted(s.Action)
	}
	go r.execute(ctx, ru, s)
	return ru.info, nil
}

// conflict returns the running operation s would collide with: the same
// app, or anything in the instance when either side is instance-wide.
func (r *Runner) conflict(s Spec) *run {
	for _, ru := range r.active {
		if ru.info.Instance != s.Instance {
			continue
		}
		if ru.info.App == "" || s.App == "" || ru.info.App == s.App {
			return ru
		}
	}
	return nil
}

func (r *Runner) execute(ctx context.Context, ru *run, s Spec) {
	defer r.wg.Done()
	defer close(ru.done)
	obs := event.Func(func(e event.Event) {
		if e.Time.IsZero() {
			e.Time = time.Now().UTC()
		}
		r.bus.Publish(wire.Envelope{Op: ru.info.ID, Instance: ru.info.Instance, App: ru.info.App, Event: &e})
	})
	res, err := safeDo(ctx, s, ru.info.ID, obs)
	switch {
	case err == nil:
		r.finish(ru, wire.Succeeded, res, nil)
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		r.finish(ru, wire.Cancelled, res, wire.BodyOf(err))
	default:
		r.finish(ru, wire.Failed, res, wire.BodyOf(err))
	}
}

// safeDo turns a panic in an operation into a failure, so one bad
// operation cannot take the daemon down.
func safeDo(ctx context.Context, s Spec, id string, obs event.Observer) (res any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = problem.New(problem.Internal, fmt.Sprintf("internal error in %s: %v", s.Action, p))
		}
	}()
	return s.Do(ctx, id, obs)
}

func (r *Runner) finish(ru *run, status string, res any, eb *wire.ErrorBody) {
	ru.info.Status = status
	ru.info.FinishedAt = time.Now().UTC()
	ru.info.DurationMs = ru.info.FinishedAt.Sub(ru.info.StartedAt).Milliseconds()
	ru.info.Error = eb
	if res != nil {
		if b, err := json.Marshal(res); err == nil && string(b) != "null" {
			ru.info.Result = b
		}
	}
	_ = r.save(ru.info)
	r.mu.Lock()
	delete(r.active, ru.info.ID)
	r.mu.Unlock()
	r.prune(ru.info.Instance, ru.info.App)
	r.publishStatus(ru.info)
	if r.metrics != nil {
		r.metrics.OpFinished(ru.info)
	}
}

func (r *Runner) publishStatus(ri wire.RunInfo) {
	r.bus.Publish(wire.Envelope{Op: ri.ID, Instance: ri.Instance, App: ri.App, Action: ri.Action, Status: ri.Status})
}

// Cancel stops a running operation through its context. The operation
// stops at its next safe point and is recorded as cancelled.
func (r *Runner) Cancel(id string) (wire.RunInfo, error) {
	r.mu.Lock()
	ru, ok := r.active[id]
	r.mu.Unlock()
	if !ok {
		ri, err := r.Get(id)
		if err != nil {
			return wire.RunInfo{}, err
		}
		return ri, problem.New(problem.Conflict, fmt.Sprintf("operation %s already ended (%s)", id, ri.Status))
	}
	ru.cancel()
	<-ru.done
	return r.Get(id)
}

// Get returns one run's record.
func (r *Runner) Get(id string) (wire.RunInfo, error) {
	if err := validID(id); err != nil {
		return wire.RunInfo{}, err
	}
	r.mu.Lock()
	ri, ok := r.records[id]
	r.mu.Unlock()
	if !ok {
		return wire.RunInfo{}, problem.New(problem.NotFound, fmt.Sprintf("no operation %q", id)).With("operation.list", "list the operations")
	}
	return ri, nil
}

// List returns the runs matching topic (Op is ignored), newest first.
func (r *Runner) List(t Topic) []wire.RunInfo {
	r.mu.Lock()
	var out []wire.RunInfo
	for _, ri := range r.records {
		if (t.Instance == "" || t.Instance == ri.Instance) && (t.App == "" || t.App == ri.App) {
			out = append(out, ri)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b wire.RunInfo) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// prune removes the oldest finished runs of one subject beyond Keep. An
// instance-wide subject (app "") is its own, not every app's.
func (r *Runner) prune(instance, app string) {
	r.mu.Lock()
	var mine []wire.RunInfo
	for _, ri := range r.records {
		if ri.Instance == instance && ri.App == app && ri.Terminal() {
			mine = append(mine, ri)
		}
	}
	old := operation.Beyond(mine, func(a, b wire.RunInfo) int { return b.StartedAt.Compare(a.StartedAt) })
	for _, ri := range old {
		delete(r.records, ri.ID)
	}
	r.mu.Unlock()
	for _, ri := range old {
		os.Remove(filepath.Join(r.dir, ri.ID+".json"))
	}
}

// Active counts running operations.
func (r *Runner) Active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.active)
}

// Shutdown refuses new operations, lets running ones finish until ctx
// ends, then cancels them so they stop at a safe point. Whatever is still
// running when Shutdown returns is recorded as interrupted.
func (r *Runner) Shutdown(ctx context.Context, cancelAfter time.Duration) {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(cancelAfter):
	case <-ctx.Done():
	}
	r.mu.Lock()
	for _, ru := range r.active {
		ru.cancel()
	}
	r.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		r.mu.Lock()
		left := make([]*run, 0, len(r.active))
		for _, ru := range r.active {
			left = append(left, ru)
		}
		r.mu.Unlock()
		for _, ru := range left {
			r.finish(ru, wire.Interrupted, nil, &wire.ErrorBody{Code: problem.Internal, Message: "the daemon stopped before this operation reached a safe point; run it again"})
		}
	}
}

func (r *Runner) save(ri wire.RunInfo) error {
	b, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(r.dir, ri.ID+".json"), b, 0o600); err != nil {
		return err
	}
	r.mu.Lock()
	r.records[ri.ID] = ri
	r.mu.Unlock()
	return nil
}

// NewID names an operation the way operation records are named, so the
// daemon's record and the service layer's record share one id; an
// instance-wide operation names the instance where the app would stand.
func NewID(action, app string) string {
	now := time.Now()
	if app != "" {
		return operation.NewID(action, app, now)
	}
	return "op_" + action + "_instance_" + operation.Stamp(now)
}

func validID(id string) error {
	if id == "" || len(id) > 200 || strings.ContainsAny(id, "/\\") || strings.Contains(id, "..") {
		return problem.New(problem.Invalid, fmt.Sprintf("invalid operation id %q", id))
	}
	for _, c := range id {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return problem.New(problem.Invalid, fmt.Sprintf("invalid operation id %q", id))
		}
	}
	return nil
}
