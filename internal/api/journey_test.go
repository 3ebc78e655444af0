package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/catalogtest"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/wire"
)

// follow streams one operation's events until it ends.
func (d *daemonT) follow(authz, id string) ([]wire.Envelope, wire.Envelope) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ch, _ := d.openStream(ctx, authz, "?op="+id, "")
	var evs []wire.Envelope
	for ev := range ch {
		if ev.id != "" {
			evs = append(evs, ev.env)
		}
	}
	if len(evs) == 0 || evs[len(evs)-1].Status == "" {
		d.t.Fatalf("stream of %s ended without a terminal status: %+v", id, evs)
	}
	return evs, evs[len(evs)-1]
}

// followWithDrop reads n events of an operation, drops the connection,
// and follows the rest from the last id it saw.
func (d *daemonT) followWithDrop(authz, id string, n int) []wire.Envelope {
	d.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := d.openStream(ctx, authz, "?op="+id, "")
	var evs []wire.Envelope
	for ev := range ch {
		if ev.id == "" {
			continue
		}
		evs = append(evs, ev.env)
		if len(evs) == n || ev.env.Status != "" && ev.env.Status != wire.Running {
			break
		}
	}
	cancel()
	last := evs[len(evs)-1]
	if last.Status != "" && last.Status != wire.Running {
		return evs
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel2()
	ch2, _ := d.openStream(ctx2, authz, "?op="+id, strconv.FormatInt(last.ID, 10))
	for ev := range ch2 {
		if ev.id != "" {
			evs = append(evs, ev.env)
		}
	}
	return evs
}

func (d *daemonT) mustRun(authz string, r resp) []wire.Envelope {
	d.t.Helper()
	id := accepted(d.t, r)
	evs, last := d.follow(authz, id)
	if last.Status != wire.Succeeded {
		ri, _ := d.do("GET", "/api/v1/operations/"+id, authz, nil), 0
		d.t.Fatalf("operation %s ended %s: %s", id, last.Status, ri.body)
	}
	return evs
}

// The regular user's whole journey, through the API only, against the real
// control plane.
func TestRegularUserJourney(t *testing.T) {
	catDir, cat := catalogtest.Copy(t)
	d := startDaemon(t, t.TempDir(), cat)
	d.setupAdmin()
	admin, op := d.token("admin"), d.token("operate")
	kc, err := os.ReadFile(clustertest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	d.mustRun(admin, d.do("POST", "/api/v1/instances", admin, map[string]string{"name": "home", "domain": "cloud.example.com", "kubeconfig": string(kc)}))

	// Add postgres, then an app that needs it (the dependency is found).
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps", op, map[string]any{"name": "postgres"}))
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps", op, map[string]any{"name": "vaultwarden"}))
	var app struct {
		InstalledAs map[string]string `json:"installedAs"`
		State       string
	}
	d.do("GET", "/api/v1/instances/home/apps/vaultwarden", op, nil).json(t, &app)
	if app.InstalledAs["db"] != "postgres" || app.State != "added" {
		t.Fatalf("vaultwarden after add: %+v", app)
	}

	// Deploy with its dependency, following the events to Ready. The
	// client drops the stream mid-deploy and reattaches with Last-Event-ID:
	// nothing is lost or shown twice.
	deployID := accepted(t, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/deploy", op, map[string]any{"withDeps": true}))
	evs := d.followWithDrop(op, deployID, 3)
	if last := evs[len(evs)-1]; last.Status != wire.Succeeded {
		t.Fatalf("deploy ended %s", last.Status)
	}
	var full struct{ Events []wire.Envelope }
	d.do("GET", "/api/v1/operations/"+deployID+"/events", op, nil).json(t, &full)
	if len(full.Events) != len(evs) || len(evs) < 6 {
		t.Fatalf("reattached stream saw %d events, the operation's log has %d", len(evs), len(full.Events))
	}
	for i := range evs {
		if evs[i].ID != full.Events[i].ID {
			t.Fatalf("event %d: id %d after reattaching, %d in the log", i, evs[i].ID, full.Events[i].ID)
		}
	}
	phases, current := map[string]bool{}, false
	for _, e := range evs {
		if e.Event == nil {
			continue
		}
		if e.Event.Kind == event.PhaseStarted {
			phases[e.Event.Phase] = true
		}
		if e.Event.Kind == event.ResourceStatus && e.Event.Resource != nil && e.Event.Resource.Kind == "Deployment" && e.Event.Resource.Status == "Current" {
			current = true
		}
	}
	if !phases["apply"] || !phases["wait"] || !current {
		t.Fatalf("deploy events lack phases or a Deployment reaching Current: %v current=%v", phases, current)
	}
	secrets := secretValues(t, filepath.Join(d.data, "instances", "home", "secrets.yaml"))
	var st struct{ State string }
	d.do("GET", "/api/v1/instances/home/apps/vaultwarden/status", op, nil).json(t, &st)
	if st.State != "deployed" {
		t.Fatalf("status after deploy: %+v", st)
	}

	// Change config and redeploy: the change reaches the cluster.
	if r := d.do("PUT", "/api/v1/instances/home/config", op, map[string]string{"path": "apps.vaultwarden.signupsAllowed", "value": "false"}); r.status != 200 {
		t.Fatalf("set config: %d %s", r.status, r.body)
	}
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/deploy", op, map[string]any{}))
	kcl := clustertest.Client(t)
	ctx := context.Background()
	dep, err := kcl.AppsV1().Deployments("vaultwarden").Get(ctx, "vaultwarden", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !envIs(dep.Spec.Template.Spec.Containers[0].Env, "SIGNUPS_ALLOWED", "false") {
		t.Fatalf("config change not deployed: %+v", dep.Spec.Template.Spec.Containers[0].Env)
	}

	// An out-of-band change is drift; a deploy reconciles it.
	scale, _ := kcl.AppsV1().Deployments("vaultwarden").GetScale(ctx, "vaultwarden", metav1.GetOptions{})
	scale.Spec.Replicas = 3
	if _, err := kcl.AppsV1().Deployments("vaultwarden").UpdateScale(ctx, "vaultwarden", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var diff struct{ Drifted bool }
	d.do("GET", "/api/v1/instances/home/apps/vaultwarden/diff", op, nil).json(t, &diff)
	if !diff.Drifted {
		t.Fatal("drift not reported")
	}
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/deploy", op, map[string]any{}))
	d.do("GET", "/api/v1/instances/home/apps/vaultwarden/diff", op, nil).json(t, &diff)
	if diff.Drifted {
		t.Fatal("still drifted after the reconciling deploy")
	}

	// A newer catalog renames a key the user set: the review says so, the
	// update refuses until the rename is resolved, then carries the value.
	mf := filepath.Join(catDir, "vaultwarden", "manifest.yaml")
	catalogtest.Edit(t, mf, "version: 1.32.7", "version: 1.33.0", "signupsAllowed:", "allowSignups:")
	catalogtest.Edit(t, filepath.Join(catDir, "vaultwarden", "deployment.yaml"), ".signupsAllowed", ".allowSignups")
	var outdated struct {
		Apps []struct{ App, Available string }
	}
	d.do("GET", "/api/v1/instances/home/outdated", op, nil).json(t, &outdated)
	if len(outdated.Apps) != 1 || outdated.Apps[0].App != "vaultwarden" || outdated.Apps[0].Available != "1.33.0" {
		t.Fatalf("outdated: %+v", outdated)
	}
	// The review answers with the breaking changes to decide, not an error.
	var review struct {
		ToVersion string
		Breaking  []struct{ Kind, Key, Resolution string }
	}
	d.do("POST", "/api/v1/instances/home/apps/vaultwarden/update-review", op, map[string]any{}).json(t, &review)
	if review.ToVersion != "1.33.0" || len(review.Breaking) != 1 || review.Breaking[0].Key != "signupsAllowed" {
		t.Fatalf("review does not name the removed key: %+v", review)
	}
	id := accepted(t, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/update", op, map[string]any{}))
	if _, last := d.follow(op, id); last.Status != wire.Failed {
		t.Fatalf("an update with an unresolved rename ended %s", last.Status)
	}
	// vaultwarden has data (postgres), so the update backs it up first;
	// here postgres runs on a kwok node (simulated pods), the dump cannot
	// run, and the update stops before writing, pointing at noBackup.
	resolved := map[string]any{"renames": map[string]string{"signupsAllowed": "allowSignups"}, "deploy": true}
	id = accepted(t, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/update", op, resolved))
	if _, last := d.follow(op, id); last.Status != wire.Failed {
		t.Fatalf("an update whose backup cannot run ended %s", last.Status)
	}
	var failed struct{ Error *wire.ErrorBody }
	d.do("GET", "/api/v1/operations/"+id, op, nil).json(t, &failed)
	if failed.Error == nil || failed.Error.Hint == nil || failed.Error.Hint.Args["flag"] != "no-backup" || !strings.Contains(failed.Error.Message, "nothing was changed") {
		t.Fatalf("failed backup before the update: %+v", failed.Error)
	}
	resolved["noBackup"] = true
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/update", op, resolved))
	var v struct{ Value any }
	d.do("GET", "/api/v1/instances/home/config?path=apps.vaultwarden.allowSignups", op, nil).json(t, &v)
	if fmt.Sprint(v.Value) != "false" {
		t.Fatalf("renamed key lost the user's value: %v", v.Value)
	}

	// Roll back to the snapshot the update took.
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/vaultwarden/rollback", op, map[string]any{}))
	d.do("GET", "/api/v1/instances/home/config?path=apps.vaultwarden.signupsAllowed", op, nil).json(t, &v)
	if fmt.Sprint(v.Value) != "false" {
		t.Fatalf("rollback did not restore the old key: %v", v.Value)
	}

	// Delete: gone from the instance and the cluster.
	d.mustRun(op, d.do("DELETE", "/api/v1/instances/home/apps/vaultwarden", op, nil))
	if r := d.do("GET", "/api/v1/instances/home/apps/vaultwarden", op, nil); !strings.Contains(r.body, `"available"`) {
		t.Fatalf("after delete: %d %s", r.status, r.body)
	}
	if _, err := kcl.AppsV1().Deployments("vaultwarden").Get(ctx, "vaultwarden", metav1.GetOptions{}); err == nil {
		t.Fatal("the deployment survived delete")
	}

	// Metrics count what happened, by action, result and route.
	m := d.do("GET", "/metrics", op, nil)
	for _, want := range []string{`wild_operations_total{action="deploy",result="succeeded"}`, `wild_operations_total{action="update",result="failed"} 2`,
		`wild_http_request_duration_seconds_bucket{code="202",method="POST",route="POST /api/v1/instances/{instance}/apps/{app}/deploy"`, "wild_sse_clients 0"} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The secret values never appeared in any response or log line.
	d.assertNoSecret(secrets)
}

func envIs(env []corev1.EnvVar, name, value string) bool {
	for _, e := range env {
		if e.Name == name {
			return e.Value == value
		}
	}
	return false
}

// secretValues reads every leaf value of a secrets.yaml.
func secretValues(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				walk(c)
			}
		case string:
			out = append(out, x)
		}
	}
	walk(doc)
	if len(out) < 3 {
		t.Fatalf("only %d secrets in %s", len(out), file)
	}
	return out
}
