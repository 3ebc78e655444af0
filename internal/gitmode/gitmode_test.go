package gitmode

import (
	"os"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/instance"
)

func TestScope(t *testing.T) {
	for msg, want := range map[string]string{
		"feat(redis): add app":               "redis",
		"upgrade(immich): 1.2.0 -> 1.3.0":    "immich",
		"chore: initial":                     "",
		"config(cloud): set cloud.domain":    "cloud",
		"Increase CPU limit for production":  "",
		"rollback(ghost): restore commit ab": "ghost",
	} {
		if got := Scope(msg); got != want {
			t.Errorf("Scope(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestContainsMarkers(t *testing.T) {
	if !ContainsMarkers([]byte("a\n<<<<<<< ours\nx\n=======\ny\n>>>>>>> theirs\n")) {
		t.Error("markers missed")
	}
	if ContainsMarkers([]byte("Title\n=======\ntext <<<<<<< inline\n")) {
		t.Error("a Markdown underline is not a conflict")
	}
}

func TestInitIgnoresCredentialsAndIsIdempotent(t *testing.T) {
	inst, err := NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "x", Domain: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(inst.Path(".gitignore"), []byte("my-notes.txt"), 0o644)
	res, err := Init(inst)
	if err != nil || !res.Created || res.Commit == "" {
		t.Fatalf("init: %+v %v", res, err)
	}
	ign, _ := os.ReadFile(inst.Path(".gitignore"))
	for _, want := range []string{"my-notes.txt\n", "secrets.yaml\n", "kubeconfig\n", "*.lock\n", ".snapshots/\n", ".tx/\n", "operations/\n"} {
		if !strings.Contains(string(ign), want) {
			t.Errorf(".gitignore lacks %q:\n%s", want, ign)
		}
	}
	if _, ok, _ := FileAt(inst, "HEAD", "secrets.yaml"); ok {
		t.Error("secrets.yaml was committed")
	}
	if _, ok, _ := FileAt(inst, "HEAD", "config.yaml"); !ok {
		t.Error("config.yaml was not committed")
	}
	again, err := Init(inst)
	if err != nil || again.Created || again.Commit != res.Commit {
		t.Fatalf("second init: %+v %v", again, err)
	}
	if on, _ := Enabled(inst); !on {
		t.Error("auto-commit off after init")
	}
	log, _ := Log(inst, "", 0)
	if len(log) != 1 || log[0].Message != InitialMessage {
		t.Errorf("log: %+v", log)
	}
}
