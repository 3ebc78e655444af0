package roundtrip_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/devimage"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/testutil"
)

// TestCloneIntoAnotherInstance: gitea's backup in instance dev (A) is
// cloned into instance b of the same data directory and cluster, whose
// own postgres runs in namespace b-postgres. A clone killed after it
// stopped the new app resumes; then b's database holds exactly the
// backed-up rows, b's Ingress serves b's domain, b's database password is
// its own while gitea's secretKey (restore.dataSecrets) came along, and
// nothing of A changed: its files, its rows, its hosts.
func TestCloneIntoAnotherInstance(t *testing.T) {
	f := newFixture(t, "postgres", "postgres", "gitea")
	k := pgKind
	k.run(f, k.db, "create table t (id int primary key, v text)")
	k.run(f, k.db, rows(1, 300, "seed"))
	backedUp := k.sum(f, k.db)
	res, err := (&backup.Backup{Env: f.env, App: "gitea", Skip: []string{"volume"}}).Run(bg)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	k.run(f, k.db, rows(301, 400, "after"))
	liveA := k.sum(f, k.db)

	b := f.secondInstance("b", "b.test")
	t.Cleanup(func() {
		for _, ns := range []string{"b-gitea", "b-postgres"} {
			removeNamespace(f.kube, ns)
		}
	})
	set := map[string]string{"namespace": "b-postgres", "host": "postgres.b-postgres.svc.cluster.local"}
	benv := lifecycle.Env{Instance: b, Catalog: catalog.Bundled()}
	if _, err := (&lifecycle.Add{Env: benv, App: "postgres", Set: set}).Run(bg); err != nil {
		t.Fatalf("add postgres to b: %v", err)
	}
	if _, err := (&lifecycle.Deploy{Env: benv, App: "postgres", Timeout: 5 * time.Minute, Client: f.kube}).Run(bg); err != nil {
		t.Fatalf("deploy postgres in b: %v", err)
	}
	aFiles := testutil.Tree(t, f.inst.Dir)

	// kill -9 once the new app is stopped for loading: rerunning resumes.
	cmd := f.wildCmd("app", "clone", "gitea", "--from-instance", "dev", "--set", "namespace=b-gitea")
	cmd.Env = append(cmd.Env, "WILD_INSTANCE=b", crashpoint.Env+"=backup.clone-stopped")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the armed clone did not die: %s", out)
	}
	if rec, err := backup.ReadCloneRecord(b, "gitea"); err != nil || rec == nil || rec.Status != "stopped" || rec.Replicas["Deployment/gitea"] != 1 {
		t.Fatalf("record of the killed clone: %+v %v", rec, err)
	}
	cl, err := (&backup.Clone{Env: backup.Env{Instance: b, Kube: f.kube, Open: kopiastore.Open}, Catalog: catalog.Bundled(),
		App: "gitea", Source: f.inst, Set: map[string]string{"namespace": "b-gitea"}}).Run(bg)
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	if !cl.Resumed || cl.ID != res.ID || cl.Namespace != "b-gitea" || strings.Join(cl.SecretsCarried, ",") != "secretKey" {
		t.Errorf("clone result %+v", cl)
	}

	if got := f.sql("b-postgres", "DB=gitea SQL="+shellQuote(k.checksum)+"; "+k.client); got != backedUp {
		t.Errorf("b's database has %q, want the backed-up %q", got, backedUp)
	}
	if got := k.sum(f, k.db); got != liveA {
		t.Errorf("A's database changed: %q, want %q", got, liveA)
	}
	if hosts := servingNamespaces(t, "gitea.b.test"); len(hosts) != 1 || hosts[0] != "b-gitea" {
		t.Errorf("gitea.b.test is served from %v, want b-gitea", hosts)
	}
	if ns := servingNamespaces(t, "gitea.wild.test"); len(ns) != 1 || ns[0] != "gitea" {
		t.Errorf("A's host gitea.wild.test is served from %v, want only A's gitea", ns)
	}
	dep, err := clustertest.Client(t).AppsV1().Deployments("b-gitea").Get(bg, "gitea", metav1.GetOptions{})
	if err != nil || dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 {
		t.Fatalf("b's gitea Deployment: %v %+v", err, dep)
	}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "GITEA__database__HOST" && !strings.HasPrefix(e.Value, "postgres.b-postgres.") {
			t.Errorf("b's gitea talks to %s", e.Value)
		}
	}
	secrets := func(inst *instance.Instance, key string) string {
		v, err := inst.GetSecret("apps.gitea." + key)
		must(t, err)
		return fmt.Sprint(v)
	}
	if secrets(b, "dbPassword") == secrets(f.inst, "dbPassword") {
		t.Error("b took A's database password; it must have its own")
	}
	if secrets(b, "secretKey") != secrets(f.inst, "secretKey") {
		t.Error("b's secretKey is not A's: gitea's encrypted data would not open")
	}
	ks, err := clustertest.Client(t).CoreV1().Secrets("b-gitea").Get(bg, "gitea-secrets", metav1.GetOptions{})
	must(t, err)
	if string(ks.Data["secretKey"]) != secrets(f.inst, "secretKey") || string(ks.Data["dbPassword"]) != secrets(b, "dbPassword") {
		t.Error("b's gitea-secrets does not hold b's dbPassword and A's secretKey")
	}
	if rec, err := backup.ReadCloneRecord(b, "gitea"); err != nil || rec.Status != "cloned" || rec.Backup != res.ID {
		t.Errorf("clone record %+v %v", rec, err)
	}
	if after := testutil.Tree(t, f.inst.Dir); after != aFiles {
		t.Error("the clone changed files of instance A")
	}
}

// secondInstance creates another instance in the fixture's data
// directory, on the same cluster and real node.
func (f *fixture) secondInstance(name, domain string) *instance.Instance {
	f.t.Helper()
	inst, err := instance.NewStore(f.data).Create(instance.CreateOptions{Name: name, Domain: domain, Kubeconfig: clustertest.Kubeconfig(f.t)})
	must(f.t, err)
	must(f.t, inst.SetConfig("cluster.realNode", "true"))
	for _, r := range devimage.Recipes {
		must(f.t, inst.SetConfig("cluster.images."+r.Replaces, r.Ref))
	}
	return inst
}

// TestCloneAVolume: postgres's own volume, with files of known checksums
// beside its data, is cloned from instance dev into instance b: b's
// claim holds the same files, nothing written after the backup, and b's
// postgres starts on the cloned data with the password it was
// initialised with (restore.dataSecrets), while A keeps its own.
func TestCloneAVolume(t *testing.T) {
	f := newFixture(t, "postgres", "postgres", "")
	const dir = "/var/lib/postgresql/data/wildclone"
	sums := f.sql("postgres", `set -e; mkdir -p `+dir+`; cd `+dir+`; for i in 1 2 3; do head -c 200000 /dev/urandom > f$i; done; `+
		`mkdir -p d; echo hi > d/note; sha256sum f* d/note`)
	if _, err := (&backup.Backup{Env: f.env, App: "postgres"}).Run(bg); err != nil {
		t.Fatalf("backup: %v", err)
	}
	f.sql("postgres", `echo later > `+dir+`/after; echo ok`)

	b := f.secondInstance("b", "b.test")
	t.Cleanup(func() { removeNamespace(f.kube, "b-postgres") })
	cl, err := (&backup.Clone{Env: backup.Env{Instance: b, Kube: f.kube, Open: kopiastore.Open}, Catalog: catalog.Bundled(),
		App: "postgres", Source: f.inst, Set: map[string]string{"namespace": "b-postgres", "host": "postgres.b-postgres.svc.cluster.local"}}).Run(bg)
	if err != nil {
		t.Fatalf("clone: %v", err)
	}
	if cl.Namespace != "b-postgres" {
		t.Fatalf("cloned into %q", cl.Namespace)
	}
	got := f.sql("b-postgres", `cd `+dir+` && sha256sum f* d/note && ls`)
	if !strings.HasPrefix(got, sums) {
		t.Errorf("b's volume:\n%s\nwant:\n%s", got, sums)
	}
	if strings.Contains(got, "after") {
		t.Error("a file written after the backup reached b")
	}
	if out := f.sql("b-postgres", `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -Atc 'select 1'`); out != "1" {
		t.Errorf("b's postgres on the cloned data: %q", out)
	}
	if a := f.sql("postgres", `cat `+dir+`/after`); a != "later" {
		t.Errorf("A lost its file: %q", a)
	}
}
