package roundtrip_test

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/clustertest"
)

// testDrill: a drill of a good backup passes with the restore time and
// the backup's age measured; a drill whose recorded checksum was
// tampered with fails and names the table; either way the throwaway side
// is gone and the live app is untouched.
func testDrill(t *testing.T, k dbKind) {
	f := newFixture(t, k.image, k.server, k.app)
	t.Cleanup(func() { _, _ = f.kube.DeleteNamespace(bg, k.app+"-verify", 0) })
	k.run(f, k.db, "create table t (id int primary key, v text)")
	k.run(f, k.db, rows(1, 300, "seed"))
	res, err := (&backup.Backup{Env: f.env, App: k.app, Skip: []string{"volume"}}).Run(bg)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	plan, err := backup.LoadPlan(f.inst, k.app, res.ID)
	must(t, err)
	key := "table:" + k.table()
	if e := dbEntry(plan); e == nil || !strings.HasPrefix(e.Backup[key], "300 ") {
		t.Fatalf("the backup recorded no count for %s: %+v", key, e)
	}
	k.run(f, k.db, rows(301, 400, "after"))
	live := k.sum(f, k.db)

	v, err := (&backup.Verify{Env: f.env, App: k.app}).Run(bg)
	if err != nil {
		t.Fatalf("drill of a good backup: %v", err)
	}
	t.Logf("drill: %+v", v.Verification)
	if !v.Passed || v.Backup != res.ID || v.RTOSeconds <= 0 || v.RPOSeconds < 0 || len(v.Checked) == 0 {
		t.Errorf("drill result %+v", v.Verification)
	}
	checkDrillGone(t, f, k, live)
	var listed []backup.RecoveryPlan
	must(t, json.Unmarshal([]byte(f.wild("app", "backups", k.app, "-o", "json")), &listed))
	if len(listed) != 1 || listed[0].Verification == nil || !listed[0].Verification.Passed || listed[0].Verification.RTOSeconds != v.RTOSeconds {
		t.Errorf("wild app backups -o json does not show the drill: %+v", listed)
	}
	if out := f.wild("app", "backups", k.app); !strings.Contains(out, "last verified restore: "+res.ID) || !strings.Contains(out, "RTO") {
		t.Errorf("wild app backups does not show the last verified restore:\n%s", out)
	}

	// A damaged check: the drill fails, names the table, and still cleans up.
	plan, err = backup.LoadPlan(f.inst, k.app, res.ID)
	must(t, err)
	dbEntry(plan).Backup[key] = "300 0000tampered"
	must(t, plan.Save(f.inst))
	out, err := f.wildCmd("app", "verify", k.app).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "differs from what backup "+res.ID+" recorded") || !strings.Contains(string(out), k.table()) {
		t.Errorf("a drill against a tampered checksum: err=%v\n%s", err, out)
	}
	checkDrillGone(t, f, k, live)
	plan, err = backup.LoadPlan(f.inst, k.app, res.ID)
	must(t, err)
	if pv := plan.Verification; pv == nil || pv.Passed || !strings.Contains(pv.Error, k.table()) {
		t.Errorf("the failed drill's record: %+v", pv)
	}
	if plan.Status != backup.StatusBackedUp || plan.Standby != nil {
		t.Errorf("the drill changed the plan's restore state: %s %+v", plan.Status, plan.Standby)
	}
}

// table is how the dialect's checksum names the test's table t.
func (k dbKind) table() string {
	if k.server == "postgres" {
		return "public.t"
	}
	return "t"
}

func dbEntry(p *backup.RecoveryPlan) *backup.StrategyEntry {
	for i := range p.Strategies {
		if n := p.Strategies[i].Name; n == "postgres" || n == "mysql" {
			return &p.Strategies[i]
		}
	}
	return nil
}

// checkDrillGone: no namespace, database or claim of the drill remains,
// and the live database and Deployment are as they were.
func checkDrillGone(t *testing.T, f *fixture, k dbKind, live string) {
	t.Helper()
	cs := clustertest.Client(t)
	if ns, err := cs.CoreV1().Namespaces().Get(bg, k.app+"-verify", metav1.GetOptions{}); err == nil {
		t.Errorf("namespace %s is left (phase %s)", ns.Name, ns.Status.Phase)
	}
	if pvcs, err := cs.CoreV1().PersistentVolumeClaims("").List(bg, metav1.ListOptions{}); err == nil {
		for _, p := range pvcs.Items {
			if strings.HasSuffix(p.Name, "-verify") || p.Namespace == k.app+"-verify" {
				t.Errorf("claim %s/%s is left", p.Namespace, p.Name)
			}
		}
	}
	if k.has(f, k.db+"_verify") {
		t.Errorf("database %s_verify is left", k.db)
	}
	if got := k.sum(f, k.db); got != live {
		t.Errorf("the live database changed: %q, want %q", got, live)
	}
	dep, err := cs.AppsV1().Deployments(k.app).Get(bg, k.app, metav1.GetOptions{})
	must(t, err)
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if strings.Contains(e.Value, "_verify") {
				t.Errorf("live env %s was changed to %s", e.Name, e.Value)
			}
		}
	}
}

func TestPostgresDrill(t *testing.T) { testDrill(t, pgKind) }

func TestMariaDBDrill(t *testing.T) { testDrill(t, myKind) }

// TestVolumeDrill drills the postgres app's own backup: its volume comes
// back in postgres-pvc-verify with the archive's files, postgres starts on
// it, and the whole throwaway side is then gone.
func TestVolumeDrill(t *testing.T) {
	f := newFixture(t, "postgres", "postgres", "")
	t.Cleanup(func() { _, _ = f.kube.DeleteNamespace(bg, "postgres-verify", 0) })
	const dir = "/var/lib/postgresql/data/drill"
	sum := f.sql("postgres", `set -e; mkdir -p `+dir+`; cd `+dir+`; head -c 200000 /dev/urandom > f; sha256sum f 2>&1`)
	if _, err := (&backup.Backup{Env: f.env, App: "postgres"}).Run(bg); err != nil {
		t.Fatalf("backup: %v", err)
	}
	v, err := (&backup.Verify{Env: f.env, App: "postgres"}).Run(bg)
	if err != nil {
		t.Fatalf("drill: %v", err)
	}
	t.Logf("drill: %+v", v.Verification)
	if !v.Passed || len(v.Checked) != 1 || !strings.HasPrefix(v.Checked[0], "volume postgres-pvc: ") || v.RTOSeconds <= 0 {
		t.Errorf("drill result %+v", v.Verification)
	}
	cs := clustertest.Client(t)
	if _, err := cs.CoreV1().Namespaces().Get(bg, "postgres-verify", metav1.GetOptions{}); err == nil {
		t.Error("namespace postgres-verify is left")
	}
	pvcs, err := cs.CoreV1().PersistentVolumeClaims("").List(bg, metav1.ListOptions{})
	must(t, err)
	for _, p := range pvcs.Items {
		if strings.HasSuffix(p.Name, "-verify") {
			t.Errorf("claim %s/%s is left", p.Namespace, p.Name)
		}
	}
	if got := f.sql("postgres", `cd `+dir+` && sha256sum f`); got != sum {
		t.Errorf("the live volume changed: %q", got)
	}
}
