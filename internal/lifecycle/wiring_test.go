package lifecycle

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/gitmode"
)

// bundledWith copies the bundled catalog and applies edits to its files.
func bundledWith(t *testing.T, edits map[string][2]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(directory.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(directory.FS, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for file, e := range edits {
		f := out[file]
		if f == nil || !strings.Contains(string(f.Data), e[0]) {
			t.Fatalf("%s does not contain %q", file, e[0])
		}
		f.Data = []byte(strings.ReplaceAll(string(f.Data), e[0], e[1]))
	}
	return out
}

// TestUpdateReviewsAndDeploysThroughTheCluster: update's review shows
// what would change in the cluster (server-side dry run), and --deploy
// rolls the new default image out.
func TestUpdateReviewsAndDeploysThroughTheCluster(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	v2 := catalog.Open(bundledWith(t, map[string][2]string{
		"hello/manifest.yaml": {"v1.10.3", "v1.10.4"},
	}))
	env := Env{Instance: c.Instance, Catalog: v2}
	rv, err := (&Update{Env: env, App: "hello", DryRun: true, Cluster: ClusterHooksFor(env)}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var preview strings.Builder
	for _, d := range rv.Cluster {
		preview.WriteString(d.Unified)
	}
	if !strings.Contains(preview.String(), "traefik/whoami:v1.10.4") {
		t.Fatalf("review lacks the cluster preview of the new image:\n%s", preview.String())
	}
	rv, err = (&Update{Env: env, App: "hello", Deploy: true, Cluster: ClusterHooksFor(env)}).Run(context.Background())
	if err != nil || !rv.Deployed {
		t.Fatalf("update --deploy: %v %+v", err, rv)
	}
	dep, err := c.kc.AppsV1().Deployments(c.ns("hello")).Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Spec.Containers[0].Image != "traefik/whoami:v1.10.4" {
		t.Fatalf("live image after update --deploy: %v", err)
	}
}

// TestGitModeDeployChecks: in git mode, deploy refuses uncommitted edits
// unless AllowDirty, and conflict markers always.
func TestGitModeDeployChecks(t *testing.T) {
	c := newClusterEnv(t)
	if _, err := gitmode.Init(c.Instance); err != nil {
		t.Fatal(err)
	}
	c.add("hello")
	file := filepath.Join(c.Instance.AppDir("hello"), "deployment.yaml")
	b, _ := os.ReadFile(file)
	os.WriteFile(file, append(b, []byte("# tuned by hand\n")...), 0o644)
	_, err := c.deploy("hello")
	if err == nil || !strings.Contains(err.Error(), "uncommitted edits") || !strings.Contains(advice.Message(err), "--allow-dirty") {
		t.Fatalf("want a refusal of uncommitted edits, got %v", err)
	}
	c.mustDeploy("hello", func(d *Deploy) { d.AllowDirty = true })
	os.WriteFile(file, append(b, []byte("<<<<<<< ours\na\n=======\nb\n>>>>>>> theirs\n")...), 0o644)
	_, err = c.deploy("hello", func(d *Deploy) { d.AllowDirty = true })
	if err == nil || !strings.Contains(err.Error(), "unresolved merge conflicts") {
		t.Fatalf("want a refusal of conflict markers even with AllowDirty, got %v", err)
	}
}

// TestListStatesFollowTheCluster: deployed, drifted, degraded and stuck
// as `wild app list` reports them.
func TestListStatesFollowTheCluster(t *testing.T) {
	c := newClusterEnv(t)
	c.addAndDeploy("hello")
	state := ClusterState(c.Instance)
	ctx := context.Background()
	check := func(want string) {
		t.Helper()
		if got, detail := state(ctx, "hello"); got != want {
			t.Fatalf("state = %s (%s), want %s", got, detail, want)
		}
	}
	check(StateDeployed)
	deps := c.kc.AppsV1().Deployments(c.ns("hello"))
	patch := func(p string) {
		t.Helper()
		if _, err := deps.Patch(ctx, "hello", types.StrategicMergePatchType, []byte(p), metav1.PatchOptions{FieldManager: "someone"}); err != nil {
			t.Fatal(err)
		}
	}
	patch(`{"spec":{"replicas":3}}`)
	waitFor(t, func() bool { s, _ := state(ctx, "hello"); return s == StateDrifted })
	patch(`{"spec":{"template":{"spec":{"nodeSelector":{"no-such-node":"x"}}}}}`)
	waitFor(t, func() bool { s, _ := state(ctx, "hello"); return s == StateDegraded })
	// The nodeSelector is someone else's field, which a deploy leaves alone
	// (server-side apply reconciles only what wild owns); its author removes it.
	patch(`{"spec":{"template":{"spec":{"nodeSelector":null}}}}`)
	c.mustDeploy("hello")
	check(StateDeployed)
	if _, err := c.kc.CoreV1().ConfigMaps(c.ns("hello")).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "blocker", Finalizers: []string{"example.com/block"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.kc.CoreV1().Namespaces().Delete(ctx, c.ns("hello"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { s, _ := state(ctx, "hello"); return s == StateStuck })
	c.mustDeploy("hello") // recovers, and leaves nothing stuck for other tests
}
