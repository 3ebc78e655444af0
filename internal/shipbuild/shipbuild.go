// Package shipbuild is how wild and wild-central are built as shipped:
// without cgo, so the one static file runs on any Linux, and stamped with
// the version-control revision, which wild passes to the wild-central it
// hands a command to, and wild-central checks (cli.BuildID). The tests'
// binaries (testutil.WildBinary) and the wild-central a `go run` of wild
// builds from its checkout come from Command; `make build` (the Makefile's
// WILDGO and build) writes the same flags for itself.
package shipbuild

import (
	"os"
	"os/exec"
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
