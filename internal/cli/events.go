package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/event"
)

// terminal renders the service layer's events on stderr: log lines as
// they come, and while waiting, resource statuses (on a terminal redrawn
// in place, one line per resource; otherwise a plain line per change, so
// logs stay short). Warnings are not drawn here: they are in the result,
// which the command prints. With -o json/yaml, statuses are left out.
type terminal struct {
	mu        sync.Mutex
	w         io.Writer
	tty       bool
	resources bool
	order     []string
	lines     map[string]event.Resource
	drawn     int
	// the last progress line: its file, and when it was printed
	progFile string
	progAt   time.Time
	progOpen bool // a tty progress line waits for its newline
}

func newTerminal(w io.Writer, tty, resources bool) *terminal {
	return &terminal{w: w, tty: tty, resources: resources, lines: map[string]event.Resource{}}
}

// Observe implements event.Observer.
func (t *terminal) Observe(e event.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case event.Log:
		t.drawn = 0 // a log line scrolls the resource block away
		t.endProgress()
		fmt.Fprintln(t.w, e.Message)
	case event.ResourceStatus:
		if t.resources && e.Resource != nil {
			t.resource(*e.Resource)
		}
	case event.Progress:
		if t.resources {
			t.progress(e)
		}
	}
}

// progress shows bytes moved: on a terminal one line rewritten in place,
// otherwise a line per file and then one every few seconds, so logs show
// a long transfer moving without filling up.
func (t *terminal) progress(e event.Event) {
	line := fmt.Sprintf("%s %s: %s", e.Phase, e.Message, humanBytes(e.Bytes))
	if t.tty {
		fmt.Fprintf(t.w, "\r\x1b[2K%s", line)
		t.drawn, t.progOpen = 0, true
		return
	}
	if e.Message == t.progFile && time.Since(t.progAt) < 5*time.Second {
		return
	}
	t.progFile, t.progAt = e.Message, time.Now()
	fmt.Fprintln(t.w, line)
}

func (t *terminal) endProgress() {
	if t.progOpen {
		fmt.Fprintln(t.w)
		t.progOpen = false
	}
}

func (t *terminal) resource(r event.Resource) {
	t.endProgress()
	key := refString(r)
	prev, seen := t.lines[key]
	if !seen {
		t.order = append(t.order, key)
	}
	t.lines[key] = r
	if seen && prev == r {
		return
	}
	if !t.tty {
		fmt.Fprintln(t.w, plainLine(r))
		return
	}
	var b strings.Builder
	if t.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.drawn)
	}
	for _, k := range t.order {
		b.WriteString("\x1b[2K")
		b.WriteString(ttyLine(t.lines[k]))
		b.WriteByte('\n')
	}
	t.drawn = len(t.order)
	_, _ = io.WriteString(t.w, b.String())
}

func refString(r event.Resource) string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

func ttyLine(r event.Resource) string {
	mark := "…"
	switch r.Status {
	case "Current":
		mark = "✓"
	case "Failed":
		mark = "✗"
	}
	line := fmt.Sprintf("  %s %-50s %s", mark, refString(r), r.Status)
	if r.Message != "" && r.Status != "Current" {
		line += "  " + r.Message
	}
	return line
}

func plainLine(r event.Resource) string {
	line := refString(r) + ": " + r.Status
	if r.Message != "" {
		line += ": " + r.Message
	}
	return line
}
