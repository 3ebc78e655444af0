package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/event"
)

func status(st, msg string) event.Event {
	return event.Event{Kind: event.ResourceStatus, Resource: &event.Resource{Kind: "Deployment", Namespace: "ns", Name: "web", Status: st, Message: msg}}
}

func TestTerminalPlainPrintsChangesOnly(t *testing.T) {
	var buf bytes.Buffer
	p := newTerminal(&buf, false, true)
	p.Observe(status("InProgress", "0/1 ready"))
	p.Observe(status("InProgress", "0/1 ready"))
	p.Observe(status("Current", ""))
	want := "Deployment/ns/web: InProgress: 0/1 ready\nDeployment/ns/web: Current\n"
	if buf.String() != want {
		t.Errorf("plain progress = %q, want %q", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\x1b") {
		t.Error("plain progress contains terminal escapes")
	}
	buf.Reset()
	tty := newTerminal(&buf, true, true)
	tty.Observe(status("InProgress", ""))
	tty.Observe(status("Current", ""))
	if !strings.Contains(buf.String(), "\x1b[1A") || !strings.Contains(buf.String(), "✓") {
		t.Errorf("tty progress does not redraw in place: %q", buf.String())
	}
	buf.Reset()
	quiet := newTerminal(&buf, false, false)
	quiet.Observe(status("Current", ""))
	quiet.Observe(event.Event{Kind: event.Log, Message: "waiting"})
	if buf.String() != "waiting\n" {
		t.Errorf("with -o json only log lines go to stderr, got %q", buf.String())
	}
}

func TestTerminalProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newTerminal(&buf, false, true)
	for i := int64(1); i <= 3; i++ {
		p.Observe(event.Event{Kind: event.Progress, Phase: "backup", Message: "postgres/gitea.dump", Bytes: i << 20})
	}
	p.Observe(event.Event{Kind: event.Progress, Phase: "backup", Message: "volume/gitea-pvc.tar", Bytes: 5 << 30})
	want := "backup postgres/gitea.dump: 1.0 MiB\nbackup volume/gitea-pvc.tar: 5.0 GiB\n"
	if buf.String() != want {
		t.Errorf("plain progress = %q, want %q", buf.String(), want)
	}
}
