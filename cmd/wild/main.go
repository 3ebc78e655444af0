// Command wild manages self-hosted apps on a Kubernetes cluster.
package main

import (
	"os"
	"runtime/debug"

	"github.com/wild-cloud/wild/internal/cli"
)

func main() {
	// A command lives for milliseconds to seconds and allocates mostly
	// short-lived garbage (API responses, YAML): collecting at 4x the live
	// heap instead of 2x cut a no-op deploy's user CPU by about a quarter.
	// `wild serve` runs for days and sets the default back. GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	stop := startProfile()
	code := cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
