package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wild-cloud/wild/internal/client"
	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/problem"
)

// remoteOK marks the commands that also run through Wild Central with
// --server; the others refuse there instead of acting on local files.
const remoteOK = "remote"

func remoteCapable(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[remoteOK] = "yes"
	return cmd
}

// remote is the Wild Central a command runs through, nil in local mode.
type remote struct {
	c        *client.Client
	instance string
}

func (g *Globals) server() string {
	if g.Server != "" {
		return g.Server
	}
	return getenv("WILD_SERVER")
}

// checkRemote refuses a local-only command in remote mode.
func (g *Globals) checkRemote(cmd *cobra.Command) error {
	if g.server() == "" || cmd.Annotations[remoteOK] != "" || !cmd.Runnable() {
		return nil
	}
	return problem.New(problem.Invalid, fmt.Sprintf("'%s' runs only locally; drop --server (or WILD_SERVER) for it", cmd.CommandPath()))
}

func (g *Globals) remote(ctx context.Context) (*remote, error) {
	base := g.server()
	if base == "" {
		return nil, nil
	}
	tok := getenv("WILD_TOKEN")
	if tok == "" {
		creds, err := g.readCredentials()
		if err != nil {
			return nil, err
		}
		tok = creds[strings.TrimRight(base, "/")]
	}
	if tok == "" {
		return nil, problem.New(problem.Unauthorized, "no token for "+base).With("login", "sign in first", "server", base)
	}
	r := &remote{c: client.New(base, tok)}
	var err error
	r.instance, err = r.pickInstance(ctx, g.instanceName())
	return r, err
}

func (g *Globals) instanceName() string {
	if g.Instance != "" {
		return g.Instance
	}
	return getenv("WILD_INSTANCE")
}

// pickInstance mirrors local resolution: the named one, else the current
// one, else the only one.
func (r *remote) pickInstance(ctx context.Context, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	var out struct{ Instances []instance.Info }
	if err := r.c.Do(ctx, http.MethodGet, "/instances", nil, &out); err != nil {
		return "", err
	}
	for _, i := range out.Instances {
		if i.Current {
			return i.Name, nil
		}
	}
	if len(out.Instances) == 1 {
		return out.Instances[0].Name, nil
	}
	return "", problem.New(problem.Invalid, "no instance chosen on the server").With("instance.use", "pass --instance NAME")
}

func (r *remote) app(app, rest string) string {
	return "/instances/" + url.PathEscape(r.instance) + "/apps/" + url.PathEscape(app) + rest
}

func (r *remote) inst(rest string) string { return "/instances/" + url.PathEscape(r.instance) + rest }

// credentialsFile keeps tokens by server, 0600, beside the data dir.
func (g *Globals) credentialsFile() (string, error) {
	dir, err := g.ResolveDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "credentials.json"), nil
}

func (g *Globals) readCredentials() (map[string]string, error) {
	f, err := g.credentialsFile()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	creds := map[string]string{}
	if err := json.Unmarshal(b, &creds); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove it)", f, err)
	}
	return creds, nil
}

func (g *Globals) saveCredential(server, token string) error {
	creds, err := g.readCredentials()
	if err != nil {
		return err
	}
	creds[strings.TrimRight(server, "/")] = token
	f, err := g.credentialsFile()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(creds, "", "  ")
	return fsutil.WriteFileAtomic(f, b, 0o600)
}

func loginCmd(g *Globals) *cobra.Command {
	var token string
	cmd := &cobra.Command{
		Use:   "login URL",
		Short: "Sign the CLI in to a Wild Central (then use --server URL)",
		Long: `Store a token for a Wild Central so that 'wild --server URL ...' (or
WILD_SERVER=URL) runs commands through it. Without --token, asks for the admin
password and has the server issue a new admin token for this CLI. The token is
kept in <data-dir>/credentials.json (mode 0600).`,
		Example: `  wild login http://127.0.0.1:5055
  wild login https://central.example.com --token "$WILD_TOKEN"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			base := strings.TrimRight(args[0], "/")
			if token == "" || token == "-" {
				pw, err := readSecretInput(g, "Admin password: ")
				if err != nil {
					return err
				}
				host, _ := os.Hostname()
				var out struct{ Token string }
				if err := client.New(base, "").Do(cmd.Context(), http.MethodPost, "/auth/login",
					map[string]string{"password": pw, "issueToken": "cli@" + host}, &out); err != nil {
					return err
				}
				token = out.Token
			}
			var me struct{ Principal struct{ Name, Scope string } }
			if err := client.New(base, token).Do(cmd.Context(), http.MethodGet, "/auth/me", nil, &me); err != nil {
				return err
			}
			if err := g.saveCredential(base, token); err != nil {
				return err
			}
			return g.Printer().Print(map[string]string{"server": base, "name": me.Principal.Name, "scope": me.Principal.Scope}, func(t *Table) {
				t.Line("signed in to %s as %s (scope %s); use: wild --server %s ...", base, me.Principal.Name, me.Principal.Scope, base)
			})
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "an API token from 'wild token create' (instead of the admin password)")
	return cmd
}

// readSecretInput reads one line without echo on a terminal, else from
// standard input.
func readSecretInput(g *Globals, prompt string) (string, error) {
	if f, ok := g.In.(*os.File); ok && isTTY(f) {
		fmt.Fprint(g.ErrOut, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(g.ErrOut)
		return string(b), err
	}
	var line string
	_, err := fmt.Fscanln(g.In, &line)
	return line, err
}

// The service calls below run locally or through Wild Central, and give
// back the same types, so each command prints one way for both.

func (r *remote) listApps(ctx context.Context) ([]lifecycle.AppSummary, error) {
	var out struct{ Apps []lifecycle.AppSummary }
	return out.Apps, r.c.Do(ctx, http.MethodGet, r.inst("/apps"), nil, &out)
}

func (r *remote) listInstances(ctx context.Context) ([]instance.Info, error) {
	var out struct{ Instances []instance.Info }
	return out.Instances, r.c.Do(ctx, http.MethodGet, "/instances", nil, &out)
}

func (r *remote) showApp(ctx context.Context, app string) (*lifecycle.AppDetail, error) {
	var d lifecycle.AppDetail
	return &d, r.c.Do(ctx, http.MethodGet, r.app(app, ""), nil, &d)
}

func (r *remote) addApp(ctx context.Context, g *Globals, a *lifecycle.Add) (*lifecycle.AddResult, error) {
	var res lifecycle.AddResult
	_, err := r.c.Run(ctx, http.MethodPost, r.inst("/apps"), map[string]any{"name": a.App, "deps": a.Deps, "set": a.Set}, g.observer(), &res)
	return &res, err
}

// addApps adds apps in one transaction on the server, as AddMany does here.
func (r *remote) addApps(ctx context.Context, g *Globals, apps []string, values map[string]lifecycle.AddValues) ([]*lifecycle.AddResult, error) {
	var res []*lifecycle.AddResult
	_, err := r.c.Run(ctx, http.MethodPost, r.inst("/apps/batch"), map[string]any{"names": apps, "values": values}, g.observer(), &res)
	return res, err
}

func (r *remote) deploy(ctx context.Context, g *Globals, d *lifecycle.Deploy, apps []string) ([]*lifecycle.DeployResult, error) {
	var out []*lifecycle.DeployResult
	for _, app := range apps {
		var res lifecycle.DeployResult
		var err error
		if d.DryRun {
			err = r.c.Do(ctx, http.MethodPost, r.app(app, "/deploy-preview"), nil, &res)
		} else {
			_, err = r.c.Run(ctx, http.MethodPost, r.app(app, "/deploy"), map[string]any{
				"withDeps": d.WithDeps, "noWait": d.NoWait, "timeoutSeconds": int(d.Timeout.Seconds())}, g.observer(), &res)
		}
		if res.App != "" {
			out = append(out, &res)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (r *remote) status(ctx context.Context, app string) (*lifecycle.StatusResult, error) {
	var res lifecycle.StatusResult
	return &res, r.c.Do(ctx, http.MethodGet, r.app(app, "/status"), nil, &res)
}

func (r *remote) diff(ctx context.Context, app string) (*lifecycle.DiffResult, error) {
	var res lifecycle.DiffResult
	return &res, r.c.Do(ctx, http.MethodGet, r.app(app, "/diff"), nil, &res)
}

func (r *remote) deleteApp(ctx context.Context, g *Globals, app string, force bool) (*lifecycle.DeleteResult, error) {
	var res lifecycle.DeleteResult
	q := ""
	if force {
		q = "?force=true"
	}
	_, err := r.c.Run(ctx, http.MethodDelete, r.app(app, q), nil, g.observer(), &res)
	return &res, err
}

func (r *remote) getConfig(ctx context.Context, path string) (any, error) {
	var out struct{ Value any }
	return out.Value, r.c.Do(ctx, http.MethodGet, r.inst("/config?path="+url.QueryEscape(path)), nil, &out)
}

// set is config set or secret set ("config" or "secret").
func (r *remote) set(ctx context.Context, what, path, value string) error {
	rest := "/config"
	if what == "secret" {
		rest = "/secrets"
	}
	return r.c.Do(ctx, http.MethodPut, r.inst(rest), map[string]string{"path": path, "value": value}, nil)
}

func (r *remote) outdated(ctx context.Context, app string) ([]lifecycle.OutdatedApp, error) {
	var out struct{ Apps []lifecycle.OutdatedApp }
	if err := r.c.Do(ctx, http.MethodGet, r.inst("/outdated"), nil, &out); err != nil {
		return nil, err
	}
	if app == "" {
		return out.Apps, nil
	}
	rows := []lifecycle.OutdatedApp{}
	for _, a := range out.Apps {
		if a.App == app {
			rows = append(rows, a)
		}
	}
	return rows, nil
}

// update reviews first (the server writes nothing), asks unless yes, then
// runs the update as an operation.
func (r *remote) update(ctx context.Context, g *Globals, u *lifecycle.Update, yes, noBackup bool) (*lifecycle.UpdateReview, error) {
	if u.Continue {
		return nil, problem.New(problem.Invalid, "--continue runs only locally (git mode); drop --server for it")
	}
	body := map[string]any{"renames": u.Renames, "acceptRemoved": u.AcceptRemoved, "acceptBreaking": u.AcceptBreaking,
		"deps": u.Deps, "fresh": u.Fresh, "deploy": u.Deploy, "noBackup": noBackup}
	if u.DryRun || !yes {
		var rv lifecycle.UpdateReview
		if err := r.c.Do(ctx, http.MethodPost, r.app(u.App, "/update-review"), body, &rv); err != nil || u.DryRun || rv.UpToDate {
			return &rv, err
		}
		u.Confirm = func(*lifecycle.UpdateReview) (bool, error) { return true, nil }
		if ok, err := confirmUpdate(g, &rv); err != nil || !ok {
			if err == nil {
				err = lifecycle.ErrCancelled
			}
			return &rv, err
		}
	}
	var rv lifecycle.UpdateReview
	_, err := r.c.Run(ctx, http.MethodPost, r.app(u.App, "/update"), body, g.observer(), &rv)
	return &rv, err
}

func (r *remote) rollback(ctx context.Context, g *Globals, rb *lifecycle.Rollback) (*lifecycle.RollbackResult, error) {
	var res lifecycle.RollbackResult
	_, err := r.c.Run(ctx, http.MethodPost, r.app(rb.App, "/rollback"), map[string]string{"snapshot": rb.Snapshot, "to": rb.To}, g.observer(), &res)
	return &res, err
}
