package cli_test

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/cli"
	"github.com/wild-cloud/wild/internal/testutil"
)

// The commands that need the backup engine or the daemon run in
// wild-central, found beside wild; a wild without it (and outside a wild
// checkout to build it from) says so in one line, exit 2, and changes
// nothing, while everything else (and --help, and the waivers --dry-run
// and --no-backup of an update) still runs in wild.
func TestBackupAndServeRunInWildCentral(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.ok("app", "add", "hello")
	if out := e.ok("app", "backups", "hello"); !strings.Contains(out, "no verified restore yet") {
		t.Errorf("wild app backups (through wild-central) printed:\n%s", out)
	}

	alone := filepath.Join(t.TempDir(), "wild")
	copyFile(t, e.bin, alone)
	solo := &wildEnv{t: t, bin: alone, data: e.data, dir: t.TempDir(), env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WILD_DEVCLUSTER_SRC="}}
	if _, err := exec.LookPath("/usr/bin/wild-central"); err == nil {
		t.Fatal("/usr/bin/wild-central exists: this test needs a PATH without wild-central")
	}
	before := e.snapshot()
	for _, args := range [][]string{
		{"app", "backup", "hello"},
		{"app", "backups", "hello"},
		{"app", "restore", "hello"},
		{"app", "verify", "hello"},
		{"backup", "key", "export"},
		{"backup", "prune", "hello"},
		{"app", "update", "hello", "--yes"},
		{"serve", "--listen", "127.0.0.1:0"},
	} {
		errOut := solo.fails(args...)
		if !strings.Contains(errOut, "wild-central") || !strings.Contains(errOut, "make build") {
			t.Errorf("wild %s without wild-central: %s", strings.Join(args, " "), errOut)
		}
	}
	if after := e.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a command handed to a missing wild-central changed files")
	}
	if help := solo.ok("app", "backup", "--help"); !strings.Contains(help, "backup.destination.path") ||
		!strings.Contains(help, "This command runs in wild-central") {
		t.Errorf("wild app backup --help without wild-central:\n%s", help)
	}
	if help := solo.ok("app", "update", "--help"); !strings.Contains(help, "With --no-backup or --dry-run it runs in wild itself") {
		t.Errorf("wild app update --help does not tell its waivers:\n%s", help)
	}
	solo.ok("app", "update", "hello", "--dry-run")
	solo.ok("app", "update", "hello", "--no-backup", "--yes")
	solo.ok("app", "list")
}

// `go run ./cmd/wild` runs from a temporary directory, with no
// wild-central beside it: run in a wild checkout, wild builds wild-central
// into the checkout's .build/bin and hands the command to it.
func TestGoRunWildBuildsWildCentral(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.ok("app", "add", "hello")
	root, err := testutil.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	alone := filepath.Join(t.TempDir(), "wild")
	copyFile(t, e.bin, alone)
	solo := &wildEnv{t: t, bin: alone, data: e.data, dir: root,
		env: []string{"PATH=" + filepath.Dir(goTool) + ":/usr/sbin:/usr/bin:/sbin:/bin", "WILD_DEVCLUSTER_SRC="}}
	out, errOut, code := solo.run("app", "backups", "hello")
	if code != 0 || !strings.Contains(out, "no verified restore yet") {
		t.Fatalf("go-run-like wild app backups: exit %d\n%s%s", code, out, errOut)
	}
	built := filepath.Join(root, ".build", "bin", "wild-central")
	if !strings.Contains(errOut, "building wild-central from "+root) {
		t.Errorf("wild did not say it builds wild-central: %s", errOut)
	}
	if _, err := os.Stat(built); err != nil {
		t.Errorf("no %s: %v", built, err)
	}
}

// wild-central refuses a command handed over by a wild of another build
// (a stale wild-central on PATH), and runs one from its own build.
func TestWildCentralRefusesAnotherBuild(t *testing.T) {
	e := newEnv(t)
	central := filepath.Join(filepath.Dir(e.bin), "wild-central")
	own := buildOf(t, central)
	other := &wildEnv{t: t, bin: central, data: e.data, env: []string{"WILD_HANDOVER_BUILD=0123456789abcdef"}}
	if own == "" {
		// Built without version control information (not from a git
		// checkout): there is nothing to compare, so it runs.
		other.ok("--help")
		return
	}
	if errOut := other.fails("app", "list"); !strings.Contains(errOut, own) || !strings.Contains(errOut, "0123456789abcdef") {
		t.Errorf("another build's hand-over: %s", errOut)
	}
	same := &wildEnv{t: t, bin: central, data: e.data, env: []string{"WILD_HANDOVER_BUILD=" + own}}
	same.ok("app", "list")
}

// buildOf is the build id wild passes along, read from the binary.
func buildOf(t *testing.T, bin string) string {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return cli.BuildID(info.Settings)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
