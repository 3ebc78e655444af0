package devcluster

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLinkComponentsReplacesSeparateBinaries: a bin dir from a build with
// one binary per component becomes the multi-call layout, and
// CheckBinaries accepts it.
func TestLinkComponentsReplacesSeparateBinaries(t *testing.T) {
	bin := t.TempDir()
	for _, b := range Binaries {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("old "+b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := linkComponents(bin); err != nil {
		t.Fatal(err)
	}
	for _, name := range moduleBinaries {
		target, err := os.Readlink(filepath.Join(bin, name))
		if err != nil || target != multiCall {
			t.Errorf("%s links to %q (%v), want %q", name, target, err, multiCall)
		}
	}
	if err := CheckBinaries(bin); err != nil {
		t.Errorf("CheckBinaries after linking: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(bin, ".*.tmp"))
	if len(leftovers) > 0 {
		t.Errorf("temporary links left behind: %v", leftovers)
	}
}

// TestComponentStartedThroughLinkIsAlive: liveness compares the recorded
// path with argv[0] in /proc/PID/cmdline, which must be the link's path,
// not the multi-call binary it resolves to. It must hold the moment
// startProcess returns. The kernel lays out the command line a moment
// after exec lets the parent go, and a check in that moment read it empty
// (in CI once; on a quiet machine about one start in thousands), so this
// starts a thousand.
func TestComponentStartedThroughLinkIsAlive(t *testing.T) {
	bin := t.TempDir()
	sleep, err := filepath.EvalSymlinks("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(bin, Scheduler)
	if err := os.Symlink(sleep, link); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for range 1000 {
		rec, err := startProcess(dir, Scheduler, link, []string{"30"})
		if err != nil {
			t.Fatal(err)
		}
		alive, exiting := rec.alive(), rec.exiting()
		argv0, _ := rec.argv0()
		_ = syscall.Kill(rec.PID, syscall.SIGKILL)
		if !alive || exiting {
			t.Fatalf("process started through %s: alive %v, exiting %v; argv[0] is %q", link, alive, exiting, argv0)
		}
	}
}
