package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openRoutes need no authentication; every other route must answer 401.
var openRoutes = map[string]bool{"setup": true, "login": true}

// Every route in the OpenAPI document refuses an anonymous caller, so no
// route can be forgotten when a new one is added.
func TestEveryRouteNeedsAuth(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	res := d.do("GET", "/api/v1/openapi.json", "", nil)
	if res.status != 200 {
		t.Fatalf("openapi.json: %d", res.status)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct{ OperationID string }
	}
	res.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q, want 3.1", doc.OpenAPI)
	}
	checked := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if openRoutes[op.OperationID] {
				continue
			}
			p := strings.NewReplacer("{instance}", "home", "{app}", "ghost", "{id}", "x").Replace(path)
			r := d.do(strings.ToUpper(method), p, "", map[string]any{})
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s without auth: %d, want 401", method, path, r.status)
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			r.json(t, &e)
			if e.Error.Code != "unauthorized" || e.Error.Message == "" {
				t.Errorf("%s %s: error shape %s", method, path, r.body)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Fatalf("only %d routes in the OpenAPI document", checked)
	}
	for _, p := range []string{"/metrics"} {
		if r := d.do("GET", p, "", nil); r.status != 401 {
			t.Errorf("GET %s without auth: %d", p, r.status)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := d.do("GET", p, "", nil); r.status != 200 {
			t.Errorf("GET %s: %d", p, r.status)
		}
	}
}

func TestScopesTokensAndCSRF(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	if r := d.do("POST", "/api/v1/auth/setup", "", map[string]string{"token": "wrong", "password": adminPassword}); r.status != 401 {
		t.Fatalf("setup with a wrong token: %d %s", r.status, r.body)
	}
	d.setupAdmin()
	if r := d.do("POST", "/api/v1/auth/setup", "", map[string]string{"token": "x", "password": adminPassword}); r.status == 200 {
		t.Fatal("setup ran twice")
	}
	read, operate := d.token("read"), d.token("operate")

	// A read token can look but not act.
	if r := d.do("GET", "/api/v1/instances", read, nil); r.status != 200 {
		t.Fatalf("read token list: %d %s", r.status, r.body)
	}
	r := d.do("POST", "/api/v1/instances/home/apps/ghost/deploy", read, map[string]any{})
	if r.status != 403 || !strings.Contains(r.body, `"forbidden"`) {
		t.Fatalf("read token deploy: %d %s", r.status, r.body)
	}
	// Operate cannot manage tokens; admin (the session) can.
	if r := d.do("POST", "/api/v1/tokens", operate, map[string]string{"name": "x", "scope": "admin"}); r.status != 403 {
		t.Fatalf("operate token made a token: %d", r.status)
	}

	// Revoked tokens fail at once.
	var list struct{ Tokens []struct{ ID, Name string } }
	d.do("GET", "/api/v1/tokens", "cookie", nil).json(t, &list)
	for _, tk := range list.Tokens {
		if tk.Name == "t-read" {
			if r := d.do("DELETE", "/api/v1/tokens/"+tk.ID, "cookie", nil); r.status != 204 {
				t.Fatalf("revoke: %d %s", r.status, r.body)
			}
		}
	}
	if r := d.do("GET", "/api/v1/instances", read, nil); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}

	// Tokens are stored hashed.
	b, err := os.ReadFile(filepath.Join(d.data, "central", "auth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), strings.SplitN(operate, "_", 3)[2]) || strings.Contains(string(b), adminPassword) {
		t.Fatal("auth.json holds a token or the password in clear")
	}
	if st, _ := os.Stat(filepath.Join(d.data, "central", "auth.json")); st.Mode().Perm() != 0o600 {
		t.Fatalf("auth.json mode %v", st.Mode().Perm())
	}

	// A cross-origin state-changing call with a valid cookie is refused.
	req, _ := http.NewRequest("POST", d.base+"/api/v1/tokens", strings.NewReader(`{"name":"evil","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: "wild_session", Value: d.cookie})
	if r := d.send(req); r.status != 403 {
		t.Fatalf("cross-origin POST with cookie: %d %s", r.status, r.body)
	}
	d.do("GET", "/api/v1/tokens", "cookie", nil).json(t, &list)
	for _, tk := range list.Tokens {
		if tk.Name == "evil" {
			t.Fatal("the cross-origin request created a token")
		}
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	d.setupAdmin()
	for i := 0; i < 5; i++ {
		if r := d.do("POST", "/api/v1/auth/login", "", map[string]string{"password": "wrong password " + strconv.Itoa(i)}); r.status != 401 {
			t.Fatalf("bad login %d: %d", i, r.status)
		}
	}
	r := d.do("POST", "/api/v1/auth/login", "", map[string]string{"password": adminPassword})
	if r.status != 429 {
		t.Fatalf("6th attempt after 5 failures: %d, want 429", r.status)
	}
	// The CLI's login gets a token instead of a cookie.
	d2 := startDaemon(t, t.TempDir(), nil)
	d2.setupAdmin()
	r = d2.do("POST", "/api/v1/auth/login", "", map[string]string{"password": adminPassword, "issueToken": "cli"})
	var out struct{ Token string }
	r.json(t, &out)
	if r.status != 200 || !strings.HasPrefix(out.Token, "wild_") || len(r.cookies) != 0 {
		t.Fatalf("login for a token: %d %s", r.status, r.body)
	}
	if r := d2.do("GET", "/api/v1/auth/me", out.Token, nil); r.status != 200 || !strings.Contains(r.body, `"admin"`) {
		t.Fatalf("me with the CLI token: %d %s", r.status, r.body)
	}
}

// Ids that would become paths are refused, whatever their encoding.
func TestPathTraversalRefused(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	d.setupAdmin()
	outside := filepath.Join(filepath.Dir(d.data), "victim.json")
	os.WriteFile(outside, []byte(`{"id":"victim","status":"succeeded","by":"VICTIMDATA"}`), 0o600)
	for _, p := range []string{
		"/api/v1/operations/..%2F..%2Fvictim",
		"/api/v1/operations/..",
		"/api/v1/instances/..%2F..%2Fetc",
		"/api/v1/instances/home/apps/..%2Fsecrets",
		"/api/v1/instances/Home_1/apps",
		"/api/v1/catalog/..%2F..%2Fetc",
		"/api/v1/operations?instance=..%2Fx",
		"/api/v1/events?app=..%2Fx",
	} {
		r := d.do("GET", p, "cookie", nil)
		if r.status < 400 || r.status >= 500 || strings.Contains(r.body, "VICTIMDATA") {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
}

func TestErrorsHaveOneShapeWithHints(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	d.setupAdmin()
	r := d.do("GET", "/api/v1/operations/op_nope", "cookie", nil)
	var e struct {
		Error struct {
			Code, Message string
			Hint          *struct{ Action, Text string }
		}
	}
	r.json(t, &e)
	if r.status != 404 || e.Error.Code != "not_found" || e.Error.Hint == nil || e.Error.Hint.Action != "operation.list" {
		t.Fatalf("unknown operation: %d %s", r.status, r.body)
	}
	r = d.do("POST", "/api/v1/instances", "cookie", map[string]any{"name": 5})
	r.json(t, &e)
	if r.status != 422 && r.status != 400 || e.Error.Code != "invalid" {
		t.Fatalf("bad body: %d %s", r.status, r.body)
	}
	r = d.do("GET", "/api/v1/nothing-here", "cookie", nil)
	if r.status != 404 || !json.Valid([]byte(r.body)) {
		t.Fatalf("unknown route: %d %s", r.status, r.body)
	}
}

// Operations run in the daemon; their status changes are events with
// ids, and Last-Event-ID resumes a stream with nothing lost or repeated.
func TestEventsReplayWithoutGap(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	d.setupAdmin()
	tok := d.token("admin")
	create := func(name string) string {
		id := accepted(t, d.do("POST", "/api/v1/instances", tok, map[string]string{"name": name, "domain": name + ".example.com"}))
		if ri := d.wait(tok, id); ri.Status != "succeeded" {
			t.Fatalf("create %s: %+v", name, ri)
		}
		return id
	}
	create("one")
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := d.openStream(ctx, tok, "", "")
	var seen []sseEvent
	for len(seen) < 2 {
		ev := <-ch
		if ev.id != "" {
			seen = append(seen, ev)
		}
	}
	cancel() // the client goes away mid-stream
	create("two")
	create("three")

	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	ch2, _ := d.openStream(ctx2, tok, "", seen[len(seen)-1].id)
	heartbeat := false
	for len(seen) < 6 {
		ev, ok := <-ch2
		if !ok {
			t.Fatalf("stream ended after %d events", len(seen))
		}
		if ev.kind == "comment:heartbeat" {
			heartbeat = true
			continue
		}
		if ev.id != "" {
			seen = append(seen, ev)
		}
	}
	for i, ev := range seen {
		id, _ := strconv.Atoi(ev.id)
		if id != i+1 || ev.env.ID != int64(id) || ev.kind != "status" {
			t.Fatalf("event %d: id %s kind %s (want consecutive ids from 1, no gap or repeat)", i, ev.id, ev.kind)
		}
	}
	for !heartbeat {
		ev, ok := <-ch2
		if !ok {
			t.Fatal("no heartbeat before the stream ended")
		}
		heartbeat = ev.kind == "comment:heartbeat"
	}

	// A stream for one operation replays it and ends on its terminal state.
	id := create("four")
	ch3, _ := d.openStream(context.Background(), tok, "?op="+id, "")
	var last sseEvent
	for ev := range ch3 {
		if ev.id != "" {
			last = ev
		}
	}
	if last.env.Op != id || last.env.Status != "succeeded" {
		t.Fatalf("op stream ended on %+v", last.env)
	}
}
