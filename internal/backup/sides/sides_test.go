package sides_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/side"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

type fixture struct {
	t    *testing.T
	ctx  context.Context
	inst *instance.Instance
	cs   kubernetes.Interface
	id   string
}

// newFixture creates an instance on the local cluster.
func newFixture(t *testing.T, name, domain string) *fixture {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	inst, err := instance.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: name, Domain: domain, Kubeconfig: clustertest.Kubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := inst.ID()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, inst: inst, cs: clustertest.Client(t), id: id}
}

func (f *fixture) lenv() lifecycle.Env {
	return lifecycle.Env{Instance: f.inst, Catalog: catalog.Bundled()}
}

func (f *fixture) benv() backup.Env {
	return backup.Env{Instance: f.inst, Open: kopiastore.Open}
}

func (f *fixture) deploy() *lifecycle.DeployResult {
	f.t.Helper()
	res, err := (&lifecycle.Deploy{Env: f.lenv(), App: "hello"}).Run(f.ctx)
	if err != nil {
		f.t.Fatalf("deploy: %v", err)
	}
	return res
}

func (f *fixture) replicas(ns string) int32 {
	f.t.Helper()
	d, err := f.cs.AppsV1().Deployments(ns).Get(f.ctx, "hello", metav1.GetOptions{})
	if err != nil {
		f.t.Fatalf("deployment hello in %s: %v", ns, err)
	}
	return *d.Spec.Replicas
}

func (f *fixture) inventoryExists(app string) bool {
	f.t.Helper()
	name := kube.Inventory{App: app, InstanceID: f.id}.Name()
	_, err := f.cs.CoreV1().ConfigMaps(kube.InventoryNamespace).Get(f.ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		f.t.Fatal(err)
	}
	return err == nil
}

// gone says whether namespace ns is deleted or on its way out.
func (f *fixture) gone(ns string) bool {
	f.t.Helper()
	n, err := f.cs.CoreV1().Namespaces().Get(f.ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return n.DeletionTimestamp != nil
}

// After a restore and a switch, the app is its green copy: deploy, a
// config change, drift repair, status and delete all act on green, the
// retired original is left alone until cleanup, and cleanup removes it
// with its inventory record.
func TestLifecycleFollowsTheSwitchedSide(t *testing.T) {
	f := newFixture(t, "home", "wild.test")
	ctx, inst := f.ctx, f.inst
	if _, err := lifecycle.EnsureDevCertificates(ctx, inst); err != nil {
		t.Fatal(err)
	}
	if _, err := (&lifecycle.Add{Env: f.lenv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if res := f.deploy(); res.Namespace != "hello" {
		t.Fatalf("first deploy went to %q", res.Namespace)
	}
	if _, err := (&backup.Backup{Env: f.benv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatalf("backup: %v", err)
	}
	rr, err := (&backup.Restore{Env: f.benv(), App: "hello", Timeout: 2 * time.Minute}).Run(ctx)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rr.Namespace != "hello-green" {
		t.Fatalf("restored into %q", rr.Namespace)
	}
	if _, err := f.cs.CoreV1().Secrets("hello-green").Get(ctx, "wildcard-internal-wild-cloud-tls", metav1.GetOptions{}); err != nil {
		t.Errorf("the standby lacks the wildcard certificate its Ingress names: %v", err)
	}
	if _, err := (&backup.Switch{Env: f.benv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatalf("switch: %v", err)
	}

	// A deploy lands on green and leaves the retired original alone.
	if res := f.deploy(); res.Namespace != "hello-green" {
		t.Fatalf("deploy after the switch went to %q, want hello-green", res.Namespace)
	}
	if f.gone("hello") || !f.inventoryExists("hello") {
		t.Fatal("a deploy after the switch pruned the retired side before cleanup")
	}
	// A config change reaches green only.
	if err := inst.SetConfig("apps.hello.replicas", "3"); err != nil {
		t.Fatal(err)
	}
	f.deploy()
	if g, b := f.replicas("hello-green"), f.replicas("hello"); g != 3 || b != 1 {
		t.Fatalf("replicas after a config change: green %d, retired %d; want 3 and 1", g, b)
	}
	// Drift on green is seen and repaired there.
	if err := f.cs.CoreV1().Services("hello-green").Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := (&lifecycle.Status{Env: f.lenv(), App: "hello"}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Side != "green" || st.Cluster.Namespace != "hello-green" || st.State == lifecycle.StateDeployed {
		t.Fatalf("status after deleting green's Service: side %q namespace %q state %q", st.Side, st.Cluster.Namespace, st.State)
	}
	f.deploy()
	if _, err := f.cs.CoreV1().Services("hello-green").Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Fatalf("a deploy did not repair green's Service: %v", err)
	}
	ing, err := f.cs.NetworkingV1().Ingresses("hello-green").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil || ing.Spec.Rules[0].Host != "hello.internal.wild.test" {
		t.Fatalf("green's Ingress after redeploys: %v %+v", err, ing)
	}

	// Cleanup removes the retired side and its record, not green's.
	if _, err := (&backup.Cleanup{Env: f.benv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if !f.gone("hello") || f.inventoryExists("hello") || !f.inventoryExists("hello-green") {
		t.Fatalf("after cleanup: retired gone %v, retired inventory %v, green inventory %v", f.gone("hello"), f.inventoryExists("hello"), f.inventoryExists("hello-green"))
	}

	// Delete removes green and forgets the side: a new add starts over.
	if _, err := (&lifecycle.Delete{Env: f.lenv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if !f.gone("hello-green") || f.inventoryExists("hello-green") {
		t.Fatal("delete left the green copy")
	}
	if _, err := os.Stat(inst.Path(side.Path("hello"))); !os.IsNotExist(err) {
		t.Fatalf("delete kept %s: %v", side.Path("hello"), err)
	}
	waitGone(t, f, "hello")
	if _, err := (&lifecycle.Add{Env: f.lenv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if res := f.deploy(); res.Namespace != "hello" {
		t.Fatalf("a new add after delete deployed into %q", res.Namespace)
	}
}

// Delete after a restore that was never switched removes the standby
// too, and its plan says so first.
func TestDeleteRemovesAStandby(t *testing.T) {
	f := newFixture(t, "other", "other.test")
	ctx := f.ctx
	waitGone(t, f, "hello-green") // another test's copy may be on its way out
	if _, err := (&lifecycle.Add{Env: f.lenv(), App: "hello", Set: map[string]string{"namespace": "hello2"}}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if res := f.deploy(); res.Namespace != "hello2" {
		t.Fatalf("deployed into %q", res.Namespace)
	}
	if _, err := (&backup.Backup{Env: f.benv(), App: "hello"}).Run(ctx); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if _, err := (&backup.Restore{Env: f.benv(), App: "hello", Timeout: 2 * time.Minute}).Run(ctx); err != nil {
		t.Fatalf("restore: %v", err)
	}
	del := &lifecycle.Delete{Env: f.lenv(), App: "hello"}
	plan, err := del.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Namespace != "hello2" || len(plan.Copies) != 1 || plan.Copies[0] != "hello-green" {
		t.Fatalf("delete plan: namespace %q, copies %v; want hello2 and [hello-green]", plan.Namespace, plan.Copies)
	}
	res, err := del.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !f.gone("hello2") || !f.gone("hello-green") || f.inventoryExists("hello-green") || f.inventoryExists("hello") {
		t.Fatalf("delete left a copy: %+v", res)
	}
	if !strings.Contains(res.ClusterDetail, "hello-green") {
		t.Errorf("the result does not say the standby went: %q", res.ClusterDetail)
	}
}

func waitGone(t *testing.T, f *fixture, ns string) {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if _, err := f.cs.CoreV1().Namespaces().Get(f.ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
	}
	t.Fatalf("namespace %s still there after 2 minutes", ns)
}
