package roundtrip_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/devimage"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/side"
	"github.com/wild-cloud/wild/internal/testutil"
)

func TestMain(m *testing.M) { clustertest.Main(m, clustertest.RealNode) }

var bg = context.Background()

// fixture is one instance on the shared cluster whose database app runs
// for real, with a dependent app (on a simulated node) using it.
type fixture struct {
	t    testing.TB
	inst *instance.Instance
	kube *kube.Client
	env  backup.Env
	rec  *event.Recorder
	data string
}

func newFixture(t testing.TB, image, server, dependent string) *fixture {
	t.Helper()
	importImage(t, image)
	data := t.TempDir()
	inst, err := instance.NewStore(data).Create(instance.CreateOptions{Name: "dev", Domain: "wild.test", Kubeconfig: clustertest.Kubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	must(t, inst.SetConfig("cluster.realNode", "true"))
	for _, r := range devimage.Recipes {
		must(t, inst.SetConfig("cluster.images."+r.Replaces, r.Ref))
	}
	kc, err := kube.NewClient(clustertest.Kubeconfig(t))
	must(t, err)
	env := lifecycle.Env{Instance: inst, Catalog: catalog.Bundled()}
	for _, app := range []string{server, dependent} {
		if app == "" {
			continue
		}
		if _, err := (&lifecycle.Add{Env: env, App: app}).Run(bg); err != nil {
			t.Fatalf("add %s: %v", app, err)
		}
		if _, err := (&lifecycle.Deploy{Env: env, App: app, Timeout: 5 * time.Minute, Client: kc}).Run(bg); err != nil {
			t.Fatalf("deploy %s: %v", app, err)
		}
	}
	if dependent != "" {
		clustertest.JobSucceeds(t, dependent, dependent+"-db-init", 5*time.Minute)
	}
	rec := &event.Recorder{}
	f := &fixture{t: t, inst: inst, kube: kc, rec: rec,
		env: backup.Env{Instance: inst, Kube: kc, Observer: rec, Open: kopiastore.Open}, data: data}
	t.Cleanup(func() {
		for _, ns := range []string{dependent, dependent + "-green", server, server + "-green"} {
			if ns == "" || ns == "-green" {
				continue
			}
			removeNamespace(kc, ns)
		}
	})
	return f
}

// removeNamespace deletes ns and waits until it is gone: the next test
// deploys the same names, and objects applied into a namespace still
// being torn down go with it.
func removeNamespace(kc *kube.Client, ns string) {
	if gone, err := kc.DeleteNamespace(bg, ns, 3*time.Minute); err == nil && !gone {
		_ = kc.ClearTerminating(bg, ns, kube.ClearOptions{Attempts: 3, Wait: 5 * time.Second})
	}
}

// sql runs a client script in the database pod and returns its output;
// an empty answer (seen from exec under load) is retried, bounded.
func (f *fixture) sql(server, script string) string {
	f.t.Helper()
	var out, errb bytes.Buffer
	var err error
	for try := 0; try < 10; try++ {
		pod := clustertest.ReadyPod(f.t, server, "component=db")
		out.Reset()
		errb.Reset()
		err = f.kube.Exec(bg, kube.ExecOptions{Namespace: server, Pod: pod.Name, Container: pod.Spec.Containers[0].Name,
			Command: []string{"sh", "-c", script}, Stdout: &out, Stderr: &errb})
		if err == nil && strings.TrimSpace(out.String()) != "" {
			return strings.TrimSpace(out.String())
		}
		time.Sleep(time.Second)
	}
	f.t.Fatalf("%s: %v: %s %s", script, err, out.String(), errb.String())
	return ""
}

// podReport says where the pods of selector are and what their
// containers last printed, for a failure message.
func podReport(t *testing.T, ns, selector string) string {
	cs := clustertest.Client(t)
	pods, err := cs.CoreV1().Pods(ns).List(bg, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s on %s: %s %+v\n", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses)
		logs, _ := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(bg)
		fmt.Fprintf(&b, "logs: %s\n", logs)
	}
	return b.String()
}

// wild runs the wild binary on the fixture's instance and returns its
// stdout.
func (f *fixture) wild(args ...string) string {
	f.t.Helper()
	out, err := f.wildCmd(args...).Output()
	if err != nil {
		f.t.Fatalf("wild %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func (f *fixture) wildCmd(args ...string) *exec.Cmd {
	bin, err := testutil.WildBinary()
	must(f.t, err)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "WILD_CENTRAL_DATA="+f.data, "WILD_INSTANCE=dev", "WILD_DIRECTORY=")
	return cmd
}

// crash runs the wild binary on the fixture's instance with a crash
// point armed, and checks that it died there by SIGKILL.
func (f *fixture) crash(point string, args ...string) {
	f.t.Helper()
	cmd := f.wildCmd(args...)
	cmd.Env = append(cmd.Env, crashpoint.Env+"="+point)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		f.t.Fatalf("wild %s with %s armed did not die at it: %v\n%s", strings.Join(args, " "), point, err, out)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func importImage(t testing.TB, name string) {
	t.Helper()
	cache, err := devimage.DefaultCacheDir()
	must(t, err)
	r, err := devimage.Lookup(name)
	must(t, err)
	b, err := devimage.BuildDebian(bg, r, devimage.BuildOptions{CacheDir: cache})
	must(t, err)
	ok, err := devcluster.ImportImages(bg, clustertest.Dir(), []devimage.Built{b})
	if err != nil || !ok {
		t.Fatalf("import %s: imported=%v err=%v", name, ok, err)
	}
}

// dbRoundTrip is the test of both database kinds: seed rows, back up,
// write more, restore to green; green has exactly the backed-up rows and
// blue has all of them.
type dbKind struct {
	image, server, app, db string
	// client runs SQL ($SQL) against database $DB as the server's admin.
	client string
	// checksum is a query printing "count md5" of table t.
	checksum string
	// adminDB is a database that always exists; exists is a query (%s:
	// a database name) printing 1 when that database exists, else 0.
	adminDB, exists string
}

var (
	pgKind = dbKind{image: "postgres", server: "postgres", app: "gitea", db: "gitea",
		client:   `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -v ON_ERROR_STOP=1 -Atq -d "$DB" -c "$SQL"`,
		checksum: `select count(*) || ' ' || md5(coalesce(string_agg(id || ':' || v, ',' order by id), '')) from t`,
		adminDB:  "postgres", exists: `select count(*) from pg_database where datname = '%s'`}
	myKind = dbKind{image: "mariadb", server: "mysql", app: "ghost", db: "ghost",
		client:   `MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb -h127.0.0.1 -uroot -N -B "$DB" -e "$SQL"`,
		checksum: `select concat(count(*), ' ', md5(coalesce(group_concat(concat(id, ':', v) order by id separator ','), ''))) from t`,
		adminDB:  "mysql", exists: `select count(*) from information_schema.schemata where schema_name = '%s'`}
)

func (k dbKind) run(f *fixture, db, sql string) string {
	return f.sql(k.server, "DB="+shellQuote(db)+" SQL="+shellQuote(sql)+"; "+k.client+"; echo ok")
}

func (k dbKind) sum(f *fixture, db string) string {
	return strings.TrimSuffix(k.run(f, db, k.checksum), "\nok")
}

// rows is an insert of rows from..to into t, in SQL both servers read.
func rows(from, to int, tag string) string {
	var vals []string
	for i := from; i <= to; i++ {
		vals = append(vals, fmt.Sprintf("(%d, '%s-%d')", i, tag, i))
	}
	return "insert into t values " + strings.Join(vals, ", ")
}

// noPlaintext: the repository exists and no file of it holds marker.
func noPlaintext(t *testing.T, repo, marker string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(marker)) {
			t.Errorf("repository file %s holds the plaintext %q", p, marker)
		}
		return err
	})
	if err != nil || files == 0 {
		t.Fatalf("repository %s: %d files, %v", repo, files, err)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func testRoundTrip(t *testing.T, k dbKind) {
	f := newFixture(t, k.image, k.server, k.app)
	k.run(f, k.db, "create table t (id int primary key, v text)")
	k.run(f, k.db, rows(1, 500, "seed"))
	backedUp := k.sum(f, k.db)

	// kill -9 mid-backup: the next backup tells the truth about it.
	f.crash("backup.dump-started", "app", "backup", k.app, "--skip", "volume")
	res, err := (&backup.Backup{Env: f.env, App: k.app, Skip: []string{"volume"}}).Run(bg)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	plans, err := (&backup.List{Env: f.env, App: k.app}).Run(bg)
	must(t, err)
	if len(plans) != 2 || plans[1].Status != backup.StatusFailed || !strings.Contains(plans[1].Error, "interrupted") || plans[1].Snapshot != "" {
		t.Errorf("the killed backup's plan: %+v", plans[len(plans)-1])
	}
	plan, err := backup.LoadPlan(f.inst, k.app, res.ID)
	must(t, err)
	if plan.Status != backup.StatusBackedUp || plan.Snapshot == "" || plan.Phases["backup"].CompletedAt == nil {
		t.Fatalf("plan after backup: %+v", plan)
	}

	noPlaintext(t, filepath.Join(f.data, "backups"), "seed-250")
	pw, err := f.inst.GetSecret("apps." + k.app + ".dbPassword")
	must(t, err)
	noPlaintext(t, filepath.Join(f.data, "backups"), fmt.Sprint(pw))
	k.run(f, k.db, rows(501, 700, "after"))
	blue := k.sum(f, k.db)
	if blue == backedUp {
		t.Fatal("the rows written after the backup did not change the checksum")
	}

	// kill -9 mid-restore, after the database: running it again resumes.
	f.crash("backup.restored-"+k.server, "app", "restore", k.app)
	if p, _ := backup.LoadPlan(f.inst, k.app, res.ID); p.Status != backup.StatusRestoring {
		t.Errorf("a killed restore's plan says %s", p.Status)
	}
	rr, err := (&backup.Restore{Env: f.env, App: k.app}).Run(bg)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rr.ID != res.ID {
		t.Errorf("restored %s, want the completed backup %s", rr.ID, res.ID)
	}
	if rr.Color != "green" || rr.Namespace != k.app+"-green" {
		t.Fatalf("restored to %s/%s", rr.Color, rr.Namespace)
	}
	if got := k.sum(f, k.db+"_green"); got != backedUp {
		t.Errorf("green has %q, want the backed-up %q", got, backedUp)
	}
	if got := k.sum(f, k.db); got != blue {
		t.Errorf("blue changed: %q, want %q", got, blue)
	}
	checkStandby(t, f, k, rr)
	switchAndCleanup(t, f, k, backedUp)
}

func (k dbKind) has(f *fixture, db string) bool {
	return strings.TrimSuffix(k.run(f, k.adminDB, fmt.Sprintf(k.exists, db)), "\nok") == "1"
}

// switchAndCleanup: the hosts move to green and the instance records it;
// cleanup then removes blue (namespace and database) and green keeps the
// backed-up rows.
func switchAndCleanup(t *testing.T, f *fixture, k dbKind, backedUp string) {
	t.Helper()
	// kill -9 mid-switch, with the hosts freed on blue and not yet on
	// green: running it again finishes.
	host := k.app + ".wild.test"
	f.crash("backup.switch-hosts-freed", "app", "switch", k.app)
	if p, _ := backup.LoadPlan(f.inst, k.app, ""); p.Status != backup.StatusSwitching {
		t.Errorf("a killed switch's plan says %s", p.Status)
	}
	if ns := servingNamespaces(t, host); len(ns) != 0 {
		t.Errorf("mid-switch %s is served from %v", host, ns)
	}
	sw, err := (&backup.Switch{Env: f.env, App: k.app}).Run(bg)
	if err != nil {
		t.Fatalf("switch: %v", err)
	}
	if sw.Active != "green" || sw.Retired != "blue" {
		t.Errorf("switch result %+v", sw)
	}
	if ns := servingNamespaces(t, host); len(ns) != 1 || ns[0] != k.app+"-green" {
		t.Errorf("after switch %s is served from %v, want only %s-green", host, ns, k.app)
	}
	act, err := side.Read(f.inst, k.app)
	if err != nil || act.Color != "green" || act.Namespace != k.app+"-green" || act.Original {
		t.Errorf("active side %+v %v", act, err)
	}
	if _, err := (&backup.Switch{Env: f.env, App: k.app}).Run(bg); err == nil {
		t.Error("a second switch without a new restore must be refused")
	}

	cl, err := (&backup.Cleanup{Env: f.env, App: k.app}).Run(bg)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if k.has(f, k.db) || !k.has(f, k.db+"_green") {
		t.Errorf("after cleanup: %s exists=%v, %s_green exists=%v (removed %v)", k.db, k.has(f, k.db), k.db, k.has(f, k.db+"_green"), cl.Removed)
	}
	ns, err := clustertest.Client(t).CoreV1().Namespaces().Get(bg, k.app, metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("namespace %s is still there after cleanup", k.app)
	}
	if got := k.sum(f, k.db+"_green"); got != backedUp {
		t.Errorf("green after cleanup has %q, want %q", got, backedUp)
	}
	plan, err := backup.LoadPlan(f.inst, k.app, "")
	if err != nil || plan.Status != backup.StatusCleaned || plan.Phases["switch"].CompletedAt == nil {
		t.Errorf("plan after cleanup: %+v %v", plan, err)
	}
	redeployGreen(t, f, k, backedUp)
}

// redeployGreen: the lifecycle follows the switch. A deploy of apps/APP,
// which names the base database, lands on green with green's database,
// and the restored rows stay.
func redeployGreen(t *testing.T, f *fixture, k dbKind, backedUp string) {
	t.Helper()
	env := lifecycle.Env{Instance: f.inst, Catalog: catalog.Bundled()}
	res, err := (&lifecycle.Deploy{Env: env, App: k.app, Timeout: 5 * time.Minute, Client: f.kube}).Run(bg)
	if err != nil || res.Namespace != k.app+"-green" {
		t.Fatalf("redeploy after the switch: namespace %q, %v", res.Namespace, err)
	}
	dep, err := clustertest.Client(t).AppsV1().Deployments(k.app+"-green").Get(bg, k.app, metav1.GetOptions{})
	must(t, err)
	if !envNames(dep.Spec.Template.Spec.Containers, k.db+"_green") {
		t.Errorf("after a redeploy no env value of %s-green names %s_green", k.app, k.db)
	}
	if got := k.sum(f, k.db+"_green"); got != backedUp {
		t.Errorf("green after a redeploy has %q, want %q", got, backedUp)
	}
	if k.has(f, k.db) {
		t.Errorf("a redeploy after the switch recreated database %s", k.db)
	}
}

func envNames(cs []corev1.Container, value string) bool {
	for _, c := range cs {
		for _, e := range c.Env {
			if e.Value == value {
				return true
			}
		}
	}
	return false
}

// servingNamespaces lists the namespaces with an Ingress for host.
func servingNamespaces(t *testing.T, host string) []string {
	t.Helper()
	list, err := clustertest.Client(t).NetworkingV1().Ingresses("").List(bg, metav1.ListOptions{})
	must(t, err)
	var out []string
	for _, ing := range list.Items {
		for _, r := range ing.Spec.Rules {
			if r.Host == host {
				out = append(out, ing.Namespace)
			}
		}
	}
	return out
}

// checkStandby: the standby runs in its namespace with the database name
// patched, and the live namespace is untouched.
func checkStandby(t *testing.T, f *fixture, k dbKind, rr *backup.RestoreResult) {
	t.Helper()
	plan, err := backup.LoadPlan(f.inst, k.app, rr.ID)
	must(t, err)
	if plan.Status != backup.StatusRestored || plan.StandbyColor != "green" || plan.Phases["restore"].CompletedAt == nil {
		t.Fatalf("plan after restore: status %s color %s", plan.Status, plan.StandbyColor)
	}
	deps, err := clustertest.Client(t).AppsV1().Deployments(rr.Namespace).List(bg, metav1.ListOptions{})
	must(t, err)
	if len(deps.Items) == 0 {
		t.Fatalf("no Deployment in %s", rr.Namespace)
	}
	found := false
	for _, c := range deps.Items[0].Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Value == k.db+"_green" {
				found = true
			}
			if e.Value == k.db {
				t.Errorf("standby env %s still names the live database %s", e.Name, k.db)
			}
		}
	}
	if !found {
		t.Errorf("no env value of the standby names %s_green", k.db)
	}
	live, err := clustertest.Client(t).AppsV1().Deployments(k.app).Get(bg, k.app, metav1.GetOptions{})
	must(t, err)
	for _, c := range live.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if strings.Contains(e.Value, "_green") {
				t.Errorf("live env %s was changed to %s", e.Name, e.Value)
			}
		}
	}
	progress := false
	for _, e := range f.rec.Events() {
		if e.Kind == event.Progress && e.Bytes > 0 {
			progress = true
		}
	}
	if !progress {
		t.Error("no progress event with bytes")
	}
}

func TestPostgresRoundTrip(t *testing.T) { testRoundTrip(t, pgKind) }

func TestMariaDBRoundTrip(t *testing.T) { testRoundTrip(t, myKind) }

// TestVolumeRoundTrip backs up the postgres app's own volume through a
// helper pod, while postgres runs on it: files written before the backup
// come back in postgres-pvc-green with the same checksums, a file written
// after does not, and the standby postgres starts on the copy (it refuses
// a data directory with the wrong owner or mode).
func TestVolumeRoundTrip(t *testing.T) {
	f := newFixture(t, "postgres", "postgres", "")
	const dir = "/var/lib/postgresql/data/wildtest"
	sums := f.sql("postgres", `set -e; mkdir -p `+dir+`; cd `+dir+`; for i in 1 2 3 4 5 6 7 8; do head -c 300000 /dev/urandom > f$i; done; `+
		`mkdir -p deep/er; echo hello > deep/er/note; chmod 640 deep/er/note; sha256sum f* deep/er/note; stat -c '%a %u' deep/er/note`)

	res, err := (&backup.Backup{Env: f.env, App: "postgres"}).Run(bg)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if got := strategyNames(res.Strategies); got != "config,volume" {
		t.Errorf("strategies %s", got)
	}
	// The same files again, while postgres runs (its WAL and control
	// files change a little): the repository stores only a few percent
	// new. Measured here: 1.6% (693 KB of 43 MB, first backup 6.5 MB):
	// a change of a few bytes costs a whole chunk of kopia's splitter.
	again, err := (&backup.Backup{Env: f.env, App: "postgres"}).Run(bg)
	if err != nil {
		t.Fatalf("second backup: %v", err)
	}
	t.Logf("first backup %+v, second %+v", res.Stats, again.Stats)
	if again.Stats.Bytes < 2<<20 || again.Stats.NewBytes*20 >= again.Stats.Bytes || again.Stats.NewBytes*5 >= res.Stats.NewBytes {
		t.Errorf("second backup stored %d new bytes of %d (first: %d new): deduplication did not work", again.Stats.NewBytes, again.Stats.Bytes, res.Stats.NewBytes)
	}
	// The CLI shows them, and exports the password that reads them.
	var listed []backup.RecoveryPlan
	must(t, json.Unmarshal([]byte(f.wild("app", "backups", "postgres", "-o", "json")), &listed))
	if len(listed) != 2 || listed[0].Timestamp != again.ID || listed[0].Status != backup.StatusBackedUp {
		t.Errorf("wild app backups: %+v", listed)
	}
	pw, err := f.inst.GetSecret(backup.PasswordKey)
	must(t, err)
	if key := strings.TrimSpace(f.wild("backup", "key", "export")); key != fmt.Sprint(pw) || len(key) < 40 {
		t.Errorf("wild backup key export printed %d chars, not the stored password", len(key))
	}
	// An update takes this same backup first, under the lock it holds.
	unlock, err := f.inst.LockApp("postgres")
	must(t, err)
	id, err := backup.BeforeUpdate(f.env)(bg, "postgres")
	unlock()
	if err != nil || id == "" {
		t.Fatalf("the backup before an update: id %q, %v", id, err)
	}
	if p, err := backup.LoadPlan(f.inst, "postgres", id); err != nil || p.Status != backup.StatusBackedUp || strategyNames(p.Strategies) != "config,volume" {
		t.Fatalf("the pre-update backup's plan: %+v %v", p, err)
	}
	f.sql("postgres", `echo later > `+dir+`/after; echo ok`)

	rr, err := (&backup.Restore{Env: f.env, App: "postgres"}).Run(bg)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rr.Namespace != "postgres-green" {
		t.Fatalf("restored into %s", rr.Namespace)
	}
	pvc, err := clustertest.Client(t).CoreV1().PersistentVolumeClaims("postgres-green").Get(bg, "postgres-pvc-green", metav1.GetOptions{})
	if err != nil || pvc.Status.Phase != corev1.ClaimBound {
		t.Fatalf("standby claim: %v %+v", err, pvc)
	}
	green := f.sql("postgres-green", `cd `+dir+` && sha256sum f* deep/er/note && stat -c '%a %u' deep/er/note && ls`)
	if !strings.HasPrefix(green, sums) {
		t.Errorf("green files:\n%s\nwant:\n%s", green, sums)
	}
	if strings.Contains(green, "after") {
		t.Error("a file written after the backup is in green")
	}
	if blue := f.sql("postgres", `cat `+dir+`/after`); blue != "later" {
		t.Errorf("blue lost its file: %q", blue)
	}
	// The standby postgres answers on the restored data.
	if out := f.sql("postgres-green", `PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -Atc 'select 1'`); out != "1" {
		t.Errorf("standby postgres: %q", out)
	}
}

func strategyNames(es []backup.StrategyEntry) string {
	var n []string
	for _, e := range es {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}
