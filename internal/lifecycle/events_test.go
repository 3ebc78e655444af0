package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// TestDeployEventsAndWarningsReachEveryOutput deploys an app whose
// Ingress names a wildcard TLS secret the cluster lacks: the warning must
// be one event, in the result (and so in -o json) and in the operation
// record, and the phases must come as started/finished pairs.
func TestDeployEventsAndWarningsReachEveryOutput(t *testing.T) {
	c := newClusterEnv(t)
	c.add("postgres")
	c.add("vaultwarden")
	rec := &event.Recorder{}
	c.Env.Observer = rec
	c.Env.OperationID = "op_daemon_chosen_1"
	res := c.mustDeploy("vaultwarden", func(d *Deploy) { d.WithDeps = true; d.NoWait = true })

	var warnings []string
	started, finished := map[string]int{}, map[string]int{}
	for _, e := range rec.Events() {
		switch e.Kind {
		case event.Warning:
			if e.App == "vaultwarden" {
				warnings = append(warnings, e.Message)
			}
		case event.PhaseStarted:
			started[e.App+"/"+e.Phase]++
		case event.PhaseFinished:
			finished[e.App+"/"+e.Phase]++
			if e.Message != operation.Succeeded {
				t.Errorf("phase %s/%s finished %s: %s", e.App, e.Phase, e.Message, e.Error)
			}
		}
	}
	for _, p := range []string{"postgres/apply", "vaultwarden/dependencies", "vaultwarden/namespace", "vaultwarden/secrets", "vaultwarden/apply"} {
		if started[p] != 1 || finished[p] != 1 {
			t.Errorf("phase %s: started %d, finished %d times", p, started[p], finished[p])
		}
	}
	if len(warnings) == 0 || !strings.Contains(warnings[0], "wildcard-wild-cloud-tls") {
		t.Fatalf("no TLS warning event: %v", warnings)
	}
	if !slices.Equal(res.Warnings, warnings) {
		t.Errorf("result warnings %v, events %v", res.Warnings, warnings)
	}
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `"warnings":[`) || !strings.Contains(string(b), "wildcard-wild-cloud-tls") {
		t.Errorf("JSON lacks the warning: %s", b)
	}
	// The first record of the run takes the caller's id; the app's own
	// deploy (after its dependency) gets its own.
	first, err := operation.Get(c.Instance.Path(instance.OperationsDir), "op_daemon_chosen_1")
	if err != nil || first.App != "postgres" {
		t.Fatalf("record with the chosen id: %+v %v", first, err)
	}
	r, err := operation.Get(c.Instance.Path(instance.OperationsDir), res.Operation)
	if err != nil || !slices.Equal(r.Warnings, res.Warnings) {
		t.Fatalf("record warnings %v (err %v), result %v", r.Warnings, err, res.Warnings)
	}
}

// TestCancelledDeployIsRecorded cancels the context before a deploy: it
// stops at the first safe point and its record says so.
func TestCancelledDeployIsRecorded(t *testing.T) {
	c := newClusterEnv(t)
	c.add("hello")
	ctx, cancel := context.WithCancel(context.Background())
	c.Env.Observer = event.Func(func(e event.Event) {
		if e.Kind == event.PhaseStarted && e.Phase == "compile" {
			cancel()
		}
	})
	res, err := (&Deploy{Env: c.Env, App: "hello"}).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation, got %v", err)
	}
	r, err := operation.Get(c.Instance.Path(instance.OperationsDir), res.Operation)
	if err != nil || r.Status != operation.Cancelled {
		t.Fatalf("record: %+v %v", r, err)
	}
	if len(res.Changes) != 0 {
		t.Errorf("a cancelled deploy applied %v", res.Changes)
	}
}

// TestTryLockAppRefusesWhileAnOperationRuns holds an app's lock the way
// a daemon would and checks that a second caller gets a Conflict naming
// the operation, and that a deploy under RunLocked still works.
func TestTryLockAppRefusesWhileAnOperationRuns(t *testing.T) {
	c := newClusterEnv(t)
	c.add("hello")
	unlock, err := c.Instance.TryLockApp("hello")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c.Env.OperationID = "op_deploy_app_hello_daemon"
	if _, err := (&Deploy{Env: c.Env, App: "hello", NoWait: true}).RunLocked(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = c.Instance.TryLockApp("hello")
	if problem.CodeOf(err) != problem.Conflict || !strings.Contains(err.Error(), "op_deploy_app_hello_daemon") {
		t.Fatalf("want a conflict naming the operation, got %v", err)
	}
}
