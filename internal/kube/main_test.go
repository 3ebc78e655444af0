package kube

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/clustertest"
)

func TestMain(m *testing.M) {
	// clustertest.Main calls testing.Verbose before m.Run parses flags.
	flag.Parse()
	clustertest.Main(m)
}

func newClient(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient(clustertest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// objects parses a multi-document YAML string, replacing NS with ns.
func objects(t *testing.T, ns, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(strings.ReplaceAll(docs, "NS", ns), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("bad test manifest: %v\n%s", err, doc)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func testInventory(t *testing.T, app string) Inventory {
	return Inventory{App: app, InstanceID: "test-instance-1"}
}

func actions(r *Result) map[string]Action {
	out := map[string]Action{}
	for _, c := range r.Changes {
		out[c.Ref.Kind+"/"+c.Ref.Name] = c.Action
	}
	return out
}

func mustApply(t *testing.T, c *Client, objs []*unstructured.Unstructured, opts ApplyOptions) *Result {
	t.Helper()
	res, err := c.Apply(testCtx(t), objs, opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}
