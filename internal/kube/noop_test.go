package kube

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/clustertest"
)

// TestUnchangedFollowsFingerprints: the no-op check answers true only
// while every object, the app Secret and the namespace are as the last
// deploy left them; drift, a deleted object and an edited Secret each
// answer false (so the deploy runs in full), and a repairing apply makes
// it true again.
func TestUnchangedFollowsFingerprints(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "web")
	owner := Owner{Instance: "test", InstanceID: inv.InstanceID, App: inv.App}
	objs := objects(t, ns, webApp)
	data := map[string][]byte{"password": []byte("s3cret")}
	deploy := func() {
		t.Helper()
		if _, err := c.EnsureNamespace(ctx, ns, owner, false); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ApplySecret(ctx, ns, "web-secrets", data, inv.Labels(), false); err != nil {
			t.Fatal(err)
		}
		mustApply(t, c, objs, ApplyOptions{Prune: true, Inventory: inv})
	}
	state := DeployState{Inventory: inv, Objects: objs, Namespace: ns, Owner: owner, SecretName: "web-secrets", SecretData: data}
	expect := func(when string, want bool) {
		t.Helper()
		res, ok := c.Unchanged(ctx, state)
		if ok != want {
			t.Fatalf("%s: Unchanged = %v, want %v", when, ok, want)
		}
		if ok && len(res.Changes) != len(objs)+1 {
			t.Fatalf("%s: %d changes, want every object and the Secret: %+v", when, len(res.Changes), res.Changes)
		}
	}

	expect("before any deploy", false)
	deploy()
	if err := c.Wait(ctx, objs, time.Minute, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}
	expect("right after the deploy", true)

	deps := c.Clientset.AppsV1().Deployments(ns)
	scale, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("after the replicas drifted", false)
	deploy()
	expect("after the drift was reconciled", true)

	if err := c.Clientset.CoreV1().ConfigMaps(ns).Delete(ctx, "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("after an object was deleted", false)
	deploy()
	expect("after the object was recreated", true)

	sec, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, "web-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["password"] = []byte("edited")
	if _, err := c.Clientset.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("after the Secret was edited", false)
	deploy()
	expect("after the Secret was restored", true)

	// A missing optional source (a TLS certificate not issued yet) only
	// costs the deploy a warning; a missing required one is a change.
	state.Copies = []SecretSource{{Namespace: ns, Name: "no-such-tls", Optional: true}}
	if res, ok := c.Unchanged(ctx, state); !ok || len(res.Missing) != 1 {
		t.Fatalf("missing optional source: ok %v, result %+v", ok, res)
	}
	state.Copies[0].Optional = false
	expect("with a missing required source", false)
}
