// Package daemon is Wild Central: one process serving the API, the web UI
// and background jobs over the same data dir the CLI uses. It composes the
// pieces (auth, the operation runner and event bus, the API) and owns the
// process concerns: listening, TLS, logs and graceful shutdown.
package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/wild-cloud/wild/internal/api"
	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/metrics"
	"github.com/wild-cloud/wild/internal/problem"
)

// Options configure the daemon.
type Options struct {
	DataDir string
	Listen  string // host:port; 127.0.0.1:5055 when empty
	TLSCert string
	TLSKey  string
	Catalog func() (*catalog.Catalog, error)
	Log     *slog.Logger
	// Ready is called once the daemon listens, with its base URL and, on
	// first start, the one-time setup link.
	Ready func(base, setupURL string)
	// Heartbeat overrides the SSE keep-alive (tests).
	Heartbeat time.Duration
	// Grace is how long running operations may take to finish on shutdown
	// before they are cancelled (20 s when zero).
	Grace time.Duration
	// ScheduleTick is how often scheduled jobs (backups) are checked; 30 s
	// when zero.
	ScheduleTick time.Duration
	// UI, when set, serves the web UI; it gets the API server to share
	// its authentication and service wiring.
	UI func(s *api.Server) http.Handler
}

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, o Options) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:5055"
	}
	if o.Grace == 0 {
		o.Grace = 20 * time.Second
	}
	dir := filepath.Join(o.DataDir, "central")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	lock := flock.New(filepath.Join(dir, "daemon.lock"))
	ok, err := lock.TryLock()
	if err != nil {
		return err
	}
	if !ok {
		return problem.New(problem.Conflict, "another wild serve is already running on "+o.DataDir)
	}
	defer lock.Unlock()

	bus, err := central.OpenBus(filepath.Join(dir, "events.jsonl"), 200_000)
	if err != nil {
		return fmt.Errorf("open the event journal: %w", err)
	}
	defer bus.Close()
	meter := metrics.New()
	runner, err := central.NewRunner(filepath.Join(dir, "runs"), bus, meter)
	if err != nil {
		return err
	}
	srv := api.New(http.NewServeMux(), api.Deps{
		Store: instance.NewStore(o.DataDir), Catalog: o.Catalog, Auth: auth.Open(dir),
		Limiter: auth.NewLimiter(5, time.Minute), Runner: runner, Bus: bus, Metrics: meter,
		Audit: central.OpenAudit(filepath.Join(dir, "audit.jsonl")), Log: o.Log,
		Heartbeat: o.Heartbeat, Secure: o.TLSCert != "",
	})
	if o.UI != nil {
		srv.Mount("/", o.UI(srv))
	}
	if o.ScheduleTick == 0 {
		o.ScheduleTick = 30 * time.Second
	}
	store := instance.NewStore(o.DataDir)
	sched := &central.Scheduler{Jobs: backupJobs(store), Start: startScheduledBackup(store, runner), Now: time.Now, Log: o.Log}
	sctx, stopSched := context.WithCancel(ctx)
	defer stopSched()
	go sched.Loop(sctx, o.ScheduleTick)
	return serve(ctx, o, srv, runner)
}

func serve(ctx context.Context, o Options, srv *api.Server, runner *central.Runner) error {
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (pass --listen HOST:PORT)", o.Listen, err)
	}
	baseCtx, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	hs := &http.Server{
		Handler:           srv.Handler(),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// Streams extend their own write deadline per event.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	setup, err := setupLink(srv.Auth, base)
	if err != nil {
		ln.Close()
		return err
	}
	o.Log.Info("wild central listening", "url", base, "setup_pending", setup != "")
	if o.Ready != nil {
		o.Ready(base, setup)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	o.Log.Info("shutting down", "running_operations", runner.Active())
	sctx, cancel := context.WithTimeout(context.Background(), o.Grace+10*time.Second)
	defer cancel()
	// Operations get the grace period to reach a safe point (new ones are
	// refused meanwhile), then are cancelled and recorded; their last
	// events reach the streams, which end after that.
	runner.Shutdown(sctx, o.Grace)
	endStreams()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	return nil
}

// setupLink makes the one-time link to set the admin password, when none
// is set yet. The token is in the fragment-free query so a browser can
// post it back; it is never logged.
func setupLink(a *auth.Store, base string) (string, error) {
	need, err := a.NeedsSetup()
	if err != nil || !need {
		return "", err
	}
	tok, err := a.NewSetupToken(auth.SetupTTL)
	if err != nil {
		return "", err
	}
	return base + "/setup?token=" + url.QueryEscape(tok), nil
}
