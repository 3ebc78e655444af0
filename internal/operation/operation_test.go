package operation

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/event"
)

func TestChosenIDEventsAndCancellation(t *testing.T) {
	dir := t.TempDir()
	rec := &event.Recorder{}
	op, err := StartWith(dir, "home", "deploy", "ghost", Options{ID: "op_given_42", Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	op.Step("apply")
	op.Warn("careful")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := op.FinishCtx(ctx, ctx.Err()); !errors.Is(err, context.Canceled) {
		t.Fatalf("FinishCtx returned %v", err)
	}
	r, err := Get(dir, "op_given_42")
	if err != nil || r.Status != Cancelled || r.Warnings[0] != "careful" {
		t.Fatalf("record: %+v %v", r, err)
	}
	var kinds []event.Kind
	for _, e := range rec.Events() {
		kinds = append(kinds, e.Kind)
	}
	want := []event.Kind{event.PhaseStarted, event.Warning, event.PhaseFinished}
	if len(kinds) != len(want) || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
		t.Errorf("events %v, want %v", kinds, want)
	}
	if _, err := StartWith(dir, "home", "deploy", "ghost", Options{ID: "../x"}); err == nil {
		t.Error("a path as id was accepted")
	}
}

// TestRan: a record of the action on the app counts, except the one
// named; other apps, other actions and stray files do not.
func TestRan(t *testing.T) {
	dir := t.TempDir()
	op, err := Start(dir, "inst", "deploy", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if Ran(dir, "deploy", "ghost", op.ID()) {
		t.Fatal("the running operation counted as an earlier one")
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	for _, other := range []struct{ action, app string }{{"deploy", "ghost2"}, {"deploy-dry-run", "ghost"}, {"add", "ghost"}} {
		o, err := Start(dir, "inst", other.action, other.app)
		if err != nil {
			t.Fatal(err)
		}
		o.Finish(nil)
	}
	if Ran(dir, "deploy", "gitea", "") || Ran(dir, "deploy", "ghos", "") {
		t.Fatal("another app's deploy counted")
	}
	if !Ran(dir, "deploy", "ghost", "") {
		t.Fatal("an earlier deploy was not seen")
	}
	os.WriteFile(filepath.Join(dir, "stray.json"), nil, 0o600)
	got := RanApps(dir, "deploy")
	if len(got) != 2 || !got["ghost"] || !got["ghost2"] {
		t.Fatalf("RanApps(deploy) = %v, want ghost and ghost2 (not the dry run's, the add's or a stray file)", got)
	}
}

// FinishAll writes every record, durable and scrubbed, and answers each
// operation's own error.
func TestFinishAll(t *testing.T) {
	inst := t.TempDir()
	dir := filepath.Join(inst, "operations")
	if err := os.WriteFile(filepath.Join(inst, "secrets.yaml"), []byte("apps:\n  a:\n    password: hunter2-very-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ops []*Op
	for _, app := range []string{"a", "b", "c"} {
		op, err := Start(dir, "test", "add", app)
		if err != nil {
			t.Fatal(err)
		}
		op.Step("compile")
		ops = append(ops, op)
	}
	boom := errors.New("template failed near hunter2-very-secret")
	out := FinishAll(ops, []error{nil, boom, nil})
	if out[0] != nil || out[2] != nil || out[1] == nil || strings.Contains(out[1].Error(), "hunter2") {
		t.Fatalf("errors = %v", out)
	}
	for i, want := range []string{Succeeded, Failed, Succeeded} {
		r, err := Get(dir, ops[i].ID())
		if err != nil || r.Status != want || r.FinishedAt.IsZero() {
			t.Fatalf("record %d: %+v %v, want %s", i, r, err, want)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, ops[1].ID()+".json"))
	if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "template failed") {
		t.Fatalf("record of the failed op:\n%s", b)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// Each app keeps its newest Keep records; other apps' records, and records
// named otherwise, are left alone.
func TestFinishPrunesAnAppsOldestRecords(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(id, app string) {
		b, _ := json.Marshal(Record{ID: id, Action: "deploy", App: app, Status: Succeeded, StartedAt: base})
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i := range Keep + 5 {
		write(NewID("deploy", "ghost", base.Add(time.Duration(i)*time.Minute)), "ghost")
	}
	write(NewID("deploy", "gitea", base), "gitea")
	write("op_given_42", "ghost")
	oldest := NewID("deploy", "ghost", base)

	op, err := Start(dir, "test", "update", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	recs, err := List(dir, "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != Keep+1 { // Keep named records, and op_given_42
		t.Fatalf("ghost has %d records, want %d", len(recs), Keep+1)
	}
	if _, err := Get(dir, op.ID()); err != nil {
		t.Fatalf("the newest record was pruned: %v", err)
	}
	if _, err := Get(dir, oldest); err == nil {
		t.Fatal("the oldest record was kept")
	}
	if r, err := List(dir, "gitea"); err != nil || len(r) != 1 {
		t.Fatalf("gitea's records: %v %v", r, err)
	}
}

func TestParseName(t *testing.T) {
	id := NewID("backup", "my-app", time.Now())
	if n, ok := parseName(id + ".json"); !ok || n.app != "my-app" || n.action != "backup" {
		t.Fatalf("parseName(%s) = %+v %v", id, n, ok)
	}
	for _, n := range []string{"op_given_42.json", "op_deploy_instance_20260101T000000000000000Z.json", id, "op_x_app_Bad_20260101T000000000000000Z.json", "." + id + ".json.tmp-1"} {
		if _, ok := parseName(n); ok {
			t.Errorf("parseName(%s) ok", n)
		}
	}
}

// Final hands out the succeeded record for a commit to write; Finish(nil)
// then writes nothing, Finish(err) still records the failure.
func TestFinalThenFinish(t *testing.T) {
	dir := t.TempDir()
	op, err := Start(dir, "test", "add", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	op.Step("compile")
	b, err := op.Final()
	var rec Record
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Status != Succeeded || rec.FinishedAt.IsZero() {
		t.Fatalf("Final = %s %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, op.ID()+".json"), b, 0o600); err != nil { // as the commit does
		t.Fatal(err)
	}
	before, _ := os.Stat(filepath.Join(dir, op.ID()+".json"))
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(dir, op.ID()+".json"))
	if !os.SameFile(before, after) {
		t.Fatal("Finish(nil) rewrote a record the commit had written")
	}

	failed, _ := Start(dir, "test", "add", "gitea")
	failed.Final()
	if err := failed.Finish(errors.New("commit failed")); err == nil {
		t.Fatal("Finish(err) lost the error")
	}
	if r, err := Get(dir, failed.ID()); err != nil || r.Status != Failed || r.Error != "commit failed" {
		t.Fatalf("record after a failed commit: %+v %v", r, err)
	}
}

// manyRecords writes empty records named as apps' deploys would be, n per
// app, for the tests and benchmark of a full operations directory.
func manyRecords(t testing.TB, dir string, apps []string, n int) {
	t.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, app := range apps {
		for i := range n {
			name := NewID("deploy", app, at.Add(time.Duration(i)*time.Second)) + ".json"
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRanReadsEveryBatch: Ran reads the directory a batch at a time, so
// a match anywhere among many other records must be found, and none
// reported when there is none.
func TestRanReadsEveryBatch(t *testing.T) {
	dir := t.TempDir()
	manyRecords(t, dir, []string{"a", "b", "c"}, 300)
	if Ran(dir, "deploy", "ghost", "") {
		t.Fatal("a deploy of ghost found among other apps' records")
	}
	manyRecords(t, dir, []string{"ghost"}, 1)
	if !Ran(dir, "deploy", "ghost", "") {
		t.Fatal("the one deploy of ghost among 900 other records was not found")
	}
}

// BenchmarkRan: the no-op check's hint on a full operations directory
// (11 apps, Keep records each).
func BenchmarkRan(b *testing.B) {
	dir := b.TempDir()
	apps := []string{"postgres", "mysql", "redis", "memcached", "hello", "ghost", "gitea", "listmonk", "vaultwarden", "immich", "nextcloud"}
	manyRecords(b, dir, apps, Keep)
	for b.Loop() {
		if !Ran(dir, "deploy", "ghost", "") {
			b.Fatal("not found")
		}
	}
}

// TestQuietWritesOnAnnounceOrFinish: a Quiet operation has no record
// until it announces itself or finishes; after Announce a crash leaves
// it running, and another operation's record is written at its start.
func TestQuietWritesOnAnnounceOrFinish(t *testing.T) {
	dir := t.TempDir()
	op, err := StartWith(dir, "home", "deploy", "ghost", Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	op.Step("check")
	if _, err := Get(dir, op.ID()); err == nil {
		t.Fatal("a quiet operation's record was written at its start")
	}
	if err := op.Announce(); err != nil {
		t.Fatal(err)
	}
	if r, err := Get(dir, op.ID()); err != nil || r.Status != Running || r.Steps[0].Name != "check" {
		t.Fatalf("after Announce: %+v %v", r, err)
	}
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	if r, err := Get(dir, op.ID()); err != nil || r.Status != Succeeded {
		t.Fatalf("after Finish: %+v %v", r, err)
	}

	noop := quietNoop(t, dir, "mysql")
	if r, err := Get(dir, noop.ID()); err != nil || r.Status != Succeeded {
		t.Fatalf("a quiet no-op's final record: %+v %v", r, err)
	}

	loud, err := StartWith(dir, "home", "deploy", "redis", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := loud.Announce(); err != nil {
		t.Fatal(err)
	}
	if r, err := Get(dir, loud.ID()); err != nil || r.Status != Running {
		t.Fatalf("an operation that is not quiet: %+v %v", r, err)
	}
}

// TestNoOpsPruneNowAndThen: records of no-ops alone stay bounded (here
// every no-op prunes, to be deterministic).
func TestNoOpsPruneNowAndThen(t *testing.T) {
	defer func(n int64) { noopPruneEvery = n }(noopPruneEvery)
	noopPruneEvery = 1
	dir := t.TempDir()
	for range Keep + 3 {
		quietNoop(t, dir, "ghost")
	}
	if recs, err := List(dir, "ghost"); err != nil || len(recs) != Keep {
		t.Fatalf("%d records after %d no-ops (%v), want %d", len(recs), Keep+3, err, Keep)
	}
}

// quietNoop runs a Quiet deploy of app that changes nothing, to its end.
func quietNoop(t *testing.T, dir, app string) *Op {
	t.Helper()
	op, err := StartWith(dir, "home", "deploy", app, Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	op.ChangedNothing()
	if err := op.Finish(nil); err != nil {
		t.Fatal(err)
	}
	return op
}
