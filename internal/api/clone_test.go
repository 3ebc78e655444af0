package api_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/testutil"
)

// TestCloneThroughTheDaemon: POST clone answers bad input at once (400,
// 403, 404, 409) and otherwise runs as an operation that adds and deploys
// the app in the target instance, serving the target's host, while the
// source instance's files stay byte for byte the same.
func TestCloneThroughTheDaemon(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	d.setupAdmin()
	admin, op, read := d.token("admin"), d.token("operate"), d.token("read")
	kc, err := os.ReadFile(clustertest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, domain := range map[string]string{"home": "home.example.com", "lab": "lab.example.org", "lab2": "lab2.example.net"} {
		d.mustRun(admin, d.do("POST", "/api/v1/instances", admin, map[string]string{"name": name, "domain": domain, "kubeconfig": string(kc)}))
	}
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps", op, map[string]any{"name": "hello"}))
	d.mustRun(op, d.do("POST", "/api/v1/instances/home/apps/hello/backup", op, map[string]any{}))
	home := filepath.Join(d.data, "instances", "home")
	before := testutil.Tree(t, home)

	const ns, ns2 = "hello-clone-api", "hello-clone-repo"
	t.Cleanup(func() {
		for _, n := range []string{ns, ns2} {
			_ = clustertest.Client(t).CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	clone := "/api/v1/instances/lab/apps/hello/clone"
	body := map[string]any{"fromInstance": "home", "set": map[string]string{"namespace": ns}}
	for _, c := range []struct {
		token string
		body  map[string]any
		want  int
	}{
		{read, body, 403},
		{op, map[string]any{"fromInstance": "nope"}, 404},
		{op, map[string]any{"fromInstance": "../home"}, 400},
		{op, map[string]any{"fromInstance": "home", "from": "20000101T000000Z"}, 404},
		{op, map[string]any{"fromInstance": "lab"}, 400},
	} {
		if r := d.do("POST", clone, c.token, c.body); r.status != c.want || strings.Contains(r.body, "\\n") {
			t.Errorf("clone %v: %d %s, want %d", c.body, r.status, r.body, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(d.data, "instances", "lab", "apps", "hello")); !os.IsNotExist(err) {
		t.Fatalf("a refused clone added the app: %v", err)
	}

	d.mustRun(op, d.do("POST", clone, op, body))
	lab, err := instance.NewStore(d.data).Open("lab")
	if err != nil {
		t.Fatal(err)
	}
	internal, err := lab.GetConfig("cloud.internalDomain")
	if err != nil {
		t.Fatal(err)
	}
	ing, err := clustertest.Client(t).NetworkingV1().Ingresses(ns).Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the clone's Ingress: %v", err)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "hello."+internal.(string) {
		t.Errorf("the clone serves %+v, want hello.%s", ing.Spec.Rules, internal)
	}
	rec, err := backup.ReadCloneRecord(lab, "hello")
	if err != nil || rec == nil || rec.Status != "cloned" || rec.SourceInstance != "home" {
		t.Errorf("clone record %+v %v", rec, err)
	}
	if r := d.do("POST", clone, op, body); r.status != 409 {
		t.Errorf("a second clone of an app lab has: %d %s", r.status, r.body)
	}

	// From home's repository as a bare one (its path and password), as
	// from another machine: lab2 gets its own hello the same way.
	pw := secretValue(t, filepath.Join(home, "secrets.yaml"), "repositoryPassword")
	repo := map[string]any{"path": filepath.Join(d.data, "backups", "home"), "password": pw, "instance": "home"}
	bad := map[string]any{"path": filepath.Join(d.data, "backups", "nothing"), "password": pw, "instance": "home"}
	if r := d.do("POST", "/api/v1/instances/lab2/apps/hello/clone", op, map[string]any{"repository": bad}); r.status != 404 {
		t.Errorf("a clone from no repository: %d %s", r.status, r.body)
	}
	if _, err := os.Stat(filepath.Join(d.data, "backups", "nothing")); !os.IsNotExist(err) {
		t.Errorf("a clone from a missing repository created it: %v", err)
	}
	d.mustRun(op, d.do("POST", "/api/v1/instances/lab2/apps/hello/clone", op, map[string]any{"repository": repo, "set": map[string]string{"namespace": ns2}}))
	ing2, err := clustertest.Client(t).NetworkingV1().Ingresses(ns2).Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil || len(ing2.Spec.Rules) != 1 || !strings.HasSuffix(ing2.Spec.Rules[0].Host, ".lab2.example.net") {
		t.Errorf("the clone from the repository serves %v (%v), want lab2's host", ing2, err)
	}
	if after := testutil.Tree(t, home); after != before {
		t.Error("the clones changed the source instance's files")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.bodies {
		if strings.Contains(b, pw) {
			t.Fatalf("a response carries the repository password: %.200s", b)
		}
	}
}
