package kube

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/wild-cloud/wild/internal/cli/advice"
)

func TestStampSecretHash(t *testing.T) {
	objs := objects(t, "ns", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: env-ref, namespace: NS}
spec:
  template:
    spec:
      containers: [{name: a, env: [{name: P, valueFrom: {secretKeyRef: {name: app-secrets, key: p}}}]}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: volume-ref, namespace: NS}
spec:
  template:
    spec:
      containers: [{name: a}]
      volumes: [{name: s, secret: {secretName: app-secrets}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: envfrom-init, namespace: NS}
spec:
  template:
    spec:
      initContainers: [{name: i, envFrom: [{secretRef: {name: app-secrets}}]}]
      containers: [{name: a}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other-secret, namespace: NS}
spec:
  template:
    spec:
      containers: [{name: a, envFrom: [{secretRef: {name: postgres-secrets}}]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: job, namespace: NS}
spec:
  template:
    spec:
      containers: [{name: a, envFrom: [{secretRef: {name: app-secrets}}]}]
`)
	h1 := SecretHash(map[string][]byte{"p": []byte("one")})
	if h1 != SecretHash(map[string][]byte{"p": []byte("one")}) || h1 == SecretHash(map[string][]byte{"p": []byte("two")}) {
		t.Fatal("SecretHash is not a stable fingerprint of the data")
	}
	// Length prefixes: moving bytes between key and value changes the hash.
	if SecretHash(map[string][]byte{"ab": []byte("c")}) == SecretHash(map[string][]byte{"a": []byte("bc")}) {
		t.Fatal("SecretHash confuses key and value boundaries")
	}
	stamped := StampSecretHash(objs, "app-secrets", h1)
	want := []string{"Deployment/ns/env-ref", "StatefulSet/ns/volume-ref", "DaemonSet/ns/envfrom-init"}
	if strings.Join(stamped, ",") != strings.Join(want, ",") {
		t.Fatalf("stamped %v, want %v", stamped, want)
	}
	ann := objs[0].Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[SecretHashAnnotation("app-secrets")] != h1 {
		t.Errorf("annotation = %v", ann)
	}
	if strings.Contains(h1, "one") {
		t.Error("hash contains the value")
	}
}

func TestUnifiedDiff(t *testing.T) {
	from := "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 10\n"
	to := strings.Replace(from, "b: 2", "b: 20", 1) + "k: 11\n"
	got := unifiedDiff(ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "x"}, from, to)
	want := `--- live/ConfigMap/ns/x
+++ desired/ConfigMap/ns/x
@@ -1,5 +1,5 @@
 a: 1
-b: 2
+b: 20
 c: 3
 d: 4
 e: 5
@@ -8,3 +8,4 @@
 h: 8
 i: 9
 j: 10
+k: 11
`
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if created := unifiedDiff(ObjectRef{Kind: "A", Name: "b"}, "", "x: 1\n"); !strings.Contains(created, "@@ -0,0 +1,1 @@\n+x: 1") {
		t.Errorf("creation diff:\n%s", created)
	}
}

func TestUnreachableClusterError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more: connection refused
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://` + addr + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.NamespacePhase(ctx, "x")
	want := "cannot reach the cluster at https://" + addr + " (connection refused); is it running? for the local cluster: wild dev cluster status"
	if err == nil || !strings.Contains(advice.Message(err), want) || strings.Contains(err.Error(), "\n") || !IsUnreachable(err) {
		t.Fatalf("err = %v\nwant one line containing %q", err, want)
	}

	_, err = NewClient(filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing kubeconfig: %v", err)
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"kustomization.yaml": "namespace: demo\nlabels:\n- pairs: {app: demo}\n  includeSelectors: true\nresources: [deploy.yaml]\n",
		"deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: demo}
spec:
  template:
    spec:
      containers: [{name: a, image: x}]
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetNamespace() != "demo" || objs[0].GetLabels()["app"] != "demo" {
		t.Fatalf("built %+v", objs)
	}
	sel := objs[0].Object["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
	if sel["app"] != "demo" {
		t.Errorf("kustomize selector not applied: %v", sel)
	}
	if _, err := Build(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing dir: %v", err)
	}
}

// Issue 10 item 11: a kustomization naming a remote resource is refused
// before krusty would fetch it.
func TestBuildRefusesRemoteResources(t *testing.T) {
	for _, res := range []string{"https://example.com/x.yaml", "github.com/org/repo//dir?ref=v1", "git@github.com:org/repo.git", "ssh://git@example.com/r.git"} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "base"), 0o755)
		os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n  - base\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "base", "kustomization.yaml"), []byte("resources:\n  - "+res+"\n"), 0o644)
		_, err := Build(dir)
		if err == nil || !strings.Contains(err.Error(), "remote resource") || !strings.Contains(err.Error(), "base/kustomization.yaml") {
			t.Fatalf("%s: %v", res, err)
		}
	}
}

// A dependency's readiness is read from its workloads alone, or from all
// its objects when it has none.
func TestReadinessSet(t *testing.T) {
	obj := func(kind string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetName(strings.ToLower(kind))
		return u
	}
	kinds := func(objs []*unstructured.Unstructured) string {
		var ks []string
		for _, o := range objs {
			ks = append(ks, o.GetKind())
		}
		return strings.Join(ks, ",")
	}
	db := []*unstructured.Unstructured{obj("Namespace"), obj("Service"), obj("PersistentVolumeClaim"), obj("StatefulSet"), obj("Job")}
	if got := kinds(ReadinessSet(db)); got != "StatefulSet,Job" {
		t.Errorf("readiness of a database app reads %s", got)
	}
	config := []*unstructured.Unstructured{obj("Namespace"), obj("ConfigMap")}
	if got := kinds(ReadinessSet(config)); got != "Namespace,ConfigMap" {
		t.Errorf("readiness of an app without workloads reads %s", got)
	}
}

// An OwnershipError tells the other instance apart from this one, also
// when both have the same name (a data dir set up again).
func TestOwnershipErrorNamesTheOtherInstance(t *testing.T) {
	want := Owner{Instance: "home", InstanceID: "aaaa", App: "hello"}
	for _, c := range []struct {
		have Owner
		says string
	}{
		{Owner{Instance: "lab", InstanceID: "bbbb", App: "hello"}, "another Wild Cloud instance (lab, app hello)"},
		{Owner{Instance: "home", InstanceID: "bbbb", App: "hello"}, "another Wild Cloud instance (another home, id bbbb, app hello)"},
		{Owner{InstanceID: "bbbb", App: "hello"}, "another Wild Cloud instance (id bbbb, app hello)"},
	} {
		err := &OwnershipError{Namespace: "hello", Want: want, Have: c.have}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %q does not say %q", c.have, err.Error(), c.says)
		}
	}
}
