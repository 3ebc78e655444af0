package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

var nsCounter atomic.Int64

// clusterEnv is an instance pointing at the shared test cluster, using the
// bundled catalog. Every app it adds gets a namespace unique to the test,
// so tests never see each other's objects.
type clusterEnv struct {
	Env
	t      *testing.T
	prefix string
	kc     kubernetes.Interface
}

func newClusterEnv(t *testing.T) *clusterEnv {
	t.Helper()
	s := gitmode.NewStore(t.TempDir())
	inst, err := s.Create(instance.CreateOptions{Name: "it", Domain: "example.com", Kubeconfig: clustertest.Kubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), ""))
	name = strings.TrimPrefix(name, "test")
	if len(name) > 20 {
		name = name[:20]
	}
	return &clusterEnv{
		Env:    Env{Instance: inst, Catalog: catalog.Bundled()},
		t:      t,
		prefix: fmt.Sprintf("%s%d", name, nsCounter.Add(1)),
		kc:     clustertest.Client(t),
	}
}

func (c *clusterEnv) ns(app string) string { return c.prefix + "-" + app }

func (c *clusterEnv) add(app string) {
	c.t.Helper()
	if _, err := (&Add{Env: c.Env, App: app, Set: map[string]string{"namespace": c.ns(app)}}).Run(context.Background()); err != nil {
		c.t.Fatalf("add %s: %v", app, err)
	}
}

func (c *clusterEnv) deploy(app string, mod ...func(*Deploy)) (*DeployResult, error) {
	d := &Deploy{Env: c.Env, App: app, Timeout: 90 * time.Second}
	for _, m := range mod {
		m(d)
	}
	return d.Run(context.Background())
}

func (c *clusterEnv) mustDeploy(app string, mod ...func(*Deploy)) *DeployResult {
	c.t.Helper()
	res, err := c.deploy(app, mod...)
	if err != nil {
		c.t.Fatalf("deploy %s: %v", app, err)
	}
	return res
}

func (c *clusterEnv) addAndDeploy(app string) {
	c.t.Helper()
	c.add(app)
	c.mustDeploy(app)
}

func (c *clusterEnv) secret(app, name string) *corev1.Secret {
	c.t.Helper()
	s, err := c.kc.CoreV1().Secrets(c.ns(app)).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatalf("secret %s/%s: %v", c.ns(app), name, err)
	}
	return s
}

func TestDeployWithDependency(t *testing.T) {
	c := newClusterEnv(t)
	c.add("postgres")
	c.add("gitea")
	res := c.mustDeploy("gitea", func(d *Deploy) { d.WithDeps = true })
	if !res.Ready || len(res.Deps) != 1 || res.Deps[0] != "postgres" {
		t.Fatalf("deploy result: ready=%v deps=%v", res.Ready, res.Deps)
	}
	// The app Secret holds exactly secrets.yaml's values, keyed by path.
	want, _ := secretData(c.Instance, "gitea")
	got := c.secret("gitea", "gitea-secrets").Data
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("secret keys: got %d want %d", len(got), len(want))
	}
	for k, v := range want {
		if string(got[k]) != string(v) {
			t.Errorf("gitea-secrets[%s] differs from secrets.yaml", k)
		}
	}
	// The dependency's Secret was copied because the db-init Job uses it.
	pgPass, _ := c.Instance.GetSecret("apps.postgres.password")
	if string(c.secret("gitea", "postgres-secrets").Data["password"]) != pgPass {
		t.Error("postgres-secrets not copied into gitea's namespace")
	}
	ns, err := c.kc.CoreV1().Namespaces().Get(context.Background(), c.ns("gitea"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := c.Instance.ID()
	var owned int
	for _, v := range ns.Annotations {
		if v == id || v == "gitea" {
			owned++
		}
	}
	if owned < 2 {
		t.Errorf("namespace lacks ownership annotations: %v", ns.Annotations)
	}
	dep, err := c.kc.AppsV1().Deployments(c.ns("gitea")).Get(context.Background(), "gitea", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"app": "gitea", "managedBy": "kustomize", "partOf": "wild-cloud"} {
		if dep.Labels[k] != v || dep.Spec.Selector.MatchLabels[k] != v {
			t.Errorf("kustomize label %s=%s missing on labels or selector", k, v)
		}
	}
	if dep.Status.AvailableReplicas < 1 {
		t.Error("gitea not available")
	}
	again := c.mustDeploy("gitea")
	if !again.Unchanged() {
		t.Errorf("redeploying an unchanged app changed: %+v", again.Changes)
	}
}

func TestDeployRefusesUndeployedDependency(t *testing.T) {
	c := newClusterEnv(t)
	c.add("postgres")
	c.add("vaultwarden")
	// --no-wait reads the dependency's workloads before its inventory
	// (deployOne.depState): their absence must still refuse.
	for _, noWait := range []bool{false, true} {
		_, err := c.deploy("vaultwarden", func(d *Deploy) { d.NoWait = noWait })
		var de *DependencyError
		if !errors.As(err, &de) || !strings.Contains(advice.Message(err), "wild app deploy postgres") {
			t.Fatalf("no-wait %v: want a dependency error naming the fix, got %v", noWait, err)
		}
	}
	if _, err := c.kc.CoreV1().Namespaces().Get(context.Background(), c.ns("vaultwarden"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("something was applied despite the failed pre-flight: %v", err)
	}
}

// TestDeployRefusesDependencyBeingDeleted: a dependency whose namespace
// is stuck Terminating is going away, whatever its inventory (kept in
// wild-system) and its workloads still show, so a dependent app refuses
// it with or without --no-wait, and the fix it names (deploying the
// dependency, which recovers the namespace) lets the app deploy.
func TestDeployRefusesDependencyBeingDeleted(t *testing.T) {
	c := newClusterEnv(t)
	c.add("postgres")
	c.add("vaultwarden")
	c.mustDeploy("postgres")
	ctx := context.Background()
	ns := c.ns("postgres")
	deleteHeld(t, c.kc, ns)
	for _, noWait := range []bool{false, true} {
		_, err := c.deploy("vaultwarden", func(d *Deploy) { d.NoWait = noWait })
		var de *DependencyError
		msg := advice.Message(err)
		if !errors.As(err, &de) || !strings.Contains(msg, "Terminating") || !strings.Contains(msg, "wild app deploy postgres") {
			t.Fatalf("no-wait %v: want a dependency error saying postgres is being deleted and naming the fix, got %v", noWait, err)
		}
	}
	if _, err := c.kc.CoreV1().Namespaces().Get(ctx, c.ns("vaultwarden"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("something was applied despite the failed pre-flight: %v", err)
	}
	c.mustDeploy("postgres")
	c.mustDeploy("vaultwarden")
}

// TestDeployRecoversNamespaceDeletedMidDeploy: the namespace is deleted
// (and held Terminating by a finalizer) after the deploy's namespace step
// made it ready, or after its secrets step, so the next writes are
// refused; the deploy recovers the namespace and writes again, once,
// instead of failing on the API server's refusal.
func TestDeployRecoversNamespaceDeletedMidDeploy(t *testing.T) {
	c := newClusterEnv(t)
	for app, after := range map[string]string{"hello": "namespace", "memcached": "secrets"} {
		t.Run("after "+after, func(t *testing.T) {
			c.add(app)
			ctx := context.Background()
			ns := c.ns(app)
			var once sync.Once
			restore := crashpoint.Set(func(point string) {
				if point == "deploy.after-"+after {
					once.Do(func() { deleteHeld(t, c.kc, ns) })
				}
			})
			defer restore()
			res := c.mustDeploy(app)
			if !res.Ready {
				t.Fatal("not ready after recovering the namespace")
			}
			if phase := nsPhase(t, c.kc, ns); phase != corev1.NamespaceActive {
				t.Fatalf("namespace %s is %s", ns, phase)
			}
			if _, err := c.kc.AppsV1().Deployments(ns).Get(ctx, app, metav1.GetOptions{}); err != nil {
				t.Fatalf("%s's deployment after the recovery: %v", app, err)
			}
			if !recordSays(t, c, app, res.Operation, "began terminating during the deploy") {
				t.Fatal("the deploy's record does not say what happened")
			}
		})
	}
}

// deleteHeld deletes namespace ns and holds it Terminating with a
// finalizer on an object in it.
func deleteHeld(t *testing.T, kc kubernetes.Interface, ns string) {
	ctx := context.Background()
	_, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "blocker", Finalizers: []string{"example.com/block"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Error(err)
	}
	if err := kc.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Error(err)
	}
	waitPhase(t, kc, ns, corev1.NamespaceTerminating)
}

// recordSays reports whether a step of operation id of app noted text.
func recordSays(t *testing.T, c *clusterEnv, app, id, text string) bool {
	t.Helper()
	recs, err := operation.List(c.Instance.Path(instance.OperationsDir), app)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		for _, st := range r.Steps {
			if r.ID == id && strings.Contains(st.Message, text) {
				return true
			}
		}
	}
	return false
}

// TestDeployRecoversTerminatingNamespace covers Edge Case 1: a namespace
// left Terminating by a finalizer is recovered with no manual step.
func TestDeployRecoversTerminatingNamespace(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	ns := c.ns("hello")
	deleteHeld(t, c.kc, ns)
	res := c.mustDeploy("hello")
	if !res.Ready {
		t.Fatal("not ready after recovering the namespace")
	}
	if phase := nsPhase(t, c.kc, ns); phase != corev1.NamespaceActive {
		t.Fatalf("namespace %s is %s", ns, phase)
	}
}

// TestDeleteThenDeployAtOnce covers Edge Case 2.
func TestDeleteThenDeployAtOnce(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	del, err := (&Delete{Env: c.Env, App: "hello"}).Run(context.Background())
	if err != nil || !del.ClusterCleaned {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if _, err := os.Stat(c.Instance.AppDir("hello")); !os.IsNotExist(err) {
		t.Fatal("local app dir survived delete")
	}
	if v, err := c.Instance.GetConfig("apps.hello"); err == nil {
		t.Fatalf("config survived delete: %v", v)
	}
	c.add("hello")
	if res := c.mustDeploy("hello"); !res.Ready {
		t.Fatal("redeploy after delete not ready")
	}
}

// TestSecretIsRestored covers Edge Case 4, and that a changed secret rolls
// the workloads that use it.
func TestSecretIsRestored(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("postgres")
	ctx := context.Background()
	s := c.secret("postgres", "postgres-secrets")
	s.Data["password"] = []byte("edited-by-hand")
	if _, err := c.kc.CoreV1().Secrets(c.ns("postgres")).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := (&Diff{Env: c.Env, App: "postgres"}).Run(ctx)
	if err != nil || !d.Drifted {
		t.Fatalf("a hand-edited secret is drift: %v %+v", err, d)
	}
	c.mustDeploy("postgres")
	want, _ := c.Instance.GetSecret("apps.postgres.password")
	if got := string(c.secret("postgres", "postgres-secrets").Data["password"]); got != want {
		t.Fatal("deploy did not restore the secret from secrets.yaml")
	}
	before := podTemplateAnnotations(t, c, "postgres", "postgres")
	if err := c.Instance.SetSecret("apps.postgres.password", "rotated-password-value-123"); err != nil {
		t.Fatal(err)
	}
	res := c.mustDeploy("postgres")
	if len(res.Restarted) == 0 {
		t.Fatal("a secret change did not restart its workloads")
	}
	if after := podTemplateAnnotations(t, c, "postgres", "postgres"); fmt.Sprint(after) == fmt.Sprint(before) {
		t.Fatal("pod template unchanged after a secret change")
	}
}

func TestDriftIsDetectedAndReconciled(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	ctx := context.Background()
	d, err := (&Diff{Env: c.Env, App: "hello"}).Run(ctx)
	if err != nil || d.Drifted {
		t.Fatalf("fresh deploy shows drift: %v %+v", err, d)
	}
	scale, err := c.kc.AppsV1().Deployments(c.ns("hello")).GetScale(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 4
	if _, err := c.kc.AppsV1().Deployments(c.ns("hello")).UpdateScale(ctx, "hello", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err = (&Diff{Env: c.Env, App: "hello"}).Run(ctx)
	if err != nil || !d.Drifted || !strings.Contains(fmt.Sprint(d.Objects), "replicas: 4") {
		t.Fatalf("replica drift not reported: %v %+v", err, d)
	}
	state := func() string {
		st, err := (&Status{Env: c.Env, App: "hello"}).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.State
	}
	waitFor(t, func() bool { return state() == StateDrifted })
	c.mustDeploy("hello")
	if s := state(); s != StateDeployed {
		t.Fatalf("status after the deploy = %s, want %s", s, StateDeployed)
	}
	dep, _ := c.kc.AppsV1().Deployments(c.ns("hello")).Get(ctx, "hello", metav1.GetOptions{})
	if *dep.Spec.Replicas == 4 {
		t.Fatal("deploy did not reconcile replicas")
	}
	if d, _ := (&Diff{Env: c.Env, App: "hello"}).Run(ctx); d.Drifted {
		t.Fatal("still drifted after deploy")
	}
}

func TestPruneRemovedResource(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	ctx := context.Background()
	if _, err := c.kc.NetworkingV1().Ingresses(c.ns("hello")).Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Fatalf("ingress missing before prune: %v", err)
	}
	kust := filepath.Join(c.Instance.AppDir("hello"), "kustomization.yaml")
	b, _ := os.ReadFile(kust)
	if !strings.Contains(string(b), "ingress.yaml") {
		t.Fatalf("test assumes hello has an ingress:\n%s", b)
	}
	os.WriteFile(kust, []byte(strings.Replace(string(b), "- ingress.yaml\n", "", 1)), 0o644)
	res := c.mustDeploy("hello")
	pruned := false
	for _, ch := range res.Changes {
		pruned = pruned || (ch.Action == kube.ActionPruned && ch.Ref.Kind == "Ingress")
	}
	if !pruned {
		t.Fatalf("ingress not reported pruned: %+v", res.Changes)
	}
	if _, err := c.kc.NetworkingV1().Ingresses(c.ns("hello")).Get(ctx, "hello", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ingress still there: %v", err)
	}
}

// TestConfigChangeRollsOut covers state 3a: a config change recompiles and
// rolls out a new pod template.
func TestConfigChangeRollsOut(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	ctx := context.Background()
	before, _ := c.kc.AppsV1().Deployments(c.ns("hello")).Get(ctx, "hello", metav1.GetOptions{})
	if err := c.Instance.SetConfig("apps.hello.image", "traefik/whoami:v1.10.4"); err != nil {
		t.Fatal(err)
	}
	dry := c.mustDeploy("hello", func(d *Deploy) { d.DryRun = true })
	if !strings.Contains(fmt.Sprint(dry.Changes), "traefik/whoami:v1.10.4") {
		t.Fatalf("dry run does not show the new image: %+v", dry.Changes)
	}
	b, _ := os.ReadFile(filepath.Join(c.Instance.AppDir("hello"), "deployment.yaml"))
	if strings.Contains(string(b), "v1.10.4") {
		t.Fatal("the dry run wrote the recompiled manifests")
	}
	res := c.mustDeploy("hello")
	if !res.Recompiled {
		t.Fatal("config change did not recompile")
	}
	after, _ := c.kc.AppsV1().Deployments(c.ns("hello")).Get(ctx, "hello", metav1.GetOptions{})
	if after.Spec.Template.Spec.Containers[0].Image != "traefik/whoami:v1.10.4" || after.Generation == before.Generation {
		t.Fatalf("no rollout: image %s, generation %d -> %d", after.Spec.Template.Spec.Containers[0].Image, before.Generation, after.Generation)
	}
}

func TestNamespaceOwnedByAnotherInstanceIsRefused(t *testing.T) {
	a := newClusterEnv(t)
	a.addAndDeploy("hello")
	b := newClusterEnv(t)
	if _, err := (&Add{Env: b.Env, App: "hello", Set: map[string]string{"namespace": a.ns("hello")}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := (&Deploy{Env: b.Env, App: "hello", Timeout: 30 * time.Second}).Run(context.Background())
	var oe *kube.OwnershipError
	if !errors.As(err, &oe) {
		t.Fatalf("deploying into another instance's namespace: %v", err)
	}
}

// TestDeleteWithUnreachableCluster: local state is always cleaned, and the
// result says the cluster was not.
func TestDeleteWithUnreachableCluster(t *testing.T) {
	c := newClusterEnv(t)
	c.add("hello")
	b, _ := os.ReadFile(c.Instance.Path(instance.KubeconfigFile))
	dead := regexp.MustCompile(`server: https://127\.0\.0\.1:\d+`).ReplaceAll(b, []byte("server: https://127.0.0.1:1"))
	os.WriteFile(c.Instance.Path(instance.KubeconfigFile), dead, 0o600)
	res, err := (&Delete{Env: c.Env, App: "hello"}).Run(context.Background())
	if err != nil {
		t.Fatalf("delete must succeed locally: %v", err)
	}
	if res.ClusterCleaned || !strings.Contains(res.ClusterDetail, "not cleaned") {
		t.Fatalf("result must say the cluster was not cleaned: %+v", res)
	}
	if _, err := os.Stat(c.Instance.AppDir("hello")); !os.IsNotExist(err) {
		t.Fatal("local state not cleaned")
	}
}

// TestAPIServerDiesMidDeploy stops the API server while a deploy waits;
// the deploy fails with a clear message and a failed record, and after a
// restart a redeploy converges.
func TestAPIServerDiesMidDeploy(t *testing.T) {
	c := newClusterEnv(t)
	c.add("hello")
	var stopped atomic.Bool
	_, err := c.deploy("hello", func(d *Deploy) {
		d.Timeout = 20 * time.Second
		d.Observer = event.Func(func(e event.Event) {
			// At the wait's start, not at its first status: a small app
			// may already be Current then, and the deploy done.
			if e.Kind == event.PhaseStarted && e.Phase == "wait" && stopped.CompareAndSwap(false, true) {
				clustertest.StopAPIServer(t)
			}
		})
	})
	if !stopped.Load() {
		t.Fatal("the deploy never reached the wait")
	}
	if err == nil || !strings.Contains(err.Error(), "cannot reach the cluster") && !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("want a clear failure, got %v", err)
	}
	recs, _ := operation.List(c.Instance.Path(instance.OperationsDir), "hello")
	if len(recs) == 0 || recs[0].Action != "deploy" || recs[0].Status != operation.Failed || recs[0].Error == "" {
		t.Fatalf("want a failed deploy record, got %+v", recs)
	}
	clustertest.StartAPIServer(t)
	if res := c.mustDeploy("hello"); !res.Ready {
		t.Fatal("redeploy after the API server came back did not converge")
	}
}

// TestEveryCatalogAppWithAVolumeBecomesReady deploys each bundled app
// that has a PVC; the dev cluster's provisioner must bind them all.
func TestEveryCatalogAppWithAVolumeBecomesReady(t *testing.T) {
	c := newClusterEnv(t)
	pkgs, _ := c.Catalog.List()
	for _, p := range dependencyOrder(t, pkgs) {
		c.add(p.Name)
	}
	for _, p := range dependencyOrder(t, pkgs) {
		files, _ := p.Files()
		if !strings.Contains(strings.Join(files, ","), "pvc.yaml") {
			continue
		}
		res := c.mustDeploy(p.Name, func(d *Deploy) { d.WithDeps = true })
		if !res.Ready {
			t.Errorf("%s not ready", p.Name)
		}
		pvcs, err := c.kc.CoreV1().PersistentVolumeClaims(c.ns(p.Name)).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(pvcs.Items) == 0 {
			t.Fatalf("%s: no PVCs (%v)", p.Name, err)
		}
		for _, pvc := range pvcs.Items {
			if pvc.Status.Phase != corev1.ClaimBound {
				t.Errorf("%s: PVC %s is %s", p.Name, pvc.Name, pvc.Status.Phase)
			}
		}
	}
}

func podTemplateAnnotations(t *testing.T, c *clusterEnv, app, name string) map[string]string {
	dep, err := c.kc.AppsV1().Deployments(c.ns(app)).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dep.Spec.Template.Annotations
}

func nsPhase(t *testing.T, kc kubernetes.Interface, ns string) corev1.NamespacePhase {
	n, err := kc.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n.Status.Phase
}

func waitPhase(t *testing.T, kc kubernetes.Interface, ns string, want corev1.NamespacePhase) {
	deadline := time.Now().Add(20 * time.Second)
	for nsPhase(t, kc, ns) != want {
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s never reached %s", ns, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestNoopDeploySkipsWritesAndRepairs: a redeploy with nothing changed
// takes the no-op check (one round of reads) and reports every object
// unchanged; a redeploy after an object was deleted or relabeled by hand
// still recreates or relabels it.
func TestNoopDeploySkipsWritesAndRepairs(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	ctx := context.Background()
	noop := func(res *DeployResult) bool {
		recs, err := operation.List(c.Instance.Path(instance.OperationsDir), "hello")
		if err != nil || len(recs) == 0 || recs[0].ID != res.Operation {
			t.Fatalf("operation record of %s: %v %v", res.Operation, err, recs)
		}
		for _, s := range recs[0].Steps {
			if s.Name == "apply" {
				return false
			}
		}
		return true
	}
	res := c.mustDeploy("hello")
	if kube.AnyChanged(res.Changes) || !noop(res) || !res.Ready {
		t.Fatalf("redeploy of an unchanged app: noop=%v ready=%v changes %+v", noop(res), res.Ready, res.Changes)
	}

	svcs := c.kc.CoreV1().Services(c.ns("hello"))
	if err := svcs.Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res = c.mustDeploy("hello")
	if noop(res) {
		t.Fatal("a redeploy after a deleted Service took the no-op path")
	}
	if _, err := svcs.Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Fatalf("the deleted Service was not recreated: %v", err)
	}

	deps := c.kc.AppsV1().Deployments(c.ns("hello"))
	dep, err := deps.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(dep.Labels, kube.LabelApp)
	if _, err := deps.Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res = c.mustDeploy("hello")
	if noop(res) {
		t.Fatal("a redeploy after a relabeled Deployment took the no-op path")
	}
	if dep, _ = deps.Get(ctx, "hello", metav1.GetOptions{}); dep.Labels[kube.LabelApp] != "hello" {
		t.Fatalf("the app label was not restored: %v", dep.Labels)
	}
	if res = c.mustDeploy("hello"); !noop(res) {
		t.Fatalf("a redeploy after the repair did not take the no-op path: %+v", res.Changes)
	}
}

// TestNoopOfManyAppsReadsOneListing: a deploy of several unchanged apps
// answers every app's no-op check from one consistent listing, and still
// repairs what changed: a Service deleted just before the run, and the
// copy of a dependency's Secret that the dependency's own deploy changes
// earlier in the same run (a check read before that write is not used).
func TestNoopOfManyAppsReadsOneListing(t *testing.T) {
	c := newClusterEnv(t)
	ctx := context.Background()
	apps := []string{"postgres", "gitea", "hello"}
	for _, a := range apps {
		c.add(a)
	}
	wait := true
	run := func() map[string]operation.Record {
		t.Helper()
		res, err := (&Deploy{Env: c.Env, NoWait: true, Timeout: 90 * time.Second, waitListing: wait}).RunMany(ctx, apps)
		if err != nil || len(res) != len(apps) {
			t.Fatalf("deploy %v: %v (%d results)", apps, err, len(res))
		}
		recs := map[string]operation.Record{}
		for _, r := range res {
			rec, err := operation.Get(c.Instance.Path(instance.OperationsDir), r.Operation)
			if err != nil {
				t.Fatal(err)
			}
			recs[r.App] = rec
		}
		return recs
	}
	step := func(rec operation.Record, name string) *operation.Step {
		for i := range rec.Steps {
			if rec.Steps[i].Name == name {
				return &rec.Steps[i]
			}
		}
		return nil
	}
	listed := func(rec operation.Record) bool {
		s := step(rec, "check")
		return s != nil && step(rec, "apply") == nil && strings.Contains(s.Message, "in one listing")
	}
	run()
	for app, rec := range run() {
		if !listed(rec) {
			t.Errorf("%s: an unchanged app was not answered from the listing: %+v", app, rec.Steps)
		}
	}
	// Without waiting, an app whose turn comes before the listing is
	// done reads for itself: every app still takes the no-op path.
	wait = false
	for app, rec := range run() {
		if step(rec, "check") == nil || step(rec, "apply") != nil {
			t.Errorf("%s: an unchanged app did not take the no-op path: %+v", app, rec.Steps)
		}
	}
	wait = true

	svcs := c.kc.CoreV1().Services(c.ns("hello"))
	if err := svcs.Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	recs := run()
	if step(recs["hello"], "apply") == nil {
		t.Fatalf("a Service deleted before the run was not repaired: %+v", recs["hello"].Steps)
	}
	if _, err := svcs.Get(ctx, "hello", metav1.GetOptions{}); err != nil {
		t.Fatalf("the deleted Service was not recreated: %v", err)
	}
	if !listed(recs["postgres"]) || !listed(recs["gitea"]) {
		t.Error("the untouched apps did not keep the listing's answer")
	}

	if err := c.Instance.SetSecret("apps.postgres.password", "changed-in-this-run"); err != nil {
		t.Fatal(err)
	}
	recs = run()
	if step(recs["postgres"], "apply") == nil && step(recs["postgres"], "secrets") == nil {
		t.Fatalf("postgres's changed Secret was not written: %+v", recs["postgres"].Steps)
	}
	if listed(recs["gitea"]) {
		t.Error("gitea used a check read before postgres's Secret changed in the same run")
	}
	if got := string(c.secret("gitea", "postgres-secrets").Data["password"]); got != "changed-in-this-run" {
		t.Errorf("gitea's copy of postgres-secrets holds %q, not the new password", got)
	}
}

// TestNoWaitWarnsOfAnUnreadyDependency: under --no-wait a dependency that
// is deployed but not ready is a warning, not a failure, read again at
// each deploy (Client.Ready), including a no-op.
func TestNoWaitWarnsOfAnUnreadyDependency(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("postgres")
	c.add("gitea")
	noWait := func(d *Deploy) { d.NoWait = true }
	warned := func(res *DeployResult) bool {
		for _, w := range res.Warnings {
			if strings.Contains(w, "dependency postgres is deployed but not ready yet") {
				return true
			}
		}
		return false
	}
	if res := c.mustDeploy("gitea", noWait); warned(res) {
		t.Fatalf("a ready dependency was reported not ready: %v", res.Warnings)
	}
	// A pod that can never be scheduled keeps postgres's rollout from
	// finishing: the Deployment is no longer Current.
	patch := []byte(`{"spec":{"template":{"spec":{"nodeSelector":{"wild-test/nowhere":"true"}}}}}`)
	if _, err := c.kc.AppsV1().Deployments(c.ns("postgres")).Patch(context.Background(), "postgres", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	res := c.mustDeploy("gitea", noWait)
	if !warned(res) {
		t.Fatalf("no warning for a dependency whose rollout cannot finish: %v", res.Warnings)
	}
	if !res.Unchanged() {
		t.Fatalf("the warning changed the deploy: %+v", res.Changes)
	}
	// Without its workload, postgres is still deployed by its inventory's
	// account: not ready, not missing.
	if err := c.kc.AppsV1().Deployments(c.ns("postgres")).Delete(context.Background(), "postgres", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := c.mustDeploy("gitea", noWait); !warned(res) {
		t.Fatalf("no warning for a dependency whose workload was deleted: %v", res.Warnings)
	}
}

// TestDeployRecordIsWrittenBeforeItsFirstChange: a deploy writes its
// running record before its first step that writes to the cluster, so a
// crash there leaves a record saying how far it got; a no-op redeploy,
// which writes nothing, writes its record only at its end.
func TestDeployRecordIsWrittenBeforeItsFirstChange(t *testing.T) {
	c := newClusterEnv(t)
	c.add("hello")
	ops := c.Instance.Path(instance.OperationsDir)
	running := func() bool {
		recs, err := operation.List(ops, "hello")
		return err == nil && len(recs) > 0 && recs[0].Status == operation.Running
	}
	seen := map[string]bool{} // phase -> a running record existed when it started
	watch := func(d *Deploy) {
		d.Observer = event.Func(func(e event.Event) {
			if e.Kind == event.PhaseStarted {
				seen[e.Phase] = running()
			}
		})
	}
	c.mustDeploy("hello", watch)
	for _, phase := range []string{"namespace", "secrets", "apply"} {
		if !seen[phase] {
			t.Errorf("the first deploy's %s step started without a running record (%v)", phase, seen)
		}
	}
	clear(seen)
	res := c.mustDeploy("hello", watch)
	if !res.Unchanged() {
		t.Fatalf("the redeploy changed something: %+v", res.Changes)
	}
	if seen["check"] || seen["apply"] {
		t.Errorf("the no-op redeploy wrote a running record (%v)", seen)
	}
	recs, err := operation.List(ops, "hello")
	if err != nil || len(recs) < 2 || recs[0].ID != res.Operation || recs[0].Status != operation.Succeeded {
		t.Fatalf("the no-op's final record: %+v %v", recs, err)
	}
}
