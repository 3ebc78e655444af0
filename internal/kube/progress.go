package kube

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// NewProgress returns a Wait progress callback. On a terminal it redraws
// one line per resource in place; otherwise (logs, CI, pipes) it prints a
// plain line only when a resource's status changes, so logs stay short.
func NewProgress(w io.Writer, isTTY bool) func([]ResourceStatus) {
	var mu sync.Mutex
	if isTTY {
		drawn := 0
		return func(sts []ResourceStatus) {
			mu.Lock()
			defer mu.Unlock()
			var b strings.Builder
			if drawn > 0 {
				fmt.Fprintf(&b, "\x1b[%dA", drawn)
			}
			for _, s := range sts {
				b.WriteString("\x1b[2K")
				b.WriteString(ttyLine(s))
				b.WriteByte('\n')
			}
			drawn = len(sts)
			_, _ = io.WriteString(w, b.String())
		}
	}
	last := map[ObjectRef]string{}
	return func(sts []ResourceStatus) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range sts {
			line := plainLine(s)
			if last[s.Ref] == line {
				continue
			}
			last[s.Ref] = line
			fmt.Fprintln(w, line)
		}
	}
}

func ttyLine(s ResourceStatus) string {
	mark := "…"
	switch s.Status {
	case StatusCurrent:
		mark = "✓"
	case StatusFailed:
		mark = "✗"
	}
	line := fmt.Sprintf("  %s %-50s %s", mark, s.Ref.String(), s.Status)
	if s.Message != "" && s.Status != StatusCurrent {
		line += "  " + s.Message
	}
	return line
}

func plainLine(s ResourceStatus) string {
	line := s.Ref.String() + ": " + s.Status
	if s.Message != "" {
		line += ": " + s.Message
	}
	return line
}
