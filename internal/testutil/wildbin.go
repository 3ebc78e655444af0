// Package testutil holds helpers shared by tests across packages.
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
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

// WildBinary builds ./cmd/wild once per test binary and returns its path.
// Tests run the real binary so they see exactly what a user sees.
//
// All test binaries share <repo>/.build/test/wild (git-ignored): each
// builds to a temp name and renames it into place, so concurrent packages
// never see a half-written file, a running provisioner keeps the inode it
// started with, and nothing piles up in /tmp.
func WildBinary() (string, error) {
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(root, ".build", "test")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		tmp := filepath.Join(dir, fmt.Sprintf(".wild-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/wild")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as shipped: make build
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/wild: %v\n%s", err, out)
			return
		}
		wildPath = filepath.Join(dir, "wild")
		buildErr = os.Rename(tmp, wildPath)
	})
	return wildPath, buildErr
}
