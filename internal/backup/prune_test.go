package backup_test

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/backup/retention"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
)

// TestPruneKeepsWhatThePolicySays: a real kopia repository, four settled
// backups a day apart, one failed and one restored (never pruned): the
// policy from config.yaml keeps exactly the newest two settled ones and
// deletes the others' snapshots and plans.
func TestPruneKeepsWhatThePolicySays(t *testing.T) {
	ctx := context.Background()
	inst, err := instance.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "home", Domain: "wild.test"})
	if err != nil {
		t.Fatal(err)
	}
	must(t, inst.SetSecret(backup.PasswordKey, "a-test-repository-password"))
	must(t, inst.SetConfig("backup.apps.gitea.retention", "{keepLast: 2}"))
	dest, err := backup.ReadDestination(inst)
	must(t, err)
	store, err := kopiastore.Open(ctx, dest, "a-test-repository-password", true)
	must(t, err)
	day := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	var settled []string
	for i, status := range []string{backup.StatusBackedUp, backup.StatusBackedUp, backup.StatusFailed, backup.StatusBackedUp, backup.StatusRestored, backup.StatusCleaned} {
		ts := day.Add(time.Duration(i) * 24 * time.Hour).Format("20060102T150405Z")
		snap, err := store.Save(ctx, backup.Source{Instance: "home", App: "gitea"}, map[string]string{"plan": ts},
			[]backup.Stream{{Name: "postgres/gitea.dump", Open: func(context.Context) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("dump of day " + ts)), nil
			}}}, nil)
		must(t, err)
		p := &backup.RecoveryPlan{App: "gitea", Instance: "home", Timestamp: ts, Status: status, Snapshot: snap.ID}
		must(t, p.Save(inst))
		if status == backup.StatusBackedUp || status == backup.StatusCleaned {
			settled = append(settled, ts)
		}
	}
	must(t, store.Close(ctx))
	slices.Reverse(settled)

	env := backup.Env{Instance: inst, Open: kopiastore.Open}
	now := func() time.Time { return day.Add(10 * 24 * time.Hour) }
	dry, err := (&backup.Prune{Env: env, App: "gitea", DryRun: true, Now: now}).Run(ctx)
	must(t, err)
	if !slices.Equal(dry.Kept, settled[:2]) || !slices.Equal(dry.Dropped, settled[2:]) {
		t.Fatalf("dry run kept %v dropped %v, want %v and %v", dry.Kept, dry.Dropped, settled[:2], settled[2:])
	}
	res, err := (&backup.Prune{Env: env, App: "gitea", Now: now}).Run(ctx)
	must(t, err)
	if !slices.Equal(res.Dropped, settled[2:]) {
		t.Fatalf("dropped %v, want %v", res.Dropped, settled[2:])
	}
	plans, err := backup.ListPlans(inst, "gitea")
	must(t, err)
	var left []string
	for _, p := range plans {
		left = append(left, p.Timestamp+"/"+p.Status)
	}
	if len(plans) != 4 {
		t.Fatalf("plans left %v: want the two kept, the failed and the restored one", left)
	}
	store, err = kopiastore.Open(ctx, dest, "a-test-repository-password", false)
	must(t, err)
	defer store.Close(ctx)
	snaps, err := store.List(ctx, backup.Source{Instance: "home", App: "gitea"})
	must(t, err)
	if len(snaps) != 4 {
		t.Fatalf("%d snapshots left, want 4 (2 kept, failed and restored plans' untouched)", len(snaps))
	}
	for _, ts := range settled[2:] {
		if _, err := os.Stat(inst.Path(backup.BackupsDir, "gitea", ts)); !os.IsNotExist(err) {
			t.Errorf("plan %s still there: %v", ts, err)
		}
	}
	// A second prune finds nothing more to drop.
	again, err := (&backup.Prune{Env: env, App: "gitea", Now: now}).Run(ctx)
	must(t, err)
	if len(again.Dropped) != 0 {
		t.Errorf("second prune dropped %v", again.Dropped)
	}
}

func TestPruneRefusesABadPolicy(t *testing.T) {
	inst, err := instance.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "home", Domain: "wild.test"})
	must(t, err)
	must(t, inst.SetConfig("backup.apps.gitea.retention", "{keepLast: -1}"))
	_, err = (&backup.Prune{Env: backup.Env{Instance: inst, Open: kopiastore.Open}, App: "gitea"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "keepLast") {
		t.Fatalf("negative keepLast: %v", err)
	}
	if _, err := (&backup.Prune{Env: backup.Env{Instance: inst}, App: "gitea", Policy: &retention.Policy{KeepDaily: -2}}).Run(context.Background()); err == nil {
		t.Fatal("a negative policy was accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestHasDataFollowsTheManifest(t *testing.T) {
	cat := catalog.Bundled()
	for app, want := range map[string]bool{"hello": false, "memcached": false, "gitea": true, "ghost": true, "postgres": true} {
		p, err := cat.Get(app)
		if err != nil {
			t.Fatal(err)
		}
		if got := backup.HasData(p.Manifest); got != want {
			t.Errorf("HasData(%s) = %v, want %v", app, got, want)
		}
	}
}
