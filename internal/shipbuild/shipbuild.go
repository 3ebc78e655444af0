// Package shipbuild is how wild and wild-central are built as shipped:
// without cgo, so the one static file runs on any Linux, and stamped with
// the version-control revision, which wild passes to the wild-central it
// hands a command to, and wild-central checks (cli.BuildID). The tests'
// binaries (testutil.WildBinary) and the wild-central a `go run` of wild
// builds from its checkout come from Command; `make build` (the Makefile's
// WILDGO and build) writes the same flags for itself.
package shipbuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wild-cloud/wild/internal/fsutil"
)

// Command is `go build` of pkgs into out (a file, or a directory ending
// in a separator), run with goTool in the checkout at root. The stamp is
// asked for explicitly: GOFLAGS=-buildvcs=false, as on some machines,
// would otherwise leave it out.
func Command(goTool, root, out string, pkgs ...string) *exec.Cmd {
	cmd := exec.Command(goTool, append([]string{"build", "-buildvcs=auto", "-o", out}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// Install builds the program at pkg (e.g. ./cmd/wild-central) into path
// so that whoever starts path meanwhile finds the old program or the new
// one, never a part. go build writes its output in place when its work
// directory is on another file system than path (it copies then), and
// two wilds may ask for the program at once (`wild backup` run twice).
// So the build goes to a staging file beside path, which go build keeps
// up to date (it relinks only a stale one), and reaches path by a hard
// link and a rename. Builds of the same path wait for each other; wait is
// called once when one has to.
func Install(goTool, root, path, pkg string, wait func()) error {
	dir, name := filepath.Split(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := fsutil.LockWaiting(context.Background(), filepath.Join(dir, "."+name+".lock"), wait)
	if err != nil {
		return err
	}
	defer unlock()
	staging := filepath.Join(dir, "."+name+".build")
	if out, err := Command(goTool, root, staging, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, strings.TrimSpace(string(out)))
	}
	return publish(staging, path)
}

// publish makes path the file staging is, unless it already is. go build
// replaces a stale staging file by a new one (a new inode), so the file
// at path, a link to the old one, never changes under a running program.
func publish(staging, path string) error {
	st, err := os.Stat(staging)
	if err != nil {
		return err
	}
	if cur, err := os.Stat(path); err == nil && os.SameFile(st, cur) {
		return nil
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Link(staging, tmp); err != nil {
		return fmt.Errorf("installing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("installing %s: %w", path, err)
	}
	return nil
}
