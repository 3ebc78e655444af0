package gitmode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

func gitInstance(t *testing.T) *instance.Instance {
	t.Helper()
	inst, err := NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "x", Domain: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(inst); err != nil {
		t.Fatal(err)
	}
	return inst
}

// Issue 10 item 10: credentials stay out of history even when .gitignore
// no longer lists them.
func TestCredentialsNeverCommittedWhateverGitignoreSays(t *testing.T) {
	inst := gitInstance(t)
	os.WriteFile(inst.Path(".gitignore"), []byte("# emptied by hand\n"), 0o644)
	os.WriteFile(inst.Path(instance.KubeconfigFile), []byte("kube-creds"), 0o600)
	os.MkdirAll(inst.Path(".snapshots", "a"), 0o700)
	os.WriteFile(inst.Path(".snapshots", "a", "s.yaml"), []byte("copy"), 0o600)
	if err := inst.SetSecret("apps.a.pw", "hunter2-secret"); err != nil {
		t.Fatal(err)
	}
	if err := inst.SetConfig("cloud.x", "1"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{instance.SecretsFile, instance.KubeconfigFile, ".snapshots/a/s.yaml", instance.PendingCommitFile} {
		if _, ok, _ := FileAt(inst, "HEAD", f); ok {
			t.Errorf("%s was committed", f)
		}
	}
	files, _ := AllFilesAt(inst, "HEAD", "operations")
	if len(files) != 0 {
		t.Errorf("operation records committed: %v", files)
	}
	if _, ok, _ := FileAt(inst, "HEAD", ".gitignore"); !ok {
		t.Error("ordinary files are still committed")
	}
	// A secrets.yaml staged by hand makes wild refuse to commit.
	r, _ := open(inst)
	w, _ := r.Worktree()
	if _, err := w.Add(instance.SecretsFile); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(inst, "config(a): x"); err == nil || !strings.Contains(err.Error(), "rm --cached") {
		t.Fatalf("commit with secrets.yaml staged: %v", err)
	}
}

// A crash after an operation's files landed and before its commit: the
// next operation first commits them under the interrupted one's message.
func TestInterruptedCommitIsFinishedFirst(t *testing.T) {
	inst := gitInstance(t)
	saved := inst.AfterCommit
	inst.AfterCommit = func(*instance.Instance, string) error { panic("crash before git commit") }
	func() {
		defer func() { recover() }()
		inst.Update(func(e *instance.Edit) error {
			e.Message = "feat(ghost): add app"
			e.Config.Set([]string{"apps", "ghost", "port"}, yamldoc.StringNode("2368"))
			return e.WriteFile(filepath.Join("apps", "ghost", "deployment.yaml"), []byte("kind: Deployment\n"), 0o644)
		})
	}()
	inst.AfterCommit = saved
	if _, err := os.Stat(inst.Path(instance.PendingCommitFile)); err != nil {
		t.Fatal("no pending-commit note after the crash")
	}
	if err := inst.Update(func(e *instance.Edit) error {
		e.Message = "feat(redis): add app"
		return e.WriteFile(filepath.Join("apps", "redis", "deployment.yaml"), []byte("kind: Deployment\n"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	log, _ := Log(inst, "", 0)
	var msgs []string
	for _, e := range log {
		msgs = append(msgs, e.Message)
	}
	if len(msgs) != 3 || msgs[0] != "feat(redis): add app" || msgs[1] != "feat(ghost): add app" {
		t.Fatalf("log = %q", msgs)
	}
	ghost, _ := Log(inst, "ghost", 0)
	if len(ghost) != 1 || ghost[0].Message != "feat(ghost): add app" {
		t.Fatalf("ghost's files were committed under %+v", ghost)
	}
	cfg, _, _ := FileAt(inst, log[1].Commit, "config.yaml")
	if !strings.Contains(string(cfg), "2368") {
		t.Fatal("ghost's config change is not in ghost's commit")
	}
	if _, err := os.Stat(inst.Path(instance.PendingCommitFile)); err == nil {
		t.Fatal("pending-commit note left behind")
	}
}
