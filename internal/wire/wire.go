// Package wire holds what Wild Central's HTTP API sends and its clients
// read: a run's record and state, an error with its advice, and an event
// envelope. It sits apart from the daemon (central) so that a client,
// such as the CLI behind --server, links the words of the API and none of
// the machinery behind them.
package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/problem"
)

// Run states. A run is terminal once it leaves Running.
const (
	Running     = "running"
	Succeeded   = "succeeded"
	Failed      = "failed"
	Cancelled   = "cancelled"
	Interrupted = "interrupted"
)

// ErrorBody is an error as the API shows it: code, message and typed
// advice. The message leaves the advice's words out (the hint carries
// them), so a client rebuilds the same *problem.Error from it.
type ErrorBody struct {
	Code    problem.Code  `json:"code"`
	Message string        `json:"message"`
	Hint    *problem.Hint `json:"hint,omitempty"`
	Alt     *problem.Hint `json:"alt,omitempty"`
	Items   []ErrorBody   `json:"items,omitempty"`
}

// BodyOf turns an error into its API form.
func BodyOf(err error) *ErrorBody {
	b := &ErrorBody{Code: problem.CodeOf(err), Message: err.Error()}
	var pe *problem.Error
	if !errors.As(err, &pe) {
		return b
	}
	bare := problem.Error{Code: pe.Code, Message: pe.Message, Err: pe.Err}
	b.Message = strings.Replace(err.Error(), pe.Error(), bare.Error(), 1)
	b.Hint, b.Alt = pe.Hint, pe.Alt
	for _, it := range pe.Items {
		b.Items = append(b.Items, *BodyOf(it))
	}
	return b
}

// Problem rebuilds the service layer's error from its API form.
func (b *ErrorBody) Problem() *problem.Error {
	pe := &problem.Error{Code: b.Code, Message: b.Message, Hint: b.Hint, Alt: b.Alt}
	for i := range b.Items {
		pe.Items = append(pe.Items, b.Items[i].Problem())
	}
	return pe
}

// RunInfo is the durable record of one operation run by the daemon.
type RunInfo struct {
	ID         string          `json:"id"`
	Action     string          `json:"action"`
	Instance   string          `json:"instance"`
	App        string          `json:"app,omitempty"`
	Status     string          `json:"status"`
	StartedAt  time.Time       `json:"startedAt"`
	FinishedAt time.Time       `json:"finishedAt,omitzero"`
	DurationMs int64           `json:"durationMs,omitempty"`
	By         string          `json:"by,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Error      *ErrorBody      `json:"error,omitempty"`
}

// Terminal reports whether the run has ended.
func (r RunInfo) Terminal() bool { return r.Status != Running }

// Envelope is one event as Wild Central stores and streams it: the
// service layer's event, plus a daemon-wide sequence number (the SSE id)
// and the operation it belongs to. A Status envelope marks an operation's
// state change; a terminal one ends the operation's stream.
type Envelope struct {
	ID       int64        `json:"id"`
	Op       string       `json:"op"`
	Instance string       `json:"instance"`
	App      string       `json:"app,omitempty"`
	Action   string       `json:"action,omitempty"`
	Status   string       `json:"status,omitempty"`
	Event    *event.Event `json:"event,omitempty"`
}
