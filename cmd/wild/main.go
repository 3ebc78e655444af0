// Command wild manages self-hosted apps on a Kubernetes cluster. Backups
// and Wild Central's daemon run in its companion program, wild-central
// (cmd/wild-central), which wild hands those commands to.
package main

import (
	"os"

	"github.com/wild-cloud/wild/internal/cli"
	// The garbage collector tuned for a short-lived command, from before
	// the other packages' initialisation allocates.
	_ "github.com/wild-cloud/wild/internal/shortlived"
)

func main() {
	stop := startProfile()
	// No engines: the commands that need the backup engine or the daemon
	// run in wild-central (cli.Engines says why).
	code := cli.Main(cli.Engines{}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
