package realnode_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/devimage"
	"github.com/wild-cloud/wild/internal/testutil"
)

// wild runs the real wild binary against one instance on the shared
// cluster, the way a user would.
type wild struct {
	t    *testing.T
	bin  string
	data string
}

// imported records the dev images already in the node, by name.
var (
	importedMu sync.Mutex
	imported   = map[string]bool{}
)

// devInstance creates an instance on the shared cluster that runs the
// database apps for real, as `wild up` makes "dev": config.yaml's
// cluster.realNode and cluster.images, with the dev images built (cached
// between runs) and imported into the node.
func devInstance(t *testing.T, images ...string) *wild {
	t.Helper()
	bin, err := testutil.WildBinary()
	if err != nil {
		t.Fatal(err)
	}
	w := &wild{t: t, bin: bin, data: t.TempDir()}
	buildImages(t, images)
	w.ok("instance", "create", "dev", "--domain", "wild.test", "--kubeconfig", clustertest.Kubeconfig(t))
	w.ok("config", "set", "cluster.realNode", "true")
	for _, r := range devimage.Recipes {
		w.ok("config", "set", "cluster.images."+r.Replaces, r.Ref)
	}
	return w
}

// buildImages builds (or finds in the cache) and imports the named dev
// images.
func buildImages(t *testing.T, names []string) {
	t.Helper()
	importedMu.Lock()
	defer importedMu.Unlock()
	cache, err := devimage.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	var built []devimage.Built
	for _, n := range names {
		if imported[n] {
			continue
		}
		r, err := devimage.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := devimage.BuildDebian(bg, r, devimage.BuildOptions{CacheDir: cache, Progress: testWriter{t}})
		if err != nil {
			t.Fatal(err)
		}
		built = append(built, b)
	}
	ok, err := devcluster.ImportImages(bg, clustertest.Dir(), built)
	if err != nil || !ok {
		t.Fatalf("import the dev images: imported=%v err=%v", ok, err)
	}
	for _, b := range built {
		imported[b.Name] = true
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (w *wild) ok(args ...string) string {
	w.t.Helper()
	cmd := exec.Command(w.bin, args...)
	cmd.Env = append(os.Environ(), "WILD_CENTRAL_DATA="+w.data, "WILD_INSTANCE=", "WILD_DIRECTORY=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("wild %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func secretValue(t *testing.T, ns, name, key string) string {
	t.Helper()
	s, err := clustertest.Client(t).CoreV1().Secrets(ns).Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Data[key])
}

// client runs a database client of this machine (psql, mysql) against a
// port-forward to the pod, with the password in the environment.
func client(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// forward opens a port-forward to the pod's port and returns the local
// port; it closes when the test ends.
func forward(t *testing.T, ns, pod string, port int) int {
	t.Helper()
	local, stop := portForward(t, ns, pod, port)
	t.Cleanup(stop)
	return local
}

func onRealNode(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if p.Spec.NodeName != devcluster.RealNodeName {
		t.Fatalf("pod %s/%s runs on %q, want %s", p.Namespace, p.Name, p.Spec.NodeName, devcluster.RealNodeName)
	}
}

// deployWithDependent deploys the database app on the real node from the
// named dev image, then an app that needs it, and waits until the
// dependent's db-init Job has really run. It returns the database's pod.
func deployWithDependent(t *testing.T, image, db, dependent string) *corev1.Pod {
	t.Helper()
	w := devInstance(t, image)
	w.ok("app", "add", db)
	w.ok("app", "deploy", db, "--timeout", "5m")
	pod := clustertest.ReadyPod(t, db, "component=db")
	onRealNode(t, pod)
	w.ok("app", "add", dependent)
	w.ok("app", "deploy", dependent, "--timeout", "5m")
	clustertest.JobSucceeds(t, dependent, dependent+"-db-init", 3*time.Minute)
	return pod
}

// TestPostgresAppAndDBInitForReal deploys the bundled postgres app on the
// real node (Ready through its real pg_isready probe), then gitea, whose
// db-init Job creates gitea's database by Service DNS; a psql of this
// machine checks it through a port-forward, logging in as gitea.
// Then data written to the volume survives the pod's deletion, and the
// cluster's down and up.
func TestPostgresAppAndDBInitForReal(t *testing.T) {
	pg := deployWithDependent(t, "postgres", "postgres", "gitea")

	port := strconv.Itoa(forward(t, "postgres", pg.Name, 5432))
	giteaPW := secretValue(t, "gitea", "gitea-secrets", "dbPassword")
	out, err := client(t, []string{"PGPASSWORD=" + giteaPW, "PGCONNECT_TIMEOUT=10"}, "psql",
		"-h", "127.0.0.1", "-p", port, "-U", "gitea", "-d", "gitea", "-Atc", "select current_database(), current_user")
	if err != nil || strings.TrimSpace(out) != "gitea|gitea" {
		t.Fatalf("psql as gitea into database gitea: %v: %s", err, out)
	}

	// Data on the claim survives the pod.
	adminPW := []string{"PGPASSWORD=" + secretValue(t, "postgres", "postgres-secrets", "password"), "PGCONNECT_TIMEOUT=10"}
	if out, err := client(t, adminPW, "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-v", "ON_ERROR_STOP=1",
		"-c", "create table keep(v text); insert into keep values ('survives')"); err != nil {
		t.Fatalf("write: %v: %s", err, out)
	}
	if err := clustertest.Client(t).CoreV1().Pods("postgres").Delete(bg, pg.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pg2 := waitNewPod(t, "postgres", "component=db", pg.UID)
	port = strconv.Itoa(forward(t, "postgres", pg2.Name, 5432))
	out, err = client(t, adminPW, "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-Atc", "select v from keep")
	if err != nil || strings.TrimSpace(out) != "survives" {
		t.Fatalf("after the pod was replaced: %v: %s", err, out)
	}

	// And the whole cluster going down and up again. The pod object
	// outlives the node's restart, so the query is retried until the
	// kubelet has started postgres again.
	clustertest.Restart(t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pg3 := clustertest.ReadyPod(t, "postgres", "component=db")
		local, stop, err := tryPortForward(t, "postgres", pg3.Name, 5432)
		if err == nil {
			out, err = client(t, adminPW, "psql", "-h", "127.0.0.1", "-p", strconv.Itoa(local), "-U", "postgres", "-Atc", "select v from keep")
			stop()
			if err == nil && strings.TrimSpace(out) == "survives" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after down and up: %v: %s", err, out)
		}
		time.Sleep(2 * time.Second)
	}
}

// TestMariaDBAppAndDBInitForReal: the mysql app runs the MariaDB dev image
// for real; ghost's db-init Job creates ghost's database and user through
// the Service's DNS name; the mysql client of this machine logs in as
// ghost through a port-forward.
func TestMariaDBAppAndDBInitForReal(t *testing.T) {
	db := deployWithDependent(t, "mariadb", "mysql", "ghost")
	port := strconv.Itoa(forward(t, "mysql", db.Name, 3306))
	pw := secretValue(t, "ghost", "ghost-secrets", "dbPassword")
	out, err := client(t, []string{"MYSQL_PWD=" + pw}, "mysql", "-h", "127.0.0.1", "-P", port, "-u", "ghost",
		"--connect-timeout=10", "-N", "-B", "-e", "select database(), current_user()", "ghost")
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out), "ghost\tghost@") {
		t.Fatalf("mysql as ghost into database ghost: %v: %s", err, out)
	}
}

// TestSecretChangeRestartsRealPod: redis runs for real with its password
// from a Secret; after `wild secret set` and a deploy, a new container
// runs and answers only to the new password.
func TestSecretChangeRestartsRealPod(t *testing.T) {
	w := devInstance(t, "redis")
	w.ok("app", "add", "redis")
	w.ok("app", "deploy", "redis", "--timeout", "5m")
	old := clustertest.ReadyPod(t, "redis", "component=cache")
	onRealNode(t, old)
	w.ok("secret", "set", "apps.redis.password", "changed-by-the-test")
	w.ok("app", "deploy", "redis", "--timeout", "5m")
	fresh := waitNewPod(t, "redis", "component=cache", old.UID)
	// A just-started container can answer an exec with nothing at all
	// (seen under load); only PONG passes, within a bounded retry.
	var out string
	var err error
	for try := 0; try < 15; try++ {
		out, err = tryExec(t, "redis", fresh.Name, "sh", "-c", `REDISCLI_AUTH=changed-by-the-test redis-cli -p "$REDIS_PORT" ping`)
		if err == nil && strings.TrimSpace(out) != "" {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil || strings.TrimSpace(out) != "PONG" {
		t.Fatalf("new password on the new pod: %v: %s", err, out)
	}
}

// waitNewPod waits for a Ready pod matching selector other than old.
func waitNewPod(t *testing.T, ns, selector string, old types.UID) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		p := clustertest.ReadyPod(t, ns, selector)
		if p.UID != old {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s in %s was not replaced", selector, ns)
		}
		time.Sleep(time.Second)
	}
}
