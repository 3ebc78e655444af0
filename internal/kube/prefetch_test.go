package kube

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/clustertest"
)

// TestPrefetchedInventoryIsReadOnce: the next read of a prefetched
// inventory gets the prefetched answer, even when another writer changed
// the inventory since; the read after it asks the server again. Drop and
// a write of the inventory discard an unused answer.
func TestPrefetchedInventoryIsReadOnce(t *testing.T) {
	c, ctx, ns, inv := inventoryTest(t, "prefetch")
	mustApply(t, c, objects(t, ns, webApp), ApplyOptions{Prune: true, Inventory: inv})
	recorded := inventoryLen(t, c, inv)
	if recorded != 3 {
		t.Fatalf("the apply recorded %d objects, want 3", recorded)
	}
	cms := c.Clientset.CoreV1().ConfigMaps(InventoryNamespace)
	setRaw := func(raw string) { // another writer's edit
		t.Helper()
		cm, err := cms.Get(ctx, inv.Name(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data[inventoryKey] = raw
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	prefetch := func() func() {
		t.Helper()
		drop := c.PrefetchInventory(ctx, inv)
		c.prefetch.reads[inv.Name()].get() // answered before the edit below
		return drop
	}

	drop := prefetch()
	defer drop()
	setRaw(`{"entries":[]}`)
	if n := inventoryLen(t, c, inv); n != recorded {
		t.Errorf("the read after the prefetch found %d entries, want the prefetched %d", n, recorded)
	}
	if n := inventoryLen(t, c, inv); n != 0 {
		t.Errorf("the second read found %d entries, want the edited 0", n)
	}

	drop = prefetch()
	setRaw(`{"entries":[{"ref":{"version":"v1","kind":"ConfigMap","namespace":"` + ns + `","name":"web-config"}}]}`)
	drop()
	if n := inventoryLen(t, c, inv); n != 1 {
		t.Errorf("after drop the read found %d entries, want the edited 1", n)
	}

	prefetch()
	if err := c.writeInventory(ctx, inv, nil); err != nil {
		t.Fatal(err)
	}
	if n := inventoryLen(t, c, inv); n != 0 {
		t.Errorf("after a write the read found %d entries, want the written 0", n)
	}
}

func inventoryLen(t *testing.T, c *Client, inv Inventory) int {
	t.Helper()
	refs, err := c.InventoryRefs(testCtx(t), inv)
	if err != nil {
		t.Fatal(err)
	}
	return len(refs)
}

// TestReadyTellsDeployed: Ready's deployed answer is true only while
// every object exists with the inventory's labels, the evidence a
// dependency check takes instead of reading the inventory.
func TestReadyTellsDeployed(t *testing.T) {
	c, ctx, ns, inv := inventoryTest(t, "readydeployed")
	objs := objects(t, ns, webApp)
	set := ReadinessSet(objs)
	if len(set) != 1 || set[0].GetKind() != "Deployment" {
		t.Fatalf("readiness set %v, want the Deployment", set)
	}
	// Ready reads from etcd, so each answer follows the write before it.
	expect := func(when string, inv Inventory, want bool) {
		t.Helper()
		if _, deployed, err := c.Ready(ctx, set, inv); err != nil || deployed != want {
			t.Fatalf("%s: deployed = %v (err %v), want %v", when, deployed, err, want)
		}
	}
	expect("before any apply", inv, false)
	mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	expect("right after the apply", inv, true)
	expect("objects of another app's inventory", Inventory{App: "other", InstanceID: inv.InstanceID}, false)
	if err := c.Clientset.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("right after the Deployment was deleted", inv, false)
}

// inventoryTest is a client, a namespace and an inventory of app's own,
// deleted when the test ends (inventories live in wild-system, which
// tests share).
func inventoryTest(t *testing.T, app string) (*Client, context.Context, string, Inventory) {
	t.Helper()
	c := newClient(t)
	inv := testInventory(t, app)
	t.Cleanup(func() { _ = c.deleteInventory(context.Background(), inv) })
	return c, testCtx(t), clustertest.Namespace(t), inv
}
