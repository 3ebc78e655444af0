package kube

import (
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wild-cloud/wild/internal/clustertest"
)

// TestLiveStateCheckFollowsDrift: the listing vouches for an app only
// while every fingerprint matches; a hand edit, a changed Secret or a
// deleted object make it defer to the full diff, and a no-op apply
// repairs the deleted object.
func TestLiveStateCheckFollowsDrift(t *testing.T) {
	c := newClient(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "live")
	objs := objects(t, ns, webApp)
	data := map[string][]byte{"password": []byte("s3cret")}
	mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	if _, err := c.ApplySecret(testCtx(t), ns, "live-secrets", data, inv.Labels(), false); err != nil {
		t.Fatal(err)
	}
	// Every check follows a write of this test's, so it reads consistently:
	// ReadLiveState's watch cache may trail a write by milliseconds (CI
	// once saw the repaired Service's old state), which the product
	// accepts for a listing and a test cannot.
	check := func() AppCheck {
		t.Helper()
		ls, err := c.ReadConsistentLiveState(testCtx(t), inv.InstanceID)
		if err != nil {
			t.Fatal(err)
		}
		if !ls.Deployed(inv) || ls.NamespacePhase(ns) != PhaseActive {
			t.Fatalf("listing misses the app: deployed %v, namespace %s", ls.Deployed(inv), ls.NamespacePhase(ns))
		}
		return ls.Check(objs, inv, ns, "live-secrets", data)
	}
	if got := check(); !got.Known || !got.Clean || len(got.Statuses) != 3 {
		t.Fatalf("fresh apply: %+v, want known, clean, 3 statuses", got)
	}
	appOnly, err := c.ReadAppLiveState(testCtx(t), inv)
	if err != nil {
		t.Fatal(err)
	}
	if got := appOnly.Check(objs, inv, ns, "live-secrets", data); !got.Known || !got.Clean {
		t.Fatalf("the app's own listing: %+v, want known and clean", got)
	}
	other := testInventory(t, "live-other")
	mustApply(t, c, objects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: NS}\n"), ApplyOptions{Inventory: other})
	all, err := c.ReadConsistentLiveState(testCtx(t), inv.InstanceID)
	if err != nil {
		t.Fatal(err)
	}
	appOnly, err = c.ReadAppLiveState(testCtx(t), inv)
	if err != nil {
		t.Fatal(err)
	}
	if !all.Deployed(other) || appOnly.Deployed(other) {
		t.Fatalf("another app: in the instance listing %v (want true), in the app's own %v (want false)", all.Deployed(other), appOnly.Deployed(other))
	}

	if got := (func() AppCheck {
		other := map[string][]byte{"password": []byte("changed")}
		ls, _ := c.ReadConsistentLiveState(testCtx(t), inv.InstanceID)
		return ls.Check(objs, inv, ns, "live-secrets", other)
	})(); got.Clean {
		t.Fatal("a changed secrets.yaml value counted as clean")
	}

	patch := []byte(`{"spec":{"replicas":5}}`)
	if _, err := c.Clientset.AppsV1().Deployments(ns).Patch(testCtx(t), "web", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	if got := check(); got.Clean {
		t.Fatal("a hand-edited Deployment counted as clean")
	}
	mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	if got := check(); !got.Known || !got.Clean {
		t.Fatalf("after reconciling: %+v, want known and clean", got)
	}

	if err := c.Clientset.CoreV1().Services(ns).Delete(testCtx(t), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := check(); got.Known {
		t.Fatal("a deleted Service did not send the app to the full check")
	}
	res := mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	if actions(res)["Service/web"] != ActionCreated {
		t.Fatalf("a no-op apply did not repair the deleted Service: %+v", res.Changes)
	}
	if got := check(); !got.Known || !got.Clean {
		t.Fatalf("after the repair: %+v, want known and clean", got)
	}
}

// TestBuildCachedFollowsContent: a cached build is served only for the
// same files, and callers cannot change the cached copy.
func TestBuildCachedFollowsContent(t *testing.T) {
	t.Setenv("WILD_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kustomization.yaml", "resources: [cm.yaml]\nnamespace: one\n")
	write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {n: \"1\"}\n")
	first, err := BuildCached(dir)
	if err != nil || len(first) != 1 || first[0].GetNamespace() != "one" {
		t.Fatalf("first build: %v, %v", first, err)
	}
	first[0].SetNamespace("mutated")
	again, err := BuildCached(dir)
	if err != nil || again[0].GetNamespace() != "one" {
		t.Fatalf("cached build changed by a caller: %v, %v", again, err)
	}
	builds.Clear() // as a new process: from disk
	fromDisk, err := BuildCached(dir)
	if err != nil || fromDisk[0].GetNamespace() != "one" {
		t.Fatalf("build from the disk cache: %v, %v", fromDisk, err)
	}
	// The disk read is kept encoded: its first reuse decodes it, later
	// ones copy; neither sees what a caller did to its copy.
	fromDisk[0].SetNamespace("mutated")
	for i := range 2 {
		reused, err := BuildCached(dir)
		if err != nil || len(reused) != 1 || reused[0].GetNamespace() != "one" {
			t.Fatalf("reuse %d of a build read from disk: %v, %v", i+1, reused, err)
		}
		reused[0].SetNamespace("mutated")
	}
	write("kustomization.yaml", "resources: [cm.yaml]\nnamespace: two\n")
	changed, err := BuildCached(dir)
	if err != nil || changed[0].GetNamespace() != "two" {
		t.Fatalf("build after an edit: %v, %v", changed, err)
	}
}
