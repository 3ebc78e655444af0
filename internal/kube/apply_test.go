package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wild-cloud/wild/internal/clustertest"
)

const webApp = `
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: NS}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: example.invalid/web:1
        envFrom: [{configMapRef: {name: web-config}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`

func TestApplyCreatesLabelsThenUnchanged(t *testing.T) {
	c := newClient(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "web")
	objs := objects(t, ns, webApp)

	res := mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	for _, ch := range res.Changes {
		if ch.Action != ActionCreated {
			t.Errorf("first apply: %s is %s, want created", ch.Ref, ch.Action)
		}
	}
	if len(res.Changes) != 3 {
		t.Fatalf("first apply: %d changes, want 3: %+v", len(res.Changes), res.Changes)
	}
	if _, ok := objs[0].GetLabels()[LabelApp]; ok {
		t.Error("Apply modified the caller's objects")
	}
	dep, err := c.Clientset.AppsV1().Deployments(ns).Get(testCtx(t), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Labels[LabelApp] != "web" || dep.Labels[LabelInstanceID] != "test-instance-1" {
		t.Errorf("deployment labels = %v, want the inventory labels", dep.Labels)
	}
	refs, err := c.InventoryRefs(testCtx(t), inv)
	if err != nil || len(refs) != 3 {
		t.Fatalf("inventory = %v, %v; want 3 objects", refs, err)
	}

	// Let the controllers write status and defaults before re-applying.
	if err := c.Wait(testCtx(t), objs, time.Minute, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}
	for round := 1; round <= 2; round++ {
		res = mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
		if res.Changed() {
			t.Errorf("re-apply %d changed something: %+v", round, res.Changes)
		}
		if res.Count(ActionUnchanged) != 3 {
			t.Errorf("re-apply %d: %d unchanged, want 3", round, res.Count(ActionUnchanged))
		}
	}
	after, _ := c.Clientset.AppsV1().Deployments(ns).Get(testCtx(t), "web", metav1.GetOptions{})
	if after.Generation != dep.Generation {
		t.Errorf("re-apply bumped the deployment generation %d → %d", dep.Generation, after.Generation)
	}
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	c := newClient(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "dry")
	objs := objects(t, ns, webApp)

	res := mustApply(t, c, objs, ApplyOptions{DryRun: true, Prune: true, Inventory: inv})
	if !res.DryRun || res.Count(ActionCreated) != 3 {
		t.Fatalf("dry run = %+v, want 3 creates", res.Changes)
	}
	if _, err := c.Clientset.AppsV1().Deployments(ns).Get(testCtx(t), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run created the deployment (err=%v)", err)
	}
	mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	unstructured.SetNestedField(objs[1].Object, int64(5), "spec", "replicas")
	res = mustApply(t, c, objs, ApplyOptions{DryRun: true, Prune: true, Inventory: inv})
	if got := actions(res)["Deployment/web"]; got != ActionConfigured {
		t.Fatalf("dry run after replicas change: %s, want configured", got)
	}
	for _, ch := range res.Changes {
		if ch.Ref.Kind == "Deployment" && !strings.Contains(ch.Diff, "+  replicas: 5") {
			t.Errorf("dry-run diff does not show the new replicas:\n%s", ch.Diff)
		}
	}
	dep, _ := c.Clientset.AppsV1().Deployments(ns).Get(testCtx(t), "web", metav1.GetOptions{})
	if *dep.Spec.Replicas != 2 {
		t.Errorf("dry run changed replicas to %d", *dep.Spec.Replicas)
	}
}

func TestDiffDetectsDriftButNotControllerFields(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "drift")
	objs := objects(t, ns, webApp)
	mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	if err := c.Wait(ctx, objs, time.Minute, nil); err != nil {
		t.Fatal(err)
	}

	diffs, err := c.Diff(ctx, objs, inv)
	if err != nil {
		t.Fatal(err)
	}
	if Drifted(diffs) {
		t.Fatalf("fresh deploy reported as drifted (status/defaults counted?): %+v", diffs)
	}

	// Someone scales the deployment by hand (another field manager).
	dep, _ := c.Clientset.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	three := int32(3)
	dep.Spec.Replicas = &three
	if _, err := c.Clientset.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	diffs, err = c.Diff(ctx, objs, inv)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, d := range diffs {
		if d.Ref.Kind == "Deployment" {
			found = true
			if d.Action != ActionConfigured || !strings.Contains(d.Unified, "-  replicas: 3") || !strings.Contains(d.Unified, "+  replicas: 2") {
				t.Errorf("replicas drift: action %s, diff:\n%s", d.Action, d.Unified)
			}
			if strings.Contains(d.Unified, "status:") || strings.Contains(d.Unified, "managedFields") {
				t.Errorf("diff shows server-owned fields:\n%s", d.Unified)
			}
		} else if d.Action != ActionUnchanged {
			t.Errorf("%s: %s, want unchanged", d.Ref, d.Action)
		}
	}
	if !found {
		t.Fatal("no diff for the deployment")
	}

	res := mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	if got := actions(res)["Deployment/web"]; got != ActionConfigured {
		t.Errorf("deploy after drift: %s, want configured", got)
	}
	diffs, _ = c.Diff(ctx, objs, inv)
	if Drifted(diffs) {
		t.Errorf("still drifted after reconcile: %+v", diffs)
	}
}

func TestPruneRemovesDroppedObjectsOnly(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "prune")
	all := objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: keep, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dropped, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: adopted, namespace: NS}
`)
	mustApply(t, c, all, ApplyOptions{Prune: true, Inventory: inv})

	// Someone takes "adopted" over: it loses the app's labels.
	cm, _ := c.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "adopted", metav1.GetOptions{})
	delete(cm.Labels, LabelApp)
	if _, err := c.Clientset.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// And an object the app never created lives next to it.
	foreign := objects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign, namespace: NS}\n")[0]
	if _, err := c.Dynamic.Resource(cmGVR).Namespace(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	res := mustApply(t, c, all[:1], ApplyOptions{DryRun: true, Prune: true, Inventory: inv})
	if got := actions(res); got["ConfigMap/dropped"] != ActionPruned || got["ConfigMap/adopted"] != ActionSkipped {
		t.Fatalf("dry-run prune = %v", got)
	}
	if _, err := c.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "dropped", metav1.GetOptions{}); err != nil {
		t.Fatalf("dry-run prune deleted the object: %v", err)
	}

	res = mustApply(t, c, all[:1], ApplyOptions{Prune: true, Inventory: inv})
	got := actions(res)
	if got["ConfigMap/dropped"] != ActionPruned || got["ConfigMap/keep"] != ActionUnchanged || got["ConfigMap/adopted"] != ActionSkipped {
		t.Fatalf("prune = %v", got)
	}
	if _, ok := got["ConfigMap/foreign"]; ok {
		t.Error("prune considered an object the app never created")
	}
	for name, wantExists := range map[string]bool{"keep": true, "dropped": false, "adopted": true, "foreign": true} {
		_, err := c.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if exists := err == nil; exists != wantExists {
			t.Errorf("ConfigMap %s exists=%v, want %v (err %v)", name, exists, wantExists, err)
		}
	}
	refs, _ := c.InventoryRefs(ctx, inv)
	if len(refs) != 1 || refs[0].Name != "keep" {
		t.Errorf("inventory after prune = %v, want only keep", refs)
	}
}

const jobManifest = `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: NS}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: example.invalid/migrate:1
        env: [{name: VERSION, value: "1"}]
`

func TestJobUnchangedWhenCompletedRecreatedWhenChanged(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "job")
	objs := objects(t, ns, jobManifest)
	mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	// kstatus counts a started Job as Current; completion is what matters
	// here, and kwok completes Job pods.
	var before *batchv1.Job
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var err error
		before, err = c.Clientset.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		if err == nil && before.Status.Succeeded == 1 && before.Status.CompletionTime != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not completed after 1m: %v %+v", err, before.Status)
		}
	}

	res := mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	if got := actions(res)["Job/migrate"]; got != ActionUnchanged {
		t.Fatalf("completed unchanged job: %s, want unchanged", got)
	}

	unstructured.SetNestedSlice(objs[0].Object, []any{map[string]any{
		"name": "migrate", "image": "example.invalid/migrate:2",
		"env": []any{map[string]any{"name": "VERSION", "value": "2"}},
	}}, "spec", "template", "spec", "containers")
	diffs, err := c.Diff(ctx, objs, inv)
	if err != nil || len(diffs) != 1 || diffs[0].Action != ActionRecreated {
		t.Fatalf("diff of changed job = %+v, %v; want recreate", diffs, err)
	}
	res = mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	if got := actions(res)["Job/migrate"]; got != ActionRecreated {
		t.Fatalf("changed job: %s, want recreated", got)
	}
	after, err := c.Clientset.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID == before.UID || after.Spec.Template.Spec.Containers[0].Image != "example.invalid/migrate:2" {
		t.Errorf("job not recreated with the new spec: uid %s→%s image %s", before.UID, after.UID, after.Spec.Template.Spec.Containers[0].Image)
	}
}

func TestApplyStagesCRDBeforeCustomResource(t *testing.T) {
	c := newClient(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "crd")
	objs := objects(t, ns, `
apiVersion: example.wild-cloud.io/v1
kind: Widget
metadata: {name: w1, namespace: NS}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.wild-cloud.io}
spec:
  group: example.wild-cloud.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`)
	t.Cleanup(func() {
		gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		_ = c.Dynamic.Resource(gvr).Delete(context.Background(), "widgets.example.wild-cloud.io", metav1.DeleteOptions{})
	})
	res := mustApply(t, c, objs, ApplyOptions{DryRun: true, Inventory: inv})
	if got := actions(res); got["Widget/w1"] != ActionCreated || got["CustomResourceDefinition/widgets.example.wild-cloud.io"] != ActionCreated {
		t.Fatalf("dry run = %v", got)
	}
	res = mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	if res.Changes[0].Ref.Kind != "CustomResourceDefinition" || res.Count(ActionCreated) != 2 {
		t.Fatalf("apply = %+v, want the CRD first and both created", res.Changes)
	}
	res = mustApply(t, c, objs, ApplyOptions{Inventory: inv})
	if res.Changed() {
		t.Errorf("re-apply changed: %+v", res.Changes)
	}
}

// TestFastPathSeesTakeoverOfUngenerationedObjects: kinds without a
// generation (here a ConfigMap) are tokened by our field manager's owned
// fields. An Update by someone else takes a field over and must be seen
// and reverted; an unrelated change by another manager must not count.
func TestFastPathSeesTakeoverOfUngenerationedObjects(t *testing.T) {
	c := newClient(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "cm")
	objs := objects(t, ns, `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data:
  mode: production
`)
	mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	cms := c.Clientset.CoreV1().ConfigMaps(ns)

	// Someone else adds a key we do not own: not drift, and unchanged.
	cm, _ := cms.Get(testCtx(t), "settings", metav1.GetOptions{})
	cm.Data["extra"] = "theirs"
	if _, err := cms.Update(testCtx(t), cm, metav1.UpdateOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	if res := mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv}); res.Changed() {
		t.Fatalf("a field we do not own counted as a change: %+v", res.Changes)
	}

	// Someone else changes a field we own: drift, reverted by the apply.
	cm, _ = cms.Get(testCtx(t), "settings", metav1.GetOptions{})
	cm.Data["mode"] = "debug"
	if _, err := cms.Update(testCtx(t), cm, metav1.UpdateOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	res := mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	if res.Count(ActionConfigured) != 1 {
		t.Fatalf("taken-over field not reconciled: %+v", res.Changes)
	}
	cm, _ = cms.Get(testCtx(t), "settings", metav1.GetOptions{})
	if cm.Data["mode"] != "production" {
		t.Fatalf("mode = %q after apply", cm.Data["mode"])
	}
}
