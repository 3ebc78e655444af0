package roundtrip_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/operation"
)

// TestPostgresDrillWithConcurrentWrites: rows written while a backup
// runs, after the dump read the table and before the table checksums,
// are in neither (both read the dump's exported snapshot), so the drill
// of that backup passes. Then a drill killed mid-way leaves its side,
// and the next backup of the app removes it.
func TestPostgresDrillWithConcurrentWrites(t *testing.T) {
	k := pgKind
	f := newFixture(t, k.image, k.server, k.app)
	t.Cleanup(func() { _, _ = f.kube.DeleteNamespace(bg, k.app+"-verify", 0) })
	k.run(f, k.db, "create table t (id int primary key, v text)")
	k.run(f, k.db, rows(1, 300, "seed"))

	written := false
	restore := crashpoint.Set(func(name string) {
		if name == "backup.dumped" {
			k.run(f, k.db, rows(301, 350, "during"))
			written = true
		}
	})
	res, err := (&backup.Backup{Env: f.env, App: k.app, Skip: []string{"volume"}}).Run(bg)
	restore()
	if err != nil || !written {
		t.Fatalf("backup: %v (rows written during it: %v)", err, written)
	}
	plan, err := backup.LoadPlan(f.inst, k.app, res.ID)
	must(t, err)
	if e := dbEntry(plan); e == nil || !strings.HasPrefix(e.Backup["table:public.t"], "300 ") {
		t.Fatalf("the backup's checksums are not of the dump's snapshot (300 rows): %+v", e)
	}
	if got := k.run(f, k.db, "select count(*) from t"); got != "350\nok" {
		t.Fatalf("live rows: %q", got)
	}
	v, err := (&backup.Verify{Env: f.env, App: k.app}).Run(bg)
	if err != nil || !v.Passed {
		t.Fatalf("the drill of a backup taken under writes: %v %+v", err, v)
	}

	// A drill killed after its restore leaves namespace and database.
	f.crash("backup.verify-restored", "app", "verify", k.app)
	cs := clustertest.Client(t)
	if _, err := cs.CoreV1().Namespaces().Get(bg, k.app+"-verify", metav1.GetOptions{}); err != nil || !k.has(f, k.db+"_verify") {
		t.Fatalf("the killed drill left no side to remove (namespace: %v, database: %v)", err, k.has(f, k.db+"_verify"))
	}
	again, err := (&backup.Backup{Env: f.env, App: k.app, Skip: []string{"volume"}}).Run(bg)
	if err != nil {
		t.Fatalf("backup after a killed drill: %v", err)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(bg, k.app+"-verify", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("the backup left the killed drill's namespace")
	}
	if k.has(f, k.db+"_verify") {
		t.Errorf("the backup left the killed drill's database")
	}
	rec, err := operation.Get(f.inst.Path(instance.OperationsDir), again.Operation)
	must(t, err)
	noted := false
	for _, s := range rec.Steps {
		noted = noted || (s.Name == "remove a killed drill's side" && strings.Contains(s.Message, k.db+"_verify"))
	}
	if !noted {
		t.Errorf("the backup's record does not say what it removed: %+v", rec.Steps)
	}
}
