// Command wild-central is Wild Central's program: wild's commands with the
// engines wild leaves out linked in, Wild Central's daemon (wild-central
// serve: the API, the web UI, metrics) and the backup engine (kopia). wild
// hands the commands that need them to this program (cli.Engines says
// why), so both must be installed side by side.
package main

import (
	"context"
	"os"

	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/cli"
	"github.com/wild-cloud/wild/internal/daemon"
	// Backups are short-lived commands too; `serve` sets the default back.
	_ "github.com/wild-cloud/wild/internal/shortlived"
	"github.com/wild-cloud/wild/internal/web"
)

func main() {
	engines := cli.Engines{OpenBackup: kopiastore.Open, Serve: serve}
	os.Exit(cli.Main(engines, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func serve(ctx context.Context, o cli.ServeOptions) error {
	return daemon.Run(ctx, daemon.Options{DataDir: o.DataDir, Listen: o.Listen, TLSCert: o.TLSCert, TLSKey: o.TLSKey,
		Catalog: o.Catalog, Log: o.Log, Ready: o.Ready, UI: web.New})
}
