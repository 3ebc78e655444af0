// Command wild manages self-hosted apps on a Kubernetes cluster.
package main

import (
	"os"

	"github.com/wild-cloud/wild/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
