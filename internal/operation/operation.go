// Package operation writes the record of every mutating operation
// (operations/op_<action>_app_<app>_<timestamp>.json): its steps, timings,
// warnings and error, so a user can see what happened after the fact.
package operation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/redact"
)

// Status of an operation or step.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	// Cancelled: the caller cancelled the operation's context.
	Cancelled = "cancelled"
	// Interrupted: the operation's deadline passed, or (when listed) its
	// process died while it was running.
	Interrupted = "interrupted"
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
	obs   event.Observer
	// nothing marks an operation that changed nothing (ChangedNothing).
	nothing bool
	// unsaved marks a Quiet operation whose record is not written yet.
	unsaved bool
	// landed marks a record whose final version an instance commit wrote
	// (Final): Finish(nil) has nothing left to write.
	landed bool
	// secrets caches secrets.yaml's values by the file's size and mtime.
	secrets      []string
	secretsStamp string
}

// ChangedNothing marks an operation that wrote nothing anywhere, a no-op
// redeploy: its final record is then written without waiting for the
// disk. A crash may lose the record of nothing happening (it then reads
// as interrupted), never the record of a change.
func (o *Op) ChangedNothing() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nothing = true
}

// Options are the optional parts of Start.
type Options struct {
	// ID, when set, is the record's id (a daemon assigns it before the run
	// so it can answer with it at once). It must start with "op_" and be a
	// plain file name.
	ID string
	// Observer receives a phase event per step and a warning event per
	// warning; nil discards them.
	Observer event.Observer
	// Quiet defers the running record's first write to Announce, to the
	// first save of progress (saveEvery after the start) or to Finish,
	// whichever comes first: for an operation that usually changes
	// nothing and ends in milliseconds (a no-op redeploy), whose running
	// record would be a file write for nobody. It must Announce before
	// it first changes anything.
	Quiet bool
}

// saveEvery throttles progress writes: short operations (add) would
// otherwise spend more time writing their record than doing their work,
// while long ones (deploy, wait) still show where they are.
const saveEvery = 500 * time.Millisecond

// Start creates the record for action on app.
func Start(opsDir, instance, action, app string) (*Op, error) {
	return StartWith(opsDir, instance, action, app, Options{})
}

// StartWith is Start with a chosen id and an observer.
func StartWith(opsDir, instance, action, app string, opts Options) (*Op, error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	id := opts.ID
	if id == "" {
		id = NewID(action, app, now)
	} else if err := validID(id); err != nil {
		return nil, err
	}
	o := &Op{dir: opsDir, step: -1, obs: event.Or(opts.Observer), rec: Record{
		ID: id, Action: action, App: app, Instance: instance, Status: Running,
		PID: os.Getpid(), StartedAt: now, Steps: []Step{},
	}}
	if err := os.MkdirAll(opsDir, 0o700); err != nil {
		return nil, err
	}
	if opts.Quiet {
		o.saved, o.unsaved = now, true
		return o, nil
	}
	return o, o.save()
}

// Announce writes the running record of a Quiet operation, if it is not
// written yet, so that a crash from now on leaves the record saying how
// far the operation got. A Quiet operation calls it before its first
// change; for any other it writes nothing.
func (o *Op) Announce() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.unsaved {
		return nil
	}
	return o.save()
}

// NewID returns the id Start gives an operation begun at t.
func NewID(action, app string, t time.Time) string {
	// parseName reads this form back: an app name never holds "_".
	return "op_" + action + "_app_" + app + "_" + Stamp(t)
}

// Stamp is the time part of an operation id: UTC to the nanosecond, with
// no character a file name or an id separator would trip on.
func Stamp(t time.Time) string {
	return strings.ReplaceAll(t.UTC().Format("20060102T150405.000000000Z"), ".", "")
}

func validID(id string) error {
	if !strings.HasPrefix(id, "op_") || strings.ContainsAny(id, "/\\") || strings.Contains(id, "..") || len(id) > 200 {
		return fmt.Errorf("invalid operation id %q: it must start with op_ and be a plain file name", id)
	}
	return nil
}

// ID returns the record's id.
func (o *Op) ID() string { return o.rec.ID }

// Step ends the running step (as succeeded) and starts a new one.
func (o *Op) Step(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.endStep(Succeeded, "")
	now := time.Now().UTC()
	o.rec.Steps = append(o.rec.Steps, Step{Name: name, Status: Running, StartedAt: now})
	o.step = len(o.rec.Steps) - 1
	o.obs.Observe(event.Event{Kind: event.PhaseStarted, Time: now, App: o.rec.App, Phase: name})
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
	msg := fmt.Sprintf(format, args...)
	o.rec.Warnings = append(o.rec.Warnings, msg)
	_ = o.save()
	o.obs.Observe(event.Event{Kind: event.Warning, Time: time.Now().UTC(), App: o.rec.App, Phase: o.stepName(), Message: msg})
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
	o.obs.Observe(event.Event{Kind: event.PhaseFinished, Time: time.Now().UTC(), App: o.rec.App, Phase: s.Name,
		Message: status, Error: errMsg, DurationMs: s.DurationMs})
}

func (o *Op) stepName() string {
	if o.step < 0 {
		return ""
	}
	return o.rec.Steps[o.step].Name
}

// Finish closes the record with err (nil for success) and returns err so
// callers can write `return op.Finish(err)`.
func (o *Op) Finish(err error) error {
	return o.FinishCtx(context.Background(), err)
}

// FinishCtx is Finish for an operation run under ctx: a failure after ctx
// was cancelled is recorded as "cancelled" (or "interrupted" when its
// deadline passed), not as an ordinary failure.
func (o *Op) FinishCtx(ctx context.Context, err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.landed && err == nil {
		prune(o.dir, o.rec.App)
		return nil
	}
	o.landed = false
	o.end(ctx, err)
	if o.nothing && err == nil {
		// A no-op's record is not worth a wait for the disk, nor a prune
		// every time; but now and then, or no-ops alone would grow the
		// directory without bound.
		if serr := o.save(); serr != nil {
			return serr
		}
		if o.rec.StartedAt.UnixNano()%noopPruneEvery == 0 {
			prune(o.dir, o.rec.App)
		}
		return nil
	}
	if serr := o.saveDurable(); serr != nil && err == nil {
		return serr
	}
	prune(o.dir, o.rec.App)
	return redact.Error(err, o.secretValues())
}

// Final ends the operation as succeeded and returns its final record, for
// the instance commit of the change it records to write along with it
// (instance.Edit.Alongside), durable by the commit's own fsyncs. Its
// times are taken just before that commit. Finish(nil) then writes
// nothing; Finish with an error (the commit failed) still records the
// failure.
func (o *Op) Final() ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.end(context.Background(), nil)
	b, err := o.encode()
	if err != nil {
		return nil, err
	}
	o.landed = true
	return b, nil
}

// end closes the record's running step and sets its final status.
func (o *Op) end(ctx context.Context, err error) {
	now := time.Now().UTC()
	o.rec.FinishedAt = now
	o.rec.DurationMs = now.Sub(o.rec.StartedAt).Milliseconds()
	if err == nil {
		o.endStep(Succeeded, "")
		o.rec.Status = Succeeded
		return
	}
	status := Failed
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		status = Cancelled
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		status = Interrupted
	}
	o.endStep(status, err.Error())
	o.rec.Status = status
	o.rec.Error = err.Error()
}

// FinishAll is Finish for several operations at once, ops[i] ending with
// errs[i]: their final records are made durable together, in two rounds
// of fsyncs instead of two per record (an add of many apps). A record an
// instance commit already wrote (Final) and that succeeded is left as is.
// It returns each operation's error as Finish would, with secret values
// removed; a record that could not be written makes every nil one that
// error.
func FinishAll(ops []*Op, errs []error) []error {
	var files []fsutil.File
	out := make([]error, len(ops))
	for i, o := range ops {
		o.mu.Lock()
		if o.landed && errs[i] == nil {
			o.mu.Unlock()
			continue
		}
		o.landed = false
		o.end(context.Background(), errs[i])
		b, err := o.encode()
		files = append(files, fsutil.File{Path: o.path(), Data: b, Perm: 0o600})
		if out[i] = redact.Error(errs[i], o.secretValues()); out[i] == nil {
			out[i] = err
		}
		o.mu.Unlock()
	}
	if werr := fsutil.WriteFilesAtomic(files); werr != nil {
		for i := range out {
			if out[i] == nil {
				out[i] = werr
			}
		}
	}
	for _, o := range ops {
		prune(o.dir, o.rec.App)
	}
	return out
}

// Record returns a copy of the current record.
func (o *Op) Record() Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.rec
	r.Steps = append([]Step(nil), o.rec.Steps...)
	return r
}

// secretValues are the instance's secret values (secrets.yaml sits next
// to the operations directory), read fresh so secrets generated by this
// operation are covered too.
func (o *Op) secretValues() []string {
	path := filepath.Join(filepath.Dir(o.dir), "secrets.yaml")
	st, err := os.Stat(path)
	if err != nil {
		return redact.FileValues(path)
	}
	// secrets.yaml is replaced by rename, so a new version has a new
	// mtime or size; parsing it at every save cost a no-op deploy more
	// than its own checks did.
	stamp := fmt.Sprint(st.Size(), st.ModTime().UnixNano())
	if stamp != o.secretsStamp {
		o.secrets, o.secretsStamp = redact.FileValues(path), stamp
	}
	return o.secrets
}

// scrubbed is the record with every secret value removed from its text:
// whatever an error quoted, a record never holds a secret.
func (o *Op) scrubbed() Record {
	values := o.secretValues()
	r := o.rec
	s := func(x string) string { return redact.String(x, values) }
	r.Error = s(r.Error)
	r.Steps = make([]Step, len(o.rec.Steps))
	for i, st := range o.rec.Steps {
		st.Message, st.Error = s(st.Message), s(st.Error)
		r.Steps[i] = st
	}
	r.Warnings = scrubAll(o.rec.Warnings, s)
	r.Changes = scrubAll(o.rec.Changes, s)
	return r
}

func scrubAll(in []string, s func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = s(x)
	}
	return out
}

// save writes progress without fsync: a crash may lose the latest step,
// never the file. Finish writes durably.
func (o *Op) save() error {
	o.saved = time.Now()
	b, err := o.encode()
	if err != nil {
		return err
	}
	if err := fsutil.ReplaceFile(o.path(), b, 0o600); err != nil {
		return err
	}
	o.unsaved = false
	return nil
}

// encode is the record as its file holds it, secret values removed.
func (o *Op) encode() ([]byte, error) {
	b, err := json.MarshalIndent(o.scrubbed(), "", "  ")
	return append(b, '\n'), err
}

func (o *Op) path() string { return filepath.Join(o.dir, o.rec.ID+".json") }

func (o *Op) saveDurable() error {
	b, err := o.encode()
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(o.path(), b, 0o600)
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
		// Another app's record is told by its name, unread: status reads
		// one app's records, and the directory holds every app's.
		if n, ok := parseName(e.Name()); ok && app != "" && n.app != app {
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

// recordName is what a record's file name says, as NewID makes it:
// op_<action>_app_<app>_<time>.json.
type recordName struct{ action, app, at string }

// parseName reads a record's file name; ok is false for a name of another
// form (a temporary file, an id given otherwise), whose record must be
// read to know.
func parseName(name string) (n recordName, ok bool) {
	base, ok := strings.CutSuffix(name, ".json")
	i := strings.LastIndex(base, "_app_")
	if !ok || i < 0 || !strings.HasPrefix(base, "op_") {
		return n, false
	}
	n.action = base[len("op_"):i]
	n.app, n.at, ok = strings.Cut(base[i+len("_app_"):], "_")
	if !ok || strings.Contains(n.at, "_") || len(n.at) != len("20060102T150405000000000Z") || names.Validate("app", n.app) != nil {
		return recordName{}, false
	}
	return n, true
}

// noopPruneEvery: one no-op in this many, by its start time's
// nanoseconds, prunes its app's records: an app only ever redeployed
// unchanged keeps about Keep records, not one per deploy.
var noopPruneEvery int64 = 16

// Keep is how many records of each app the operations directory keeps:
// the newest, whatever their action. Without a bound every deploy and
// status would read a directory that only grows.
const Keep = 200

// Beyond is the rule both stores of records prune by (this package's
// files and Wild Central's runs): of one subject's items, those past the
// newest Keep, with newer ordering a newer item first. It sorts items.
func Beyond[T any](items []T, newer func(a, b T) int) []T {
	if len(items) <= Keep {
		return nil
	}
	slices.SortFunc(items, newer)
	return items[Keep:]
}

// prune removes the app's records beyond the newest Keep. It reads only
// names; a record of another form is never removed.
func prune(opsDir, app string) {
	entries, err := os.ReadDir(opsDir)
	if err != nil {
		return
	}
	type rec struct{ name, at string }
	var mine []rec
	for _, e := range entries {
		if n, ok := parseName(e.Name()); ok && n.app == app {
			mine = append(mine, rec{e.Name(), n.at})
		}
	}
	for _, r := range Beyond(mine, func(a, b rec) int { return strings.Compare(b.at, a.at) }) {
		os.Remove(filepath.Join(opsDir, r.name))
	}
}

// Ran reports whether opsDir holds a record of action on app other than
// the one with id except, from the file names alone (no record is read).
// It reads the directory unsorted, a batch at a time, and stops at the
// first match: an instance keeps up to Keep records per app, thousands in
// all, and sorting them all (os.ReadDir) cost every deploy 1.25 ms at
// 2,200 records (BenchmarkRan).
func Ran(opsDir, action, app, except string) bool {
	d, err := os.Open(opsDir)
	if err != nil {
		return false
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if n, ok := parseName(name); ok && n.action == action && n.app == app && name != except+".json" {
				return true
			}
		}
		if err != nil {
			return false // io.EOF: none
		}
	}
}

// RanApps lists the apps opsDir holds a record of action for, from the
// file names alone, with one read of the directory.
func RanApps(opsDir, action string) map[string]bool {
	entries, err := os.ReadDir(opsDir)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, e := range entries {
		if n, ok := parseName(e.Name()); ok && n.action == action {
			out[n.app] = true
		}
	}
	return out
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
		r.Status = Interrupted
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
