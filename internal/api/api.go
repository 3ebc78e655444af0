// Package api is Wild Central's HTTP API (/api/v1). Handlers translate
// HTTP to calls of the service layer (lifecycle, instance, catalog) and
// back; they hold no lifecycle logic. The OpenAPI 3.1 document is generated
// from the Go types by huma, which also validates every request against it.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"golang.org/x/sync/singleflight"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/metrics"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/wire"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// Deps is what the API serves.
type Deps struct {
	Store   *instance.Store
	Catalog func() (*catalog.Catalog, error)
	Auth    *auth.Store
	Limiter *auth.Limiter
	Runner  *central.Runner
	Bus     *central.Bus
	Metrics *metrics.Metrics
	Audit   *central.Audit
	Log     *slog.Logger
	// Heartbeat is the SSE keep-alive interval (15 s when zero).
	Heartbeat time.Duration
	// Secure marks cookies Secure (the daemon serves HTTPS).
	Secure bool
}

// Server holds the API's routes and their dependencies.
type Server struct {
	Deps
	api     huma.API
	mux     *http.ServeMux
	clients clients
	reads   singleflight.Group
}

// New builds the API on mux. The caller wraps mux with Middleware.
func New(mux *http.ServeMux, d Deps) *Server {
	installErrorShape()
	if d.Heartbeat == 0 {
		d.Heartbeat = 15 * time.Second
	}
	cfg := huma.DefaultConfig("Wild Central", "1.0.0")
	cfg.OpenAPIPath = Prefix + "/openapi"
	cfg.DocsPath = ""
	// No $schema links in every response body: clients do not need them.
	cfg.CreateHooks = nil
	cfg.SchemasPath = Prefix + "/schemas"
	cfg.Info.Description = "Manage Wild Cloud instances and apps. Every mutating call returns 202 with an operation; follow it at /api/v1/events."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"token":   {Type: "http", Scheme: "bearer", Description: "An API token from `wild token create`."},
		"session": {Type: "apiKey", In: "cookie", Name: SessionCookie, Description: "A browser session from /auth/login."},
	}
	s := &Server{Deps: d, mux: mux, api: humago.New(mux, cfg)}
	s.api.UseMiddleware(s.authorize)
	s.authRoutes()
	s.tokenRoutes()
	s.operationRoutes()
	s.catalogRoutes()
	s.instanceRoutes()
	s.appRoutes()
	s.backupRoutes()
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, string(problem.NotFound), "no such API route: "+r.Method+" "+r.URL.Path)
	})
	mux.Handle("GET /metrics", s.RequireHTTP(auth.Read, d.Metrics.Handler()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.ready)
	return s
}

// Mount serves h for everything the API does not route (the web UI).
// Unknown API paths still answer with the API's JSON error.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// OpenAPI returns the generated document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if _, err := s.Store.List(); err != nil {
		http.Error(w, "data dir unreadable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Error is the one error shape of the API.
type Error struct {
	Status int            `json:"-"`
	Body   wire.ErrorBody `json:"error"`
}

func (e *Error) Error() string  { return e.Body.Message }
func (e *Error) GetStatus() int { return e.Status }

var errorShapeOnce sync.Once

// installErrorShape makes huma's own errors (validation, unknown routes)
// use the API's error shape too. huma offers this as a package variable.
func installErrorShape() {
	errorShapeOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			var details []string
			for _, e := range errs {
				if e != nil {
					details = append(details, e.Error())
				}
			}
			if len(details) > 0 {
				msg = msg + ": " + strings.Join(details, "; ")
			}
			return &Error{Status: status, Body: wire.ErrorBody{Code: codeForStatus(status), Message: msg}}
		}
	})
}

var statusOf = map[problem.Code]int{
	problem.Invalid:            http.StatusBadRequest,
	problem.Unauthorized:       http.StatusUnauthorized,
	problem.Forbidden:          http.StatusForbidden,
	problem.NotFound:           http.StatusNotFound,
	problem.Conflict:           http.StatusConflict,
	problem.Breaking:           http.StatusConflict,
	problem.PreconditionFailed: http.StatusPreconditionFailed,
	problem.TooManyRequests:    http.StatusTooManyRequests,
	problem.Unavailable:        http.StatusServiceUnavailable,
	problem.Internal:           http.StatusInternalServerError,
}

func codeForStatus(status int) problem.Code {
	for c, s := range statusOf {
		if s == status && c != problem.Breaking {
			return c
		}
	}
	if status == http.StatusUnprocessableEntity {
		return problem.Invalid
	}
	return problem.Internal
}

// fail turns a service-layer error into the API's error.
func fail(err error) error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	body := wire.BodyOf(err)
	status, ok := statusOf[body.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return &Error{Status: status, Body: *body}
}

func invalid(format string, args ...any) error {
	return fail(problem.New(problem.Invalid, fmt.Sprintf(format, args...)))
}

type ctxKey int

const principalKey ctxKey = iota

// PrincipalOf returns who made the request.
func PrincipalOf(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey).(auth.Principal)
	return p
}

// op describes one route. Scope "" means open (no authentication).
type op struct {
	id, method, path, summary string
	scope                     auth.Scope
	status                    int
	tags                      []string
}

func register[I, O any](s *Server, o op, h func(context.Context, *I) (*O, error)) {
	hop := huma.Operation{
		OperationID: o.id, Method: o.method, Path: Prefix + o.path, Summary: o.summary,
		Tags: o.tags, DefaultStatus: o.status, Metadata: map[string]any{"scope": o.scope},
	}
	if o.scope != "" {
		hop.Security = []map[string][]string{{"token": {}}, {"session": {}}}
		hop.Description = fmt.Sprintf("Needs scope %q.", o.scope)
	}
	huma.Register(s.api, hop, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, fail(err)
		}
		return out, nil
	})
}
