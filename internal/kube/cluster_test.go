package kube

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wild-cloud/wild/internal/clustertest"
)

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func TestApplySecretOverwritesHandEdit(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	data := map[string][]byte{"apiKey": []byte("k-1"), "db.password": []byte("pw-1")}
	labels := map[string]string{LabelApp: "ghost"}

	ch, err := c.ApplySecret(ctx, ns, "ghost-secrets", data, labels, false)
	if err != nil || ch.Action != ActionCreated {
		t.Fatalf("create: %+v %v", ch, err)
	}
	ch, err = c.ApplySecret(ctx, ns, "ghost-secrets", data, labels, false)
	if err != nil || ch.Action != ActionUnchanged {
		t.Fatalf("re-apply: %+v %v", ch, err)
	}

	// Edge Case 4: someone edits the live Secret and adds a key.
	live, _ := c.Clientset.CoreV1().Secrets(ns).Get(ctx, "ghost-secrets", metav1.GetOptions{})
	live.Data["db.password"] = []byte("hand-edited")
	live.Data["extra"] = []byte("x")
	if _, err := c.Clientset.CoreV1().Secrets(ns).Update(ctx, live, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	ch, err = c.ApplySecret(ctx, ns, "ghost-secrets", data, labels, false)
	if err != nil || ch.Action != ActionConfigured {
		t.Fatalf("overwrite: %+v %v", ch, err)
	}
	if strings.Contains(ch.Diff, "hand-edited") || strings.Contains(ch.Diff, "pw-1") || !strings.Contains(ch.Diff, "db.password") {
		t.Errorf("change summary must name keys, never values: %q", ch.Diff)
	}
	got, _ := c.Clientset.CoreV1().Secrets(ns).Get(ctx, "ghost-secrets", metav1.GetOptions{})
	if string(got.Data["db.password"]) != "pw-1" || len(got.Data) != 2 {
		t.Errorf("secret not restored from source of truth: keys %d, password restored %v", len(got.Data), string(got.Data["db.password"]) == "pw-1")
	}
}

func TestCopySecret(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	src, dst := clustertest.Namespace(t), clustertest.Namespace(t)
	tls := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "wildcard-tls", Namespace: src},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": []byte("cert"), "tls.key": []byte("key")},
	}
	if _, err := c.Clientset.CoreV1().Secrets(src).Create(ctx, tls, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.CopySecret(ctx, src, "wildcard-tls", dst, map[string]string{LabelApp: "web"}, false)
	if err != nil || ch.Action != ActionCreated {
		t.Fatalf("copy: %+v %v", ch, err)
	}
	got, err := c.Clientset.CoreV1().Secrets(dst).Get(ctx, "wildcard-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != corev1.SecretTypeTLS || string(got.Data["tls.key"]) != "key" || got.Annotations[AnnotationCopied] != src+"/wildcard-tls" {
		t.Errorf("copy = type %s, annotations %v", got.Type, got.Annotations)
	}
	if ch, err := c.CopySecret(ctx, src, "wildcard-tls", dst, map[string]string{LabelApp: "web"}, false); err != nil || ch.Action != ActionUnchanged {
		t.Errorf("second copy: %+v %v", ch, err)
	}

	_, err = c.CopySecret(ctx, src, "missing", dst, nil, false)
	var nf *SecretNotFoundError
	if !errors.As(err, &nf) || nf.Name != "missing" || nf.Namespace != src {
		t.Fatalf("missing source: %v, want *SecretNotFoundError", err)
	}
}

func TestClearTerminatingRemovesBlockingFinalizer(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	blocker := objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: blocker, namespace: NS, finalizers: [example.com/block]}
`)[0]
	if _, err := c.Dynamic.Resource(cmGVR).Namespace(ns).Create(ctx, blocker, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gone, err := c.DeleteNamespace(ctx, ns, 2*time.Second)
	if err != nil || gone {
		t.Fatalf("delete: gone=%v err=%v; the finalizer should keep it Terminating", gone, err)
	}
	if phase, _ := c.NamespacePhase(ctx, ns); phase != PhaseTerminating {
		t.Fatalf("phase = %s, want Terminating", phase)
	}

	var log []string
	err = c.ClearTerminating(ctx, ns, ClearOptions{Progress: func(s string) { log = append(log, s) }})
	if err != nil {
		t.Fatalf("clear: %v (log %q)", err, log)
	}
	t.Logf("clear log: %q", log)
	if phase, _ := c.NamespacePhase(ctx, ns); phase != PhaseNotFound {
		t.Fatalf("phase after clear = %s, want NotFound", phase)
	}
	if !strings.Contains(strings.Join(log, "\n"), "removed finalizer example.com/block from ConfigMap/"+ns+"/blocker") {
		t.Errorf("progress does not say what was unblocked: %q", log)
	}
}

func TestEnsureNamespaceOwnership(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	mine := Owner{Instance: "home", InstanceID: "id-home", App: "ghost"}

	created, err := c.EnsureNamespace(ctx, ns, mine, false)
	if err != nil || created {
		t.Fatalf("adopting an unowned namespace: created=%v err=%v", created, err)
	}
	got, _ := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if got.Annotations[AnnotationInstID] != "id-home" || got.Annotations[AnnotationApp] != "ghost" {
		t.Fatalf("ownership annotations = %v", got.Annotations)
	}
	if _, err := c.EnsureNamespace(ctx, ns, mine, false); err != nil {
		t.Fatalf("same owner again: %v", err)
	}

	// The app's own Namespace manifest must not strip the ownership stamp.
	nsObj := objects(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}\n")
	mustApply(t, c, nsObj, ApplyOptions{Inventory: Inventory{App: "ghost", InstanceID: "id-home"}})
	got, _ = c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if got.Annotations[AnnotationInstID] != "id-home" {
		t.Fatalf("applying the Namespace manifest removed the ownership annotations: %v", got.Annotations)
	}

	for _, other := range []Owner{
		{Instance: "work", InstanceID: "id-work", App: "ghost"},
		{Instance: "home", InstanceID: "id-home", App: "gitea"},
	} {
		_, err := c.EnsureNamespace(ctx, ns, other, false)
		var oe *OwnershipError
		if !errors.As(err, &oe) {
			t.Fatalf("%+v: err = %v, want *OwnershipError", other, err)
		}
		if !strings.Contains(err.Error(), ns) || !strings.Contains(err.Error(), "ghost") {
			t.Errorf("refusal does not explain: %v", err)
		}
	}

	fresh := ns + "-new"
	created, err = c.EnsureNamespace(ctx, fresh, mine, true)
	if err != nil || !created {
		t.Fatalf("dry run: created=%v err=%v", created, err)
	}
	if phase, _ := c.NamespacePhase(ctx, fresh); phase != PhaseNotFound {
		t.Fatalf("dry run created the namespace")
	}
	created, err = c.EnsureNamespace(ctx, fresh, mine, false)
	t.Cleanup(func() { _, _ = c.DeleteNamespace(ctx, fresh, 0) })
	if err != nil || !created {
		t.Fatalf("create: created=%v err=%v", created, err)
	}
}

func TestWaitTimeoutNamesResourceAndReason(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	objs := objects(t, ns, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: NS}
spec:
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      nodeSelector: {disk: does-not-exist}
      containers: [{name: app, image: example.invalid/app:1}]
`)
	mustApply(t, c, objs, ApplyOptions{Inventory: testInventory(t, "stuck")})
	var calls int
	err := c.Wait(ctx, objs, 3*time.Second, func([]ResourceStatus) { calls++ })
	var wt *WaitTimeoutError
	if !errors.As(err, &wt) {
		t.Fatalf("err = %v, want *WaitTimeoutError", err)
	}
	msg := err.Error()
	t.Logf("timeout error: %s", msg)
	for _, want := range []string{"Deployment/" + ns + "/stuck", "InProgress", "Unschedulable", "node affinity/selector"} {
		if !strings.Contains(msg, want) {
			t.Errorf("timeout error lacks %q: %s", want, msg)
		}
	}
	if calls < 2 {
		t.Errorf("progress called %d times, want one per poll", calls)
	}
}

func TestDiffRedactsSecretValues(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	inv := testInventory(t, "redact")
	const oldValue, newValue = "old-Sup3rSecret-value", "new-Sup3rSecret-value"
	manifest := `
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: NS}
stringData: {password: VALUE, user: admin}
`
	leaks := func(s string, values ...string) bool {
		for _, v := range values {
			if strings.Contains(s, v) || strings.Contains(s, base64.StdEncoding.EncodeToString([]byte(v))) {
				return true
			}
		}
		return false
	}
	objs := objects(t, ns, strings.Replace(manifest, "VALUE", oldValue, 1))
	diffs, err := c.Diff(ctx, objs, inv)
	if err != nil || len(diffs) != 1 || diffs[0].Action != ActionCreated {
		t.Fatalf("diff before create = %+v, %v", diffs, err)
	}
	if leaks(diffs[0].Unified, oldValue) || !strings.Contains(diffs[0].Unified, "<redacted ") {
		t.Fatalf("create diff leaks or lacks redaction:\n%s", diffs[0].Unified)
	}
	mustApply(t, c, objs, ApplyOptions{Inventory: inv})

	objs = objects(t, ns, strings.Replace(manifest, "VALUE", newValue, 1))
	diffs, err = c.Diff(ctx, objs, inv)
	if err != nil || len(diffs) != 1 || diffs[0].Action != ActionConfigured {
		t.Fatalf("diff after change = %+v, %v", diffs, err)
	}
	u := diffs[0].Unified
	if leaks(u, oldValue, newValue) {
		t.Fatalf("update diff leaks a secret value:\n%s", u)
	}
	if !strings.Contains(u, "-  password: <redacted ") || !strings.Contains(u, "+  password: <redacted ") {
		t.Errorf("update diff does not show that password changed:\n%s", u)
	}
	if strings.Contains(u, "user:") && (strings.Contains(u, "-  user:") || strings.Contains(u, "+  user:")) {
		t.Errorf("unchanged key shown as changed:\n%s", u)
	}
	res, err := c.Apply(ctx, objs, ApplyOptions{DryRun: true, Inventory: inv})
	if err != nil || leaks(res.Changes[0].Diff, oldValue, newValue) {
		t.Fatalf("dry-run apply diff leaks or failed (%v):\n%s", err, res.Changes[0].Diff)
	}
}

func TestStatusReportsPodsIngressPVCAndSecrets(t *testing.T) {
	c := newClient(t)
	ctx := testCtx(t)
	ns := clustertest.Namespace(t)
	objs := objects(t, ns, webApp+`
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: NS}
spec:
  tls: [{hosts: [web.example.test], secretName: wildcard-tls}]
  rules:
  - host: web.example.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`)
	mustApply(t, c, objs, ApplyOptions{Inventory: testInventory(t, "status")})
	if err := c.Wait(ctx, objs, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, ns, objs, "web-secrets")
	if err != nil {
		t.Fatal(err)
	}
	if st.NamespacePhase != PhaseActive || len(st.Resources) != 4 {
		t.Fatalf("status = %+v", st)
	}
	for _, r := range st.Resources {
		if r.Status != StatusCurrent {
			t.Errorf("%s", r)
		}
	}
	ready := 0
	for _, p := range st.Pods {
		if p.Ready {
			ready++
		}
	}
	if ready != 2 {
		t.Errorf("ready pods = %d, want 2: %+v", ready, st.Pods)
	}
	if len(st.Ingresses) != 1 || st.Ingresses[0].Hosts[0] != "web.example.test" {
		t.Errorf("ingresses = %+v", st.Ingresses)
	}
	secrets := map[string]bool{}
	for _, s := range st.Secrets {
		secrets[s.Name] = s.Exists
	}
	if e, ok := secrets["web-secrets"]; !ok || e {
		t.Errorf("secrets = %v, want web-secrets reported missing", secrets)
	}
	if e, ok := secrets["wildcard-tls"]; !ok || e {
		t.Errorf("secrets = %v, want the Ingress TLS secret reported missing", secrets)
	}
}

// The built-in table must say what the API server's own discovery says,
// for every kind in it.
func TestBuiltinMappingsMatchDiscovery(t *testing.T) {
	c := newClient(t)
	if len(builtinMappings) < 20 {
		t.Fatalf("only %d built-in mappings", len(builtinMappings))
	}
	for gvk, want := range builtinMappings {
		got, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: discovery: %v", gvk, err)
			continue
		}
		if got.Resource != want.Resource || got.Scope.Name() != want.Scope.Name() || got.GroupVersionKind != want.GroupVersionKind {
			t.Errorf("%s: table %v %s, discovery %v %s", gvk, want.Resource, want.Scope.Name(), got.Resource, got.Scope.Name())
		}
	}
}
