package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/wild-cloud/wild/internal/auth"
)

const (
	remoteKey ctxKey = iota + 100
	requestIDKey
)

// MaxBody bounds request bodies (a kubeconfig upload is the largest).
const MaxBody = 4 << 20

func remoteOf(ctx context.Context) string {
	r, _ := ctx.Value(remoteKey).(string)
	return r
}

// RequestID returns the id the daemon gave the request.
func RequestID(ctx context.Context) string {
	r, _ := ctx.Value(requestIDKey).(string)
	return r
}

// Handler wraps the mux with what every request gets: panic recovery, a
// request id, a structured log line, latency metrics, a body size limit and
// cross-origin protection for state-changing calls.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	return s.observe(cop.Handler(limitBody(s.mux)))
}

// RequireHTTP guards a plain http handler (outside huma) with a scope.
func (s *Server) RequireHTTP(need auth.Scope, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Authenticate(r)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "unauthorized", "sign in first: not signed in or the credentials are wrong")
			return
		}
		if !p.Scope.Allows(need) {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("this needs scope %q", need))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", code, msg)
}

func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		}
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines (SSE).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		ctx := context.WithValue(r.Context(), remoteKey, clientIP(r.RemoteAddr))
		ctx = context.WithValue(ctx, requestIDKey, id)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-Id", id)
		defer func() {
			if p := recover(); p != nil {
				s.Log.Error("panic", "request_id", id, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "internal", "internal error; the daemon log has the details (request "+id+")")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.Metrics.ObserveHTTP(route, r.Method, sw.status, d)
			// The query string is left out: it may carry a setup token.
			s.Log.LogAttrs(r.Context(), levelFor(sw.status), "http", slog.String("request_id", id),
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
				slog.Int("status", sw.status), slog.Duration("duration", d), slog.String("remote", clientIP(r.RemoteAddr)))
		}()
		h.ServeHTTP(sw, r)
	})
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
