package lifecycle

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/render"
)

// Env is what every operation needs.
type Env struct {
	Instance *instance.Instance
	Catalog  *catalog.Catalog
	Engine   *render.Engine
	// Observer receives the operation's events (phases, resource
	// statuses, warnings, log lines); nil discards them.
	Observer event.Observer
	// OperationID, when set, is the id of the operation record the run
	// starts (a daemon assigns it before the run to answer with it at
	// once). Operations a run starts on the side (a dependency's deploy,
	// a recompile) get their own ids.
	OperationID string
}

func (e *Env) observer() event.Observer { return event.Or(e.Observer) }

// logf emits a log line about app.
func (e *Env) logf(app, format string, args ...any) {
	e.observer().Observe(event.Event{Kind: event.Log, Time: time.Now().UTC(), App: app, Message: fmt.Sprintf(format, args...)})
}

func (e *Env) engine() *render.Engine {
	if e.Engine == nil {
		e.Engine = render.New()
	}
	return e.Engine
}

// side returns the Env for an operation a run starts on the side: same
// instance and observer, its own operation id.
func (e Env) side() Env {
	e.OperationID = ""
	return e
}

// startOp starts the operation record of action on app, with the
// caller's id when one was given, and marks the app's lock (held by the
// caller) with it.
func (e *Env) startOp(action, app string) (*operation.Op, error) {
	return e.startOpWith(action, app, false)
}

// startQuietOp is startOp for an operation that often changes nothing
// (operation.Options.Quiet): it must Announce before its first change.
func (e *Env) startQuietOp(action, app string) (*operation.Op, error) {
	return e.startOpWith(action, app, true)
}

func (e *Env) startOpWith(action, app string, quiet bool) (*operation.Op, error) {
	op, err := operation.StartWith(e.Instance.Path(instance.OperationsDir), e.Instance.Name, action, app,
		operation.Options{ID: e.OperationID, Observer: e.Observer, Quiet: quiet})
	if err != nil {
		return nil, err
	}
	e.Instance.NoteAppLock(app, op.ID())
	return op, nil
}

// recordAlongside makes op's final record land with e's commit
// (instance.Edit.Alongside): when the edit changes anything, the commit's
// fsyncs make the record durable, instead of two rounds of its own after.
func recordAlongside(e *instance.Edit, op *operation.Op) {
	e.Alongside(path.Join(instance.OperationsDir, op.ID()+".json"), 0o600, op.Final)
}

// cancelled returns ctx's error when it is done: operations check it at
// safe points (between phases), never in the middle of a write.
func cancelled(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped: %w", err)
	}
	return nil
}
