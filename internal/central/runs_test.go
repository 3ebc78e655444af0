package central

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/wire"
)

// writeRuns puts n finished records of one subject in dir, the oldest
// first, a minute apart from base, and returns their ids.
func writeRuns(t testing.TB, dir, instance, app string, n int, base time.Time) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	subject := "instance"
	if app != "" {
		subject = "app_" + app
	}
	var ids []string
	for i := range n {
		at := base.Add(time.Duration(i) * time.Minute)
		ri := wire.RunInfo{ID: fmt.Sprintf("op_deploy_%s_%s_%s", subject, instance, at.Format("20060102T150405Z")), Action: "deploy",
			Instance: instance, App: app, Status: wire.Succeeded, StartedAt: at, FinishedAt: at.Add(time.Second)}
		b, _ := json.Marshal(ri)
		if err := os.WriteFile(filepath.Join(dir, ri.ID+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ri.ID)
	}
	return ids
}

func onDisk(t *testing.T, dir, id string) bool {
	_, err := os.Stat(filepath.Join(dir, id+".json"))
	return err == nil
}

// TestRunsAreBoundedPerSubject: a directory over the bound is brought
// within it when the daemon starts, and a finished run removes its
// subject's runs beyond the newest Keep, on disk and in the lists; other
// apps, other instances and files that are not records are left alone.
func TestRunsAreBoundedPerSubject(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ghost := writeRuns(t, runs, "home", "ghost", Keep+3, base)
	gitea := writeRuns(t, runs, "home", "gitea", 2, base)
	elsewhere := writeRuns(t, runs, "cabin", "ghost", 2, base)
	wide := writeRuns(t, runs, "home", "", Keep+1, base)
	os.WriteFile(filepath.Join(runs, "notes.txt"), []byte("mine"), 0o600)
	os.WriteFile(filepath.Join(runs, "op_deploy_app_x_torn.json"), []byte("{"), 0o600)

	r, bus := newRunner(t, dir)
	defer bus.Close()
	if onDisk(t, runs, ghost[2]) || !onDisk(t, runs, ghost[3]) || onDisk(t, runs, wide[0]) || !onDisk(t, runs, wide[1]) {
		t.Fatal("at start, each subject over the bound must lose exactly its oldest runs beyond Keep")
	}
	ri, err := r.Start(Spec{Action: "deploy", Instance: "home", App: "ghost",
		Do: func(context.Context, string, event.Observer) (any, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, ri.ID, wire.Succeeded)

	got := r.List(Topic{Instance: "home", App: "ghost"})
	if len(got) != Keep || got[0].ID != ri.ID {
		t.Fatalf("home/ghost lists %d runs, newest %s; want %d, newest %s", len(got), got[0].ID, Keep, ri.ID)
	}
	for i, id := range ghost {
		if kept := i >= 4; onDisk(t, runs, id) != kept {
			t.Errorf("run %d of ghost (%s): on disk %v, want %v (the oldest 4 go)", i, id, !kept, kept)
		}
	}
	for _, id := range append(append(gitea, elsewhere...), wide[1:]...) {
		if !onDisk(t, runs, id) {
			t.Errorf("%s was removed: another subject's run, within its bound", id)
		}
	}
	if n := len(r.List(Topic{Instance: "home"})); n != Keep+2+Keep {
		t.Errorf("instance home lists %d runs, want %d", n, Keep+2+Keep)
	}
	for _, f := range []string{"notes.txt", "op_deploy_app_x_torn.json"} {
		if _, err := os.Stat(filepath.Join(runs, f)); err != nil {
			t.Errorf("%s: %v (not a record: never removed)", f, err)
		}
	}
}

// BenchmarkListRuns: the API's operation list for one app, with 11 apps
// of Keep runs each in the daemon's directory.
func BenchmarkListRuns(b *testing.B) {
	dir := b.TempDir()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 11 {
		writeRuns(b, filepath.Join(dir, "runs"), "home", fmt.Sprintf("app%d", i), Keep, base)
	}
	bus, err := OpenBus(filepath.Join(dir, "events.jsonl"), 1000)
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	r, err := NewRunner(filepath.Join(dir, "runs"), bus, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if n := len(r.List(Topic{Instance: "home", App: "app3"})); n != Keep {
			b.Fatalf("%d runs", n)
		}
	}
}
