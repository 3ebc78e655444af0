// Package testutil holds helpers shared by tests across packages.
package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/wild-cloud/wild/internal/shipbuild"
)

var (
	buildOnce sync.Once
	wildPath  string
	buildErr  error
)

// RepoRoot finds the repository root (the directory holding the wild go.mod)
// from the current test's working directory.
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate testutil source")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// WildBinary builds ./cmd/wild and ./cmd/wild-central once per test
// binary and returns wild's path; wild-central sits beside it, where wild
// finds it to hand over the commands it does not link (backups, serve).
// Tests run the real binaries so they see exactly what a user sees.
//
// All test binaries share <repo>/.build/test/ (git-ignored): each builds
// into a temp directory and renames the programs into place, so
// concurrent packages never see a half-written file, a running
// provisioner keeps the inode it started with, and nothing piles up in
// /tmp.
func WildBinary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(root, ".build", "test")
		tmp := filepath.Join(dir, fmt.Sprintf(".build-%d", os.Getpid()))
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			buildErr = err
			return
		}
		defer os.RemoveAll(tmp)
		cmd := shipbuild.Command("go", root, tmp+"/", "./cmd/wild", "./cmd/wild-central")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/wild ./cmd/wild-central: %v\n%s", err, out)
			return
		}
		// wild-central first: a wild already in place never meets a
		// wild-central of another build.
		for _, name := range []string{"wild-central", "wild"} {
			if buildErr = os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); buildErr != nil {
				return
			}
		}
		wildPath = filepath.Join(dir, "wild")
	})
	return wildPath, buildErr
}
