package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/wire"
)

// TestBackupsThroughTheDaemon: seed 004's routes run real backups (a
// kopia repository on disk) as daemon operations; a schedule set through
// the config API makes wild serve back the app up by itself and apply the
// retention policy; read tokens cannot start any of it, and no response
// carries the repository password.
func TestBackupsThroughTheDaemon(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	d.setupAdmin()
	admin, op, read := d.token("admin"), d.token("operate"), d.token("read")
	kc, err := os.ReadFile(clustertest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	d.mustRun(admin, d.do("POST", "/api/v1/instances", admin, map[string]string{"name": "home", "domain": "cloud.example.com", "kubeconfig": string(kc)}))
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps", op, map[string]any{"name": "hello"}))

	if r := d.do("POST", "/api/v1/instances/home/apps/hello/backup", read, map[string]any{}); r.status != 403 {
		t.Fatalf("a read token started a backup: %d %s", r.status, r.body)
	}
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/hello/backup", op, map[string]any{}))
	var list struct {
		Backups []backup.RecoveryPlan
		Active  backup.Active
	}
	d.do("GET", "/api/v1/instances/home/apps/hello/backups", read, nil).json(t, &list)
	if len(list.Backups) != 1 || list.Backups[0].Status != backup.StatusBackedUp || list.Backups[0].Snapshot == "" ||
		len(list.Backups[0].Strategies) == 0 || list.Backups[0].Strategies[0].Name != "config" || list.Active.Color != "blue" {
		t.Fatalf("backups after one backup: %+v", list)
	}
	first := list.Backups[0].Timestamp
	var one backup.RecoveryPlan
	d.do("GET", "/api/v1/instances/home/apps/hello/backup/"+first, read, nil).json(t, &one)
	if one.Timestamp != first || one.Phases["backup"] == nil || one.Phases["backup"].CompletedAt == nil {
		t.Fatalf("plan %s: %+v", first, one)
	}
	if r := d.do("GET", "/api/v1/instances/home/apps/hello/backup/..%2f..%2fx", read, nil); r.status < 400 || r.status >= 500 {
		t.Fatalf("a path-like backup id got %d", r.status)
	}

	// A schedule every second with keepLast 2: the daemon backs up on its
	// own, and the retention policy keeps the backups at two.
	for path, v := range map[string]string{"backup.apps.hello.schedule": "@every 1s", "backup.apps.hello.retention": "{keepLast: 2}"} {
		if r := d.do("PUT", "/api/v1/instances/home/config", op, map[string]string{"path": path, "value": v}); r.status != 200 {
			t.Fatalf("set %s: %d %s", path, r.status, r.body)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	var scheduled int
	for time.Now().Before(deadline) && scheduled < 3 {
		var ops struct{ Operations []wire.RunInfo }
		d.do("GET", "/api/v1/operations?instance=home&app=hello", read, nil).json(t, &ops)
		scheduled = 0
		for _, o := range ops.Operations {
			if o.By == "scheduler" && o.Action == "backup" && o.Status == wire.Succeeded {
				scheduled++
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if scheduled < 3 {
		t.Fatalf("the scheduler ran %d successful backups in 2 minutes, want at least 3", scheduled)
	}
	if r := d.do("PUT", "/api/v1/instances/home/config", op, map[string]string{"path": "backup.apps.hello.schedule", "value": `""`}); r.status != 200 {
		t.Fatalf("clear the schedule: %d %s", r.status, r.body)
	}
	// A scheduled run started before the edit may still hold the app.
	prune := d.do("POST", "/api/v1/instances/home/apps/hello/backups/prune", op, map[string]any{})
	for end := time.Now().Add(time.Minute); prune.status == 409 && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
		prune = d.do("POST", "/api/v1/instances/home/apps/hello/backups/prune", op, map[string]any{})
	}
	d.mustRun(op, prune)
	d.do("GET", "/api/v1/instances/home/apps/hello/backups", read, nil).json(t, &list)
	settled := 0
	for _, p := range list.Backups {
		if p.Status == backup.StatusBackedUp {
			settled++
		}
		if p.Timestamp == first {
			t.Errorf("the first backup %s outlived keepLast 2", first)
		}
	}
	if settled != 2 {
		t.Fatalf("%d settled backups after pruning with keepLast 2: %+v", settled, list.Backups)
	}
	drillThroughTheDaemon(t, d, op, read, list.Backups[0].Timestamp)
	pw := secretValue(t, filepath.Join(d.data, "instances", "home", "secrets.yaml"), "repositoryPassword")
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.bodies {
		if strings.Contains(b, pw) {
			t.Fatalf("a response carries the repository password: %.200s", b)
		}
	}
}

// secretValue finds a secret's value by its key name in secrets.yaml.
func secretValue(t *testing.T, file, key string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == key {
			if v = strings.Trim(strings.TrimSpace(v), `"'`); len(v) >= 16 {
				return v
			}
		}
	}
	t.Fatalf("%s has no %s", file, key)
	return ""
}

// drillThroughTheDaemon: POST verify runs a restore drill of the newest
// backup, the list shows it as the last verified restore with its RPO and
// RTO, and a verify schedule makes the daemon drill by itself.
func drillThroughTheDaemon(t *testing.T, d *daemonT, op, read, newest string) {
	t.Helper()
	if r := d.do("POST", "/api/v1/instances/home/apps/hello/verify", read, map[string]any{}); r.status != 403 {
		t.Fatalf("a read token started a drill: %d %s", r.status, r.body)
	}
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/hello/verify", op, map[string]any{}))
	var list struct {
		Backups      []backup.RecoveryPlan
		LastVerified *backup.Verification
	}
	d.do("GET", "/api/v1/instances/home/apps/hello/backups", read, nil).json(t, &list)
	if v := list.LastVerified; v == nil || !v.Passed || v.Backup != newest || v.RTOSeconds <= 0 || v.RPOSeconds < 0 {
		t.Fatalf("last verified restore after a drill: %+v", v)
	}
	first := list.LastVerified.VerifiedAt
	if r := d.do("PUT", "/api/v1/instances/home/config", op, map[string]string{"path": "backup.apps.hello.verify", "value": "@every 1s"}); r.status != 200 {
		t.Fatalf("set the drill schedule: %d %s", r.status, r.body)
	}
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		d.do("GET", "/api/v1/instances/home/apps/hello/backups", read, nil).json(t, &list)
		if v := list.LastVerified; v != nil && v.VerifiedAt.After(first) {
			d.do("PUT", "/api/v1/instances/home/config", op, map[string]string{"path": "backup.apps.hello.verify", "value": `""`})
			return
		}
	}
	t.Fatalf("the scheduler ran no drill in 2 minutes: %+v", list.LastVerified)
}
