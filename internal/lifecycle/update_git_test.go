package lifecycle

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
)

// gitEnv is an instance in git mode with web v1 added.
func gitEnv(t *testing.T) Env {
	t.Helper()
	inst, err := gitmode.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "test", Domain: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gitmode.Init(inst); err != nil {
		t.Fatal(err)
	}
	env := Env{Instance: inst, Catalog: catalog.Open(webV1())}
	if _, err := (&Add{Env: env, App: "web"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env
}

func messages(t *testing.T, inst *instance.Instance, app string) []string {
	t.Helper()
	log, err := gitmode.Log(inst, app, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(log) - 1; i >= 0; i-- {
		out = append(out, log[i].Message)
	}
	return out
}

// handEdit changes a compiled file and commits it the way a user would.
func handEdit(t *testing.T, inst *instance.Instance, file, from, to, msg string) {
	t.Helper()
	p := filepath.Join(inst.AppDir("web"), file)
	b := readFile(t, p)
	if !strings.Contains(b, from) {
		t.Fatalf("%s has no %q:\n%s", file, from, b)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(b, from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if dirty, _, _ := gitmode.DirtyApp(inst, "web"); !dirty {
		t.Fatal("hand edit not seen as uncommitted")
	}
	if _, err := gitmode.Commit(inst, msg); err != nil {
		t.Fatal(err)
	}
}

func TestGitModeOneCommitPerOperation(t *testing.T) {
	env := gitEnv(t)
	inst := env.Instance
	if err := inst.SetConfig("apps.web.port", "9090"); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Rollback{Env: env, App: "web"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(messages(t, inst, ""), "\n")
	want := strings.Join([]string{
		gitmode.InitialMessage,
		"feat(web): add app",
		"config(web): set apps.web.port",
		"upgrade(web): 1.0.0 -> 1.1.0",
	}, "\n")
	if !strings.HasPrefix(got, want+"\nrollback(web): restore snapshot ") || strings.Count(got, "\n") != 4 {
		t.Fatalf("history:\n%s\nwant:\n%s\nrollback(web): restore snapshot ...", got, want)
	}
	if dirty, files, _ := gitmode.DirtyApp(inst, "web"); dirty {
		t.Errorf("operations left uncommitted files: %v", files)
	}
	// Switched off, operations stop committing.
	if err := gitmode.SetEnabled(inst, false); err != nil {
		t.Fatal(err)
	}
	if err := inst.SetConfig("apps.web.port", "7070"); err != nil {
		t.Fatal(err)
	}
	if n := len(messages(t, inst, "")); n != 5 {
		t.Errorf("commit made with auto-commit off (%d commits)", n)
	}
	assertNoSecretInHistory(t, inst)
}

func TestGitModeHandEditSurvivesUpdate(t *testing.T) {
	env := gitEnv(t)
	inst := env.Instance
	handEdit(t, inst, "deployment.yaml", "              cpu: 500m\n", "              cpu: \"2\"\n", "scale(web): more CPU for production")
	if c, err := gitmode.Customized(inst, "web", Recompile); err != nil || !c {
		t.Fatalf("committed hand edit not reported as customized: %v %v", c, err)
	}
	// config set does not recompile, so the committed files are stale;
	// that staleness must not pass for a hand edit in the merge.
	if err := inst.SetConfig("apps.web.port", "9090"); err != nil {
		t.Fatal(err)
	}
	rv, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dep := readFile(t, filepath.Join(inst.AppDir("web"), "deployment.yaml"))
	if !strings.Contains(dep, "cpu: \"2\"") || !strings.Contains(dep, "image: nginx:1.27") || !strings.Contains(dep, "value: info") {
		t.Fatalf("merged deployment:\n%s", dep)
	}
	if !strings.Contains(dep, "containerPort: 9090") {
		t.Errorf("config change since the last compile was lost:\n%s", dep)
	}
	if svc := readFile(t, filepath.Join(inst.AppDir("web"), "service.yaml")); !strings.Contains(svc, "port: 9090") {
		t.Errorf("service.yaml:\n%s", svc)
	}
	if len(rv.Merged) != 1 || rv.Merged[0] != "deployment.yaml" {
		t.Errorf("merged files: %v", rv.Merged)
	}
	if gitmode.ContainsMarkers([]byte(dep)) {
		t.Error("clean merge left markers")
	}
	msgs := messages(t, inst, "web")
	if msgs[len(msgs)-1] != "upgrade(web): 1.0.0 -> 1.1.0" {
		t.Errorf("history: %v", msgs)
	}
	if dirty, files, _ := gitmode.DirtyApp(inst, "web"); dirty {
		t.Errorf("update left uncommitted files: %v", files)
	}
	assertNoSecretInHistory(t, inst)
}

func TestGitModeConflictLeavesMarkers(t *testing.T) {
	env := gitEnv(t)
	inst := env.Instance
	handEdit(t, inst, "deployment.yaml", "image: nginx:1.25", "image: registry.local/nginx:patched", "fix(web): patched image")
	head, _ := gitmode.Head(inst)
	_, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background())
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Files) != 1 || ce.Files[0] != "deployment.yaml" {
		t.Fatalf("want a conflict in deployment.yaml, got %v", err)
	}
	if !strings.Contains(advice.Message(err), "wild app update web --continue") {
		t.Errorf("no instructions: %v", err)
	}
	dep := readFile(t, filepath.Join(inst.AppDir("web"), "deployment.yaml"))
	// The new env block sits right below the image line, so (as with
	// git) the two edits form one conflict.
	want := "<<<<<<< ours\n          image: registry.local/nginx:patched\n=======\n          image: nginx:1.27\n          env:\n"
	start, end := strings.Index(dep, "<<<<<<< ours\n"), strings.Index(dep, ">>>>>>> theirs\n")
	if !strings.Contains(dep, want) || start < 0 || end < start || strings.Count(dep, "<<<<<<<") != 1 {
		t.Fatalf("markers:\n%s", dep)
	}
	if now, _ := gitmode.Head(inst); now != head {
		t.Error("conflict markers were committed")
	}
	if has, _, _ := gitmode.HasConflictMarkers(inst, "web"); !has {
		t.Error("HasConflictMarkers missed them")
	}
	if _, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "unresolved merge conflicts") {
		t.Errorf("second update over conflicts: %v", err)
	}
	if _, err := (&Update{Env: env, App: "web", Continue: true}).Run(context.Background()); err == nil {
		t.Error("--continue accepted a file with markers")
	}
	// Resolve: keep our image.
	resolved := dep[:start] + "          image: registry.local/nginx:patched\n          env:\n            - name: LOG_LEVEL\n              value: info\n" + dep[end+len(">>>>>>> theirs\n"):]
	os.WriteFile(filepath.Join(inst.AppDir("web"), "deployment.yaml"), []byte(resolved), 0o644)
	if _, err := (&Update{Env: env, App: "web", Continue: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := messages(t, inst, "web")
	if msgs[len(msgs)-1] != "upgrade(web): 1.0.0 -> 1.1.0" {
		t.Errorf("history: %v", msgs)
	}
	if dirty, files, _ := gitmode.DirtyApp(inst, "web"); dirty {
		t.Errorf("left dirty: %v", files)
	}
}

func TestGitRollbackToCommit(t *testing.T) {
	env := gitEnv(t)
	inst := env.Instance
	head, _ := gitmode.Head(inst)
	before := readFile(t, filepath.Join(inst.AppDir("web"), "deployment.yaml"))
	if _, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := (&Rollback{Env: env, App: "web", To: head[:8]}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.To != "1.0.0" {
		t.Errorf("result %+v", res)
	}
	if got := readFile(t, filepath.Join(inst.AppDir("web"), "deployment.yaml")); got != before {
		t.Errorf("deployment not restored:\n%s", got)
	}
	if v, _ := inst.GetConfig("apps.web.image"); v != "nginx:1.25" {
		t.Errorf("config not restored: %v", v)
	}
	if _, err := os.Stat(filepath.Join(inst.AppDir("web"), PackageDir, "configmap.yaml")); err != nil {
		t.Error(".package/ not restored")
	}
}

// assertNoSecretInHistory reads every blob of every commit and looks for
// each generated secret value.
func assertNoSecretInHistory(t *testing.T, inst *instance.Instance) {
	t.Helper()
	sec, err := inst.ReadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, n := range sec.Leaves(nil) {
		if len(n.Value) >= 8 {
			values = append(values, n.Value)
		}
	}
	if len(values) == 0 {
		t.Fatal("test setup: no secrets generated")
	}
	r, err := git.PlainOpen(inst.Dir)
	if err != nil {
		t.Fatal(err)
	}
	commits, _ := r.CommitObjects()
	blobs := 0
	commits.ForEach(func(c *object.Commit) error {
		tree, _ := c.Tree()
		return tree.Files().ForEach(func(f *object.File) error {
			rd, _ := f.Reader()
			b, _ := io.ReadAll(rd)
			rd.Close()
			blobs++
			if f.Name == "secrets.yaml" || f.Name == "kubeconfig" {
				t.Errorf("commit %s contains %s", c.Hash, f.Name)
			}
			for _, v := range values {
				if strings.Contains(string(b), v) {
					t.Errorf("commit %s file %s contains a secret value", c.Hash.String()[:8], f.Name)
				}
			}
			return nil
		})
	})
	if blobs == 0 {
		t.Fatal("no blobs scanned")
	}
}
