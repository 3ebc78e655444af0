// Package problem gives errors a code and advice as data, so the CLI can
// say "add one first: wild app add mysql", the API can answer 412 with a
// JSON hint, and the UI can draw a button, all from one error value.
package problem

import "errors"

// Code classifies an error for callers that map it to an exit code or an
// HTTP status.
type Code string

const (
	Invalid            Code = "invalid" // bad input
	NotFound           Code = "not_found"
	Conflict           Code = "conflict"            // busy / already exists / owned by another
	PreconditionFailed Code = "precondition_failed" // e.g. a dependency not deployed or not ready
	Breaking           Code = "breaking_change"     // update needs resolutions
	Unavailable        Code = "unavailable"         // cluster unreachable
	Internal           Code = "internal"
	Unauthorized       Code = "unauthorized" // no or bad credentials
	Forbidden          Code = "forbidden"    // credentials lack the scope
	TooManyRequests    Code = "too_many_requests"
)

// Hint is advice as data. It holds no CLI syntax: internal/cli renders
// Action and Args into a command line ("wild app add mysql"); the API
// returns it as JSON.
type Hint struct {
	Action string            `json:"action"`         // e.g. "app.add", "app.deploy", "app.update", "config.set"
	Args   map[string]string `json:"args,omitempty"` // e.g. {"app":"mysql"}, {"flag":"rename","value":"OLD=NEW"}
	Text   string            `json:"text"`           // plain words, e.g. "add one first"
}

// Error is an error with a code and optional advice.
type Error struct {
	Code    Code
	Message string
	Hint    *Hint
	// Alt is a second way out, e.g. "deploy the dependency" or "deploy
	// both with their dependencies".
	Alt *Hint
	// Items are the separate problems of a refusal that lists several
	// (e.g. each breaking change of an update, with its own advice).
	Items []*Error
	Err   error
}

// Error returns the message, the cause and the hint's words, never CLI
// syntax.
func (e *Error) Error() string {
	s := e.Head()
	for _, it := range e.Items {
		s += "\n  " + it.Error()
	}
	if e.Hint != nil && e.Hint.Text != "" {
		if len(e.Items) > 0 {
			s += "\n" + e.Hint.Text
		} else {
			s += "; " + e.Hint.Text
		}
	}
	return s
}

// Head is the message with its cause, without items or advice.
func (e *Error) Head() string {
	switch {
	case e.Err == nil:
		return e.Message
	case e.Message == "":
		return e.Err.Error()
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with code and message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// With attaches advice and returns e, for one-expression construction.
func (e *Error) With(action, text string, args ...string) *Error {
	e.Hint = &Hint{Action: action, Text: text, Args: argMap(args)}
	return e
}

// argMap pairs up key, value, key, value...
func argMap(kv []string) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Or attaches an alternative to the hint and returns e.
func (e *Error) Or(action string, args ...string) *Error {
	e.Alt = &Hint{Action: action, Args: argMap(args)}
	return e
}

// Wrap returns an error with code and message whose cause is err.
func Wrap(code Code, err error, msg string) *Error {
	return &Error{Code: code, Message: msg, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return Internal
}

// HintOf returns the hint of the first *Error in err's chain that has
// one, or nil.
func HintOf(err error) *Hint {
	for err != nil {
		if pe, ok := err.(*Error); ok && pe.Hint != nil {
			return pe.Hint
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if h := HintOf(e); h != nil {
					return h
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}
