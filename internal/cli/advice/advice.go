// Package advice renders the service layer's typed hints as what a CLI
// user types: the action "app.add" with {"app":"mysql"} becomes
// "wild app add mysql". It is the CLI's half of package problem; the API
// returns the same hints as JSON.
package advice

import (
	"errors"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/problem"
)

// Command renders a hint's action as a wild command line, or "" when the
// hint names no action.
func Command(h *problem.Hint) string {
	if h == nil || h.Action == "" {
		return ""
	}
	parts := append([]string{"wild"}, strings.Split(h.Action, ".")...)
	if app := h.Args["app"]; app != "" {
		parts = append(parts, app)
	}
	if f := h.Args["flag"]; f != "" {
		parts = append(parts, "--"+f)
		if v := h.Args["value"]; v != "" {
			parts = append(parts, v)
		}
	}
	var rest []string
	for k := range h.Args {
		if k != "app" && k != "flag" && k != "value" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		parts = append(parts, "--"+k, h.Args[k])
	}
	return strings.Join(parts, " ")
}

// Message is err's text with the commands of its advice: the first
// *problem.Error in the chain is rendered with each hint's words followed
// by what to type ("add one first: wild app add mysql"), and that
// replaces its plain text inside whatever wrapped it.
func Message(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		return msg
	}
	return strings.Replace(msg, pe.Error(), render(pe), 1)
}

func render(e *problem.Error) string {
	s := e.Head()
	for _, it := range e.Items {
		s += "\n  " + render(it)
	}
	if e.Hint == nil {
		return s
	}
	sep := "; "
	if len(e.Items) > 0 {
		sep = "\n"
	}
	s += sep + e.Hint.Text
	if cmd := Command(e.Hint); cmd != "" {
		s += ": " + cmd
	}
	if alt := Command(e.Alt); alt != "" {
		s += " (or: " + alt + ")"
	}
	return s
}
