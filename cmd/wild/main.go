// Command wild manages self-hosted apps on a Kubernetes cluster.
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
	code := cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
