package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/daemon"
	"github.com/wild-cloud/wild/internal/wire"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// daemonT is a real Wild Central on a loopback port, in this process.
type daemonT struct {
	t      testing.TB
	base   string
	data   string
	setup  string
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
	// bodies keeps every response body, to check no secret ever leaks.
	mu     sync.Mutex
	bodies []string
	cookie string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t testing.TB, data string, cat func() (*catalog.Catalog, error)) *daemonT {
	t.Helper()
	if cat == nil {
		cat = func() (*catalog.Catalog, error) { return catalog.Bundled(), nil }
	}
	d := &daemonT{t: t, data: data, log: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	ready := make(chan struct{})
	go func() {
		d.done <- daemon.Run(ctx, daemon.Options{
			DataDir: data, Listen: "127.0.0.1:0", Catalog: cat,
			Log:       slog.New(slog.NewJSONHandler(d.log, nil)),
			Heartbeat: 200 * time.Millisecond, Grace: 2 * time.Second, ScheduleTick: 300 * time.Millisecond,
			Ready: func(base, setup string) { d.base, d.setup = base, setup; close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-d.done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not start in 20 s")
	}
	t.Cleanup(d.stop)
	return d
}

func (d *daemonT) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("daemon: %v", err)
		}
	case <-time.After(30 * time.Second):
		d.t.Error("daemon did not stop in 30 s")
	}
}

// setupAdmin completes first-run setup and keeps the session cookie.
func (d *daemonT) setupAdmin() {
	d.t.Helper()
	u, err := url.Parse(d.setup)
	if err != nil || u.Query().Get("token") == "" {
		d.t.Fatalf("no setup link printed: %q", d.setup)
	}
	res := d.do("POST", "/api/v1/auth/setup", "", map[string]string{"token": u.Query().Get("token"), "password": adminPassword})
	if res.status != 200 {
		d.t.Fatalf("setup: %d %s", res.status, res.body)
	}
	for _, c := range res.cookies {
		if c.Name == "wild_session" {
			d.cookie = c.Value
		}
	}
	if d.cookie == "" {
		d.t.Fatal("setup set no session cookie")
	}
}

const adminPassword = "correct horse battery"

type resp struct {
	status  int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request; auth is "" (none), "cookie" (the admin session) or
// a bearer token.
func (d *daemonT) do(method, path, authz string, body any) resp {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.base+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch authz {
	case "":
	case "cookie":
		req.AddCookie(&http.Cookie{Name: "wild_session", Value: d.cookie})
	default:
		req.Header.Set("Authorization", "Bearer "+authz)
	}
	return d.send(req)
}

func (d *daemonT) send(req *http.Request) resp {
	d.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	d.mu.Lock()
	d.bodies = append(d.bodies, string(b))
	d.mu.Unlock()
	return resp{status: res.StatusCode, body: string(b), header: res.Header, cookies: res.Cookies()}
}

func (d *daemonT) token(scope string) string {
	d.t.Helper()
	res := d.do("POST", "/api/v1/tokens", "cookie", map[string]string{"name": "t-" + scope, "scope": scope})
	if res.status != 201 {
		d.t.Fatalf("create token: %d %s", res.status, res.body)
	}
	var out struct{ Token string }
	res.json(d.t, &out)
	return out.Token
}

// wait follows an operation until it ends and returns its record.
func (d *daemonT) wait(authz, id string) wire.RunInfo {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		res := d.do("GET", "/api/v1/operations/"+id, authz, nil)
		var ri wire.RunInfo
		res.json(d.t, &ri)
		if ri.Terminal() {
			return ri
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.t.Fatalf("operation %s did not end", id)
	return wire.RunInfo{}
}

// accepted checks a 202 and returns the operation id.
func accepted(t testing.TB, r resp) string {
	t.Helper()
	if r.status != 202 {
		t.Fatalf("want 202, got %d: %s", r.status, r.body)
	}
	var ri wire.RunInfo
	r.json(t, &ri)
	if ri.ID == "" || r.header.Get("Location") != "/api/v1/operations/"+ri.ID {
		t.Fatalf("202 without an operation: %s (Location %q)", r.body, r.header.Get("Location"))
	}
	return ri.ID
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id   string
	kind string
	env  wire.Envelope
}

// openStream connects to /api/v1/events; events arrive on the channel,
// which closes when the server ends the stream.
func (d *daemonT) openStream(ctx context.Context, authz, query, lastID string) (<-chan sseEvent, int) {
	d.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", d.base+"/api/v1/events"+query, nil)
	if authz != "" {
		req.Header.Set("Authorization", "Bearer "+authz)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		d.t.Fatalf("events: %d %s", res.StatusCode, b)
	}
	ch := make(chan sseEvent, 1024)
	go func() {
		defer close(ch)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.env)
			case strings.HasPrefix(line, ":"):
				ch <- sseEvent{kind: "comment:" + strings.TrimSpace(line[1:])}
			}
		}
	}()
	return ch, res.StatusCode
}

func (d *daemonT) assertNoSecret(values []string) {
	d.t.Helper()
	d.mu.Lock()
	all := strings.Join(d.bodies, "\n")
	d.mu.Unlock()
	logs := d.log.String()
	for _, v := range values {
		if len(v) < 6 {
			continue
		}
		if strings.Contains(all, v) {
			d.t.Errorf("a secret value appeared in a response body")
		}
		if strings.Contains(logs, v) {
			d.t.Errorf("a secret value appeared in the daemon log")
		}
	}
	if !strings.Contains(logs, `"request_id"`) {
		d.t.Errorf("the daemon log has no request ids: %.300s", logs)
	}
	_ = fmt.Sprint
}
