package central

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/wire"
)

func newRunner(t *testing.T, dir string) (*Runner, *Bus) {
	t.Helper()
	bus, err := OpenBus(filepath.Join(dir, "events.jsonl"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(filepath.Join(dir, "runs"), bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, bus
}

// block runs until its context ends or release is closed.
func block(release chan struct{}) func(context.Context, string, event.Observer) (any, error) {
	return func(ctx context.Context, _ string, obs event.Observer) (any, error) {
		obs.Observe(event.Event{Kind: event.PhaseStarted, Phase: "apply"})
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-release:
			return map[string]int{"changed": 3}, nil
		}
	}
}

func TestOneOperationPerAppManyAcrossApps(t *testing.T) {
	r, bus := newRunner(t, t.TempDir())
	defer bus.Close()
	release := make(chan struct{})
	first, err := r.Start(Spec{Action: "deploy", Instance: "home", App: "ghost", Do: block(release)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Start(Spec{Action: "update", Instance: "home", App: "ghost", Do: block(release)})
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != problem.Conflict || pe.Hint == nil || pe.Hint.Args["id"] != first.ID {
		t.Fatalf("second op on ghost: %v", err)
	}
	other, err := r.Start(Spec{Action: "deploy", Instance: "home", App: "gitea", Do: block(release)})
	if err != nil {
		t.Fatalf("an op on another app must run in parallel: %v", err)
	}
	if _, err := r.Start(Spec{Action: "delete-instance", Instance: "home", Do: block(release)}); problem.CodeOf(err) != problem.Conflict {
		t.Fatalf("an instance-wide op while apps run: %v", err)
	}
	close(release)
	for _, id := range []string{first.ID, other.ID} {
		waitFor(t, r, id, wire.Succeeded)
	}
	ri, _ := r.Get(first.ID)
	var res struct{ Changed int }
	if json.Unmarshal(ri.Result, &res) != nil || res.Changed != 3 {
		t.Fatalf("result %s", ri.Result)
	}
	evs := bus.Since(Topic{Op: first.ID}, 0)
	if len(evs) != 3 || evs[0].Status != wire.Running || evs[1].Event == nil || evs[2].Status != wire.Succeeded {
		t.Fatalf("events of %s: %+v", first.ID, evs)
	}
}

func TestCancelReallyCancels(t *testing.T) {
	r, bus := newRunner(t, t.TempDir())
	defer bus.Close()
	ri, _ := r.Start(Spec{Action: "deploy", Instance: "home", App: "ghost", Do: block(make(chan struct{}))})
	got, err := r.Cancel(ri.ID)
	if err != nil || got.Status != wire.Cancelled || got.Error == nil {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if _, err := r.Cancel(ri.ID); problem.CodeOf(err) != problem.Conflict {
		t.Fatalf("cancel of an ended op: %v", err)
	}
}

// A daemon that dies mid-operation leaves a record saying "running"; the
// next start tells the truth.
func TestInterruptedOnRestart(t *testing.T) {
	dir := t.TempDir()
	r, bus := newRunner(t, dir)
	ri, _ := r.Start(Spec{Action: "deploy", Instance: "home", App: "ghost", Do: block(make(chan struct{}))})
	bus.Close() // the process "dies": nothing more is written
	r2, bus2 := newRunner(t, dir)
	defer bus2.Close()
	got, err := r2.Get(ri.ID)
	if err != nil || got.Status != wire.Interrupted || got.Error == nil {
		t.Fatalf("after restart: %+v %v", got, err)
	}
	evs := bus2.Since(Topic{Op: ri.ID}, 0)
	if len(evs) < 2 || evs[len(evs)-1].Status != wire.Interrupted {
		t.Fatalf("no interrupted event: %+v", evs)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatal("event ids went backwards after a restart")
		}
	}
}

func TestShutdownCancelsAfterGrace(t *testing.T) {
	r, bus := newRunner(t, t.TempDir())
	defer bus.Close()
	ri, _ := r.Start(Spec{Action: "deploy", Instance: "home", App: "ghost", Do: block(make(chan struct{}))})
	r.Shutdown(context.Background(), 50*time.Millisecond)
	got, _ := r.Get(ri.ID)
	if got.Status != wire.Cancelled {
		t.Fatalf("after shutdown: %s", got.Status)
	}
	if _, err := r.Start(Spec{Action: "deploy", Instance: "home", App: "x", Do: block(nil)}); problem.CodeOf(err) != problem.Unavailable {
		t.Fatalf("start while closing: %v", err)
	}
}

func TestBusSurvivesATornLine(t *testing.T) {
	dir := t.TempDir()
	b, _ := OpenBus(filepath.Join(dir, "e.jsonl"), 1000)
	b.Publish(wire.Envelope{Op: "a", Instance: "home"})
	b.Publish(wire.Envelope{Op: "b", Instance: "home"})
	b.Close()
	f, _ := os.OpenFile(filepath.Join(dir, "e.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":3,"op":"c","inst`)
	f.Close()
	b2, err := OpenBus(filepath.Join(dir, "e.jsonl"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if e := b2.Publish(wire.Envelope{Op: "d"}); e.ID != 3 {
		t.Fatalf("next id after a torn line: %d", e.ID)
	}
	replay, ch, cancel := b2.Subscribe(Topic{Op: "d"}, 0)
	defer cancel()
	if len(replay) != 1 {
		t.Fatalf("replay %+v", replay)
	}
	b2.Publish(wire.Envelope{Op: "d"})
	if e := <-ch; e.ID != 4 {
		t.Fatalf("followed %+v", e)
	}
}

func waitFor(t *testing.T, r *Runner, id, status string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if ri, err := r.Get(id); err == nil && ri.Status == status {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ri, _ := r.Get(id)
	t.Fatalf("%s: %s, want %s", id, ri.Status, status)
}
