package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/wild-cloud/wild/internal/wire"
)

// Get reads path (under /api/v1) as the principal of r, through the API's
// own routes, and decodes the JSON answer into out. The web UI renders its
// pages from these reads, so a page shows exactly what the API answers and
// is authorised exactly as the API authorises.
func (s *Server) Get(ctx context.Context, r *http.Request, path string, out any) error {
	return s.Read(ctx, r, http.MethodGet, path, nil, out)
}

// Read is Get for reads that take a body (a POST that changes nothing,
// like update-review).
func (s *Server) Read(ctx context.Context, r *http.Request, method, path string, in, out any) error {
	var payload io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		payload = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, Prefix+path, payload)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range []string{"Cookie", "Authorization"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.RemoteAddr = r.RemoteAddr
	rec := &recorder{h: http.Header{}, status: http.StatusOK}
	s.mux.ServeHTTP(rec, req)
	if rec.status >= 300 {
		e := &Error{Status: rec.status}
		if json.Unmarshal(rec.b.Bytes(), e) != nil || e.Body.Message == "" {
			e.Body = wire.ErrorBody{Code: codeForStatus(rec.status), Message: http.StatusText(rec.status)}
		}
		return e
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(&rec.b, 64<<20)).Decode(out)
}

// recorder is a minimal in-memory ResponseWriter for Get.
type recorder struct {
	h      http.Header
	b      bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(p []byte) (int, error) { return r.b.Write(p) }
func (r *recorder) WriteHeader(code int)        { r.status = code }
