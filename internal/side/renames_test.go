package side

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

const liveDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: gitea, namespace: gitea}
spec:
  template:
    spec:
      initContainers:
        - name: wait
          env: [{name: DB, value: gitea}]
      containers:
        - name: gitea
          env:
            - {name: GITEA__database__NAME, value: gitea}
            - {name: DB_URL, value: "postgresql://gitea:pw@postgres.postgres.svc:5432/gitea?sslmode=disable"}
            - {name: OTHER_URL, value: "postgresql://gitea:pw@h/gitea_extra"}
            - {name: USER, value: gitea-admin}
            - {name: PW, valueFrom: {secretKeyRef: {name: gitea-secrets, key: dbPassword}}}
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: gitea-pvc}
        - name: other
          persistentVolumeClaim: {claimName: cache}
`

func TestStandbyObjectsRenameWhatRestoreDeclares(t *testing.T) {
	live := []*unstructured.Unstructured{
		obj(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gitea}"),
		obj(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: gitea-pvc, namespace: gitea}"),
		obj(t, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: cache, namespace: gitea}"),
		obj(t, liveDeployment),
		obj(t, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: gitea, namespace: gitea}
spec:
  rules: [{host: gitea.wild.test}]
  tls: [{hosts: [gitea.wild.test], secretName: tls}]`),
	}
	before, _ := yaml.Marshal(live)
	rn := &Renames{Namespace: "gitea-green", Preview: "green",
		Databases: map[string]string{"gitea": "gitea_green"}, Volumes: map[string]string{"gitea-pvc": "gitea-pvc-green"}}
	out := rn.Objects(live)

	if after, _ := yaml.Marshal(live); !bytes.Equal(before, after) {
		t.Error("Objects changed the live objects")
	}
	kinds := map[string]*unstructured.Unstructured{}
	for _, o := range out {
		kinds[o.GetKind()+"/"+o.GetName()] = o
		if o.GetKind() != "Namespace" && o.GetNamespace() != "gitea-green" {
			t.Errorf("%s/%s in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	if kinds["Namespace/gitea-green"] == nil {
		t.Errorf("no Namespace gitea-green in %v", keys(kinds))
	}
	if kinds["PersistentVolumeClaim/gitea-pvc"] != nil || kinds["PersistentVolumeClaim/cache"] == nil {
		t.Errorf("claims: want the restored one left out and the undeclared one kept: %v", keys(kinds))
	}
	d := kinds["Deployment/gitea"]
	b, _ := yaml.Marshal(d.Object)
	for _, want := range []string{
		"value: gitea_green", "5432/gitea_green?sslmode=disable", "h/gitea_extra", "value: gitea-admin",
		"claimName: gitea-pvc-green", "claimName: cache",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("standby deployment lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "value: gitea\n") {
		t.Errorf("standby deployment still names database gitea:\n%s", b)
	}
	ing, _ := yaml.Marshal(kinds["Ingress/gitea"].Object)
	if strings.Count(string(ing), "gitea-green.wild.test") != 2 || strings.Contains(string(ing), " gitea.wild.test") {
		t.Errorf("standby ingress hosts:\n%s", ing)
	}
	if rn.Hosts["gitea.wild.test"] != "gitea-green.wild.test" {
		t.Errorf("hosts recorded: %v", rn.Hosts)
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRewriteDB(t *testing.T) {
	rn := &Renames{Databases: map[string]string{"ghost": "ghost_green"}}
	for in, want := range map[string]string{
		"ghost":                             "ghost_green",
		"ghosts":                            "ghosts",
		"mysql://u:p@db:3306/ghost":         "mysql://u:p@db:3306/ghost_green",
		"mysql://u:p@db:3306/ghost?x=ghost": "mysql://u:p@db:3306/ghost_green?x=ghost",
		"mysql://u:p@db:3306/ghostly":       "mysql://u:p@db:3306/ghostly",
		"/var/lib/ghost":                    "/var/lib/ghost",
	} {
		if got := rn.RewriteDB(in); got != want {
			t.Errorf("rewriteDB(%q) = %q, want %q", in, got, want)
		}
	}
}
