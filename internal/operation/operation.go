// Package operation writes the record of every mutating operation
// (operations/op_<action>_app_<app>_<timestamp>.json): its steps, timings,
// warnings and error, so a user can see what happened after the fact.
package operation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/names"
)

// Status of an operation or step.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Step is one timed part of an operation.
type Step struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"startedAt"`
	DurationMs int64     `json:"durationMs"`
	Message    string    `json:"message,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Record is the persisted form of an operation.
type Record struct {
	ID         string    `json:"id"`
	Action     string    `json:"action"`
	App        string    `json:"app"`
	Instance   string    `json:"instance"`
	Status     string    `json:"status"`
	PID        int       `json:"pid"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	DurationMs int64     `json:"durationMs"`
	Steps      []Step    `json:"steps"`
	Warnings   []string  `json:"warnings,omitempty"`
	Changes    []string  `json:"changes,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Op records one running operation. Its methods are safe for concurrent
// use, and every change is written through so a crash leaves the record
// saying how far it got.
type Op struct {
	mu    sync.Mutex
	dir   string
	rec   Record
	step  int // index of the running step, -1 if none
	saved time.Time
}

// saveEvery throttles progress writes: short operations (add) would
// otherwise spend more time writing their record than doing their work,
// while long ones (deploy, wait) still show where they are.
const saveEvery = 500 * time.Millisecond

// Start creates the record for action on app.
func Start(opsDir, instance, action, app string) (*Op, error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	id := fmt.Sprintf("op_%s_app_%s_%s", action, app, now.Format("20060102T150405.000000000Z"))
	id = strings.ReplaceAll(id, ".", "")
	o := &Op{dir: opsDir, step: -1, rec: Record{
		ID: id, Action: action, App: app, Instance: instance, Status: Running,
		PID: os.Getpid(), StartedAt: now, Steps: []Step{},
	}}
	if err := os.MkdirAll(opsDir, 0o755); err != nil {
		return nil, err
	}
	return o, o.save()
}

// ID returns the record's id.
func (o *Op) ID() string { return o.rec.ID }

// Step ends the running step (as succeeded) and starts a new one.
func (o *Op) Step(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.endStep(Succeeded, "")
	o.rec.Steps = append(o.rec.Steps, Step{Name: name, Status: Running, StartedAt: time.Now().UTC()})
	o.step = len(o.rec.Steps) - 1
	if time.Since(o.saved) > saveEvery {
		_ = o.save()
	}
}

// Note attaches a message to the running step.
func (o *Op) Note(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.step >= 0 {
		s := &o.rec.Steps[o.step]
		msg := fmt.Sprintf(format, args...)
		if s.Message != "" {
			s.Message += "; "
		}
		s.Message += msg
	}
}

// Warn records a warning that did not stop the operation.
func (o *Op) Warn(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rec.Warnings = append(o.rec.Warnings, fmt.Sprintf(format, args...))
	_ = o.save()
}

// Change records one thing the operation changed, e.g. "created Deployment/ghost".
func (o *Op) Change(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rec.Changes = append(o.rec.Changes, s)
}

// Warnings returns the warnings so far.
func (o *Op) Warnings() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.rec.Warnings...)
}

func (o *Op) endStep(status, errMsg string) {
	if o.step < 0 {
		return
	}
	s := &o.rec.Steps[o.step]
	s.Status = status
	s.Error = errMsg
	s.DurationMs = time.Since(s.StartedAt).Milliseconds()
	o.step = -1
}

// Finish closes the record with err (nil for success) and returns err so
// callers can write `return op.Finish(err)`.
func (o *Op) Finish(err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now().UTC()
	o.rec.FinishedAt = now
	o.rec.DurationMs = now.Sub(o.rec.StartedAt).Milliseconds()
	if err != nil {
		o.endStep(Failed, err.Error())
		o.rec.Status = Failed
		o.rec.Error = err.Error()
	} else {
		o.endStep(Succeeded, "")
		o.rec.Status = Succeeded
	}
	if serr := o.saveDurable(); serr != nil && err == nil {
		return serr
	}
	return err
}

// Record returns a copy of the current record.
func (o *Op) Record() Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rec
	r.Steps = append([]Step(nil), o.rec.Steps...)
	return r
}

// save writes progress without fsync: a crash may lose the latest step,
// never the file. Finish writes durably.
func (o *Op) save() error {
	o.saved = time.Now()
	b, err := json.MarshalIndent(o.rec, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.ReplaceFile(filepath.Join(o.dir, o.rec.ID+".json"), append(b, '\n'), 0o644)
}

func (o *Op) saveDurable() error {
	b, err := json.MarshalIndent(o.rec, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(o.dir, o.rec.ID+".json"), append(b, '\n'), 0o644)
}

// List returns records, newest first; app filters when non-empty. A
// record still "running" whose process is gone is reported as
// "interrupted".
func List(opsDir, app string) ([]Record, error) {
	entries, err := os.ReadDir(opsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "op_") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		r, err := read(filepath.Join(opsDir, e.Name()))
		if err != nil || (app != "" && r.App != app) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	return out, nil
}

// Get reads one record by id.
func Get(opsDir, id string) (Record, error) {
	if strings.ContainsAny(id, "/\\") || strings.Contains(id, "..") || !strings.HasPrefix(id, "op_") {
		return Record{}, fmt.Errorf("invalid operation id %q; list them with: wild operation list", id)
	}
	r, err := read(filepath.Join(opsDir, strings.TrimSuffix(id, ".json")+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return Record{}, fmt.Errorf("no operation %q; list them with: wild operation list", id)
	}
	return r, err
}

func read(path string) (Record, error) {
	var r Record
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if r.Status == Running && !alive(r.PID) {
		r.Status = "interrupted"
	}
	return r, nil
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
