// Package event is the one stream of what a long operation is doing:
// phases starting and finishing, resources changing status, warnings and
// log lines. The service layer emits events to an Observer its caller
// passes in; the CLI draws them on a terminal, the API streams them over
// SSE. Nothing in the service layer prints.
package event

import (
	"sync"
	"time"
)

// Kind says what an Event reports.
type Kind string

const (
	PhaseStarted   Kind = "phase_started"
	PhaseFinished  Kind = "phase_finished"
	ResourceStatus Kind = "resource_status"
	Warning        Kind = "warning"
	Log            Kind = "log"
	// Progress reports bytes moved so far by a long transfer: a backup's
	// total read so far, or a restore stream's (the file is in Message).
	Progress Kind = "progress"
)

// Resource is one cluster object's readiness.
type Resource struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"` // kstatus: Current, InProgress, Failed, ...
	Message   string `json:"message,omitempty"`
}

// Event is one thing that happened during an operation.
type Event struct {
	Kind       Kind      `json:"kind"`
	Time       time.Time `json:"time"`
	App        string    `json:"app,omitempty"`
	Phase      string    `json:"phase,omitempty"`
	Resource   *Resource `json:"resource,omitempty"`
	Message    string    `json:"message,omitempty"`
	Error      string    `json:"error,omitempty"`      // on a failed PhaseFinished; never a secret value
	DurationMs int64     `json:"durationMs,omitempty"` // on PhaseFinished
	Bytes      int64     `json:"bytes,omitempty"`      // on Progress
}

// Observer receives events. Observe must not block for long: operations
// call it inline.
type Observer interface{ Observe(Event) }

// Func adapts a function to an Observer.
type Func func(Event)

// Observe calls f.
func (f Func) Observe(e Event) { f(e) }

// Discard drops every event.
var Discard Observer = Func(func(Event) {})

// Or returns o, or Discard when o is nil.
func Or(o Observer) Observer {
	if o == nil {
		return Discard
	}
	return o
}

// Recorder keeps every event it observes; tests and callers that want the
// whole stream after the fact use it. It is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Observe appends e.
func (r *Recorder) Observe(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of what was observed so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Tee sends every event to each observer in turn.
func Tee(obs ...Observer) Observer {
	return Func(func(e Event) {
		for _, o := range obs {
			if o != nil {
				o.Observe(e)
			}
		}
	})
}
