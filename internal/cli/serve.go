package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wild-cloud/wild/internal/auth"
)

func addServeCommands(root *cobra.Command, g *Globals) {
	root.AddCommand(serveCmd(g), tokenCmd(g), loginCmd(g))
}

func serveCmd(g *Globals) *cobra.Command {
	o := ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Wild Central: the API, the web UI and background jobs",
		Long: `Run Wild Central, the daemon behind the web UI, on the same data dir as the CLI.

It listens on loopback unless --listen says otherwise. On first start it prints
a one-time setup link (valid one hour) to set the admin password; open it in a
browser. Scripts use API tokens: wild token create NAME --scope read|operate|admin.

SIGINT/SIGTERM shut it down gracefully: running operations get 20 s to reach a
safe point, then are cancelled and recorded as such.`,
		Example: `  wild serve
  wild serve --listen 0.0.0.0:5055 --tls-cert cert.pem --tls-key key.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.ResolveDataDir()
			if err != nil {
				return err
			}
			if (o.TLSCert == "") != (o.TLSKey == "") {
				return fmt.Errorf("--tls-cert and --tls-key go together")
			}
			o.DataDir = dir
			o.Catalog = g.catalog
			o.Log = daemonLogger(g.ErrOut)
			o.Ready = func(base, setup string) {
				fmt.Fprintf(g.Out, "Wild Central is running at %s (data: %s)\n", base, dir)
				if setup != "" {
					fmt.Fprintf(g.Out, "First start: set the admin password at\n  %s\n(the link works once, for %s)\n", setup, auth.SetupTTL)
				}
			}
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(100) // a daemon's memory matters more than a command's (internal/shortlived)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return g.engines.Serve(ctx, o)
		},
	}
	needs(cmd, engineServe)
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:5055", "address to listen on (HOST:PORT); loopback only by default")
	cmd.Flags().StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	cmd.Flags().StringVar(&o.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	return cmd
}

// daemonLogger logs text on a terminal and JSON otherwise, for log shippers.
func daemonLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

func (g *Globals) authStore() (*auth.Store, error) {
	dir, err := g.ResolveDataDir()
	if err != nil {
		return nil, err
	}
	return auth.Open(filepath.Join(dir, "central")), nil
}

func tokenCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke Wild Central API tokens",
		Long: `API tokens let scripts and the CLI (wild --server URL ...) use Wild Central.
A token has one scope: read (look only), operate (also add, deploy, update,
delete apps and set config) or admin (also instances, tokens, secret reveal).
A token is shown once, when created; only its hash is stored.`,
	}
	var scope string
	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a token (printed once)",
		Example: "  wild token create backup-script --scope read",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := auth.ParseScope(scope)
			if err != nil {
				return err
			}
			a, err := g.authStore()
			if err != nil {
				return err
			}
			tok, info, err := a.CreateToken(args[0], sc)
			if err != nil {
				return err
			}
			out := struct {
				Token string         `json:"token"`
				Info  auth.TokenInfo `json:"info"`
			}{tok, info}
			return g.Printer().Print(out, func(t *Table) {
				t.Line("%s", tok)
				t.Line("(token %s, scope %s: shown only this once; store it now)", info.ID, info.Scope)
			})
		},
	}
	create.Flags().StringVar(&scope, "scope", "read", "read, operate or admin")
	cmd.AddCommand(create, &cobra.Command{
		Use:   "list",
		Short: "List tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.authStore()
			if err != nil {
				return err
			}
			ts, err := a.Tokens()
			if err != nil {
				return err
			}
			return g.Printer().Print(ts, func(t *Table) {
				t.Header("id", "name", "scope", "created", "revoked")
				for _, x := range ts {
					t.Row(x.ID, x.Name, string(x.Scope), x.CreatedAt.Format("2006-01-02 15:04"), fmt.Sprint(x.Revoked))
				}
			})
		},
	}, &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.authStore()
			if err != nil {
				return err
			}
			if err := a.RevokeToken(args[0]); err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"revoked": args[0]}, func(t *Table) { t.Line("revoked %s", args[0]) })
		},
	})
	return cmd
}
