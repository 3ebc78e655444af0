// Package web is Wild Central's browser UI. Pages are rendered on the
// server with html/template from reads of the JSON API (api.Server.Get), so
// a page shows what the API answers, authorised as the API authorises.
// Actions are fetch() calls from static/app.js to the same JSON API, and
// progress is the browser's native EventSource on /api/v1/events: no build
// step, no framework, everything embedded in the wild binary.
package web

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/api"
	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lazyre"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/wire"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// UI serves the pages.
type UI struct {
	api   *api.Server
	pages map[string]*template.Template
}

// New builds the UI on the API server s; it fits daemon.Options.UI.
func New(s *api.Server) http.Handler {
	u := &UI{api: s, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{"attention": needsAttention, "join": strings.Join, "path": url.PathEscape, "bytes": humanBytes, "seconds": humanSeconds}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fields.html"))
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		if n == "templates/layout.html" || n == "templates/fields.html" {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
		u.pages[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /setup", u.setup)
	mux.HandleFunc("GET /login", u.login)
	mux.HandleFunc("GET /{$}", u.signedIn(u.root))
	mux.HandleFunc("GET /i/{inst}", u.signedIn(u.home))
	mux.HandleFunc("GET /i/{inst}/catalog", u.signedIn(u.catalog))
	mux.HandleFunc("GET /i/{inst}/add/{app}", u.signedIn(u.add))
	mux.HandleFunc("GET /i/{inst}/apps/{app}", u.signedIn(u.app))
	mux.HandleFunc("GET /i/{inst}/apps/{app}/update", u.signedIn(u.update))
	mux.HandleFunc("GET /i/{inst}/apps/{app}/delete", u.signedIn(u.remove))
	mux.HandleFunc("GET /i/{inst}/apps/{app}/backups", u.signedIn(u.backups))
	mux.HandleFunc("GET /i/{inst}/settings", u.signedIn(u.settings))
	mux.HandleFunc("GET /i/{inst}/ops/{id}", u.signedIn(u.op))
	return headers(mux)
}

// headers adds a strict content security policy: only our own scripts run.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title    string
	Inst     string
	Insts    []instance.Info
	Operator bool // may act (operate scope); read-only principals see no buttons
	Admin    bool
	Signed   bool
	Err      *wire.ErrorBody
	Data     any
}

func (u *UI) render(w http.ResponseWriter, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if p.Err != nil {
		w.WriteHeader(http.StatusBadRequest)
	}
	if err := u.pages[name].ExecuteTemplate(w, "layout.html", p); err != nil {
		u.api.Log.Error("render page", "page", name, "err", err)
	}
}

type handler func(w http.ResponseWriter, r *http.Request, p page)

// signedIn sends strangers to the login page and fills the principal.
func (u *UI) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pr, err := u.api.Authenticate(r)
		if err != nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		p := page{Signed: true, Operator: pr.Scope.Allows(auth.Operate), Admin: pr.Scope.Allows(auth.Admin), Inst: r.PathValue("inst")}
		var insts struct{ Instances []instance.Info }
		if err := u.api.Get(r.Context(), r, "/instances", &insts); err != nil {
			u.fail(w, p, err)
			return
		}
		p.Insts = insts.Instances
		h(w, r, p)
	}
}

// fail renders the API's error (message and hint) as a page.
func (u *UI) fail(w http.ResponseWriter, p page, err error) {
	var ae *api.Error
	if errors.As(err, &ae) {
		p.Err = &ae.Body
	} else {
		p.Err = &wire.ErrorBody{Code: "internal", Message: err.Error()}
	}
	p.Title = "Something went wrong"
	u.render(w, "error", p)
}

func (u *UI) setup(w http.ResponseWriter, r *http.Request) {
	need, _ := u.api.Auth.NeedsSetup()
	u.render(w, "setup", page{Title: "Set up Wild Central", Data: map[string]any{"Token": r.URL.Query().Get("token"), "Needed": need}})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	need, _ := u.api.Auth.NeedsSetup()
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/"
	}
	u.render(w, "login", page{Title: "Sign in", Data: map[string]any{"Next": next, "NeedsSetup": need}})
}

func (u *UI) root(w http.ResponseWriter, r *http.Request, p page) {
	for _, i := range p.Insts {
		if i.Current {
			http.Redirect(w, r, "/i/"+url.PathEscape(i.Name), http.StatusSeeOther)
			return
		}
	}
	if len(p.Insts) > 0 {
		http.Redirect(w, r, "/i/"+url.PathEscape(p.Insts[0].Name), http.StatusSeeOther)
		return
	}
	p.Title = "Create your first instance"
	u.render(w, "newinstance", p)
}

type homeData struct {
	Attention []lifecycle.AppSummary
	Added     []lifecycle.AppSummary
	Outdated  map[string]string
}

// needsAttention is the order of trouble: what to look at first.
func needsAttention(state string) int {
	switch state {
	case "stuck", "failed":
		return 1
	case "degraded":
		return 2
	case "drifted":
		return 3
	case "added":
		return 5
	}
	return 0
}

func (u *UI) home(w http.ResponseWriter, r *http.Request, p page) {
	var apps struct{ Apps []lifecycle.AppSummary }
	if err := u.api.Get(r.Context(), r, "/instances/"+url.PathEscape(p.Inst)+"/apps", &apps); err != nil {
		u.fail(w, p, err)
		return
	}
	var out struct{ Apps []lifecycle.OutdatedApp }
	_ = u.api.Get(r.Context(), r, "/instances/"+url.PathEscape(p.Inst)+"/outdated", &out)
	d := homeData{Outdated: map[string]string{}}
	for _, o := range out.Apps {
		d.Outdated[o.App] = o.Available
	}
	for _, a := range apps.Apps {
		if a.State == "available" {
			continue
		}
		d.Added = append(d.Added, a)
		if needsAttention(a.State) > 0 && a.State != "added" || d.Outdated[a.Name] != "" {
			d.Attention = append(d.Attention, a)
		}
	}
	sort.SliceStable(d.Attention, func(i, j int) bool {
		return needsAttention(d.Attention[i].State) < needsAttention(d.Attention[j].State)
	})
	p.Title, p.Data = p.Inst, d
	u.render(w, "home", p)
}

func (u *UI) catalog(w http.ResponseWriter, r *http.Request, p page) {
	var apps struct{ Apps []lifecycle.AppSummary }
	if err := u.api.Get(r.Context(), r, "/instances/"+url.PathEscape(p.Inst)+"/apps", &apps); err != nil {
		u.fail(w, p, err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	// Icons are remote URLs; the page shows a letter badge instead, so it
	// never loads from elsewhere (and works offline).
	var list []lifecycle.AppSummary
	for _, a := range apps.Apps {
		if !a.InCatalog {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(a.Name+" "+a.Description+" "+a.Is), q) {
			continue
		}
		list = append(list, a)
	}
	p.Title, p.Data = "Catalog", map[string]any{"Q": q, "Apps": list}
	u.render(w, "catalog", p)
}

// field is one form field of an app's config.
type field struct {
	catalog.Field
	ID, Value string
	// Check is the validation the browser applies: the schema's type, or
	// "integer" for a string whose default is a number (a port in quotes).
	Check string
	// Resolved is what a templated default becomes in this instance.
	Resolved string
	Resolves bool // Resolved is known (it may be empty)
	// Set means Value is the app's config, not a default.
	Set bool
}

// fieldsOf lays out the form; resolved holds the rendered defaults (nil
// when they could not be rendered).
func fieldsOf(schema []catalog.Field, current, resolved map[string]any) []field {
	var out []field
	for _, f := range schema {
		if f.Type == "object" || f.Type == "array" {
			continue
		}
		v := ""
		if f.Default != nil {
			v = fmt.Sprint(f.Default)
		}
		set := false
		if c, ok := lookup(current, f.Path); ok {
			v, set = fmt.Sprint(c), true
		}
		check := f.Type
		if s, ok := f.Default.(string); ok && f.Type == "string" && digits().MatchString(s) {
			check = "integer"
		}
		fd := field{Field: f, ID: "f-" + strings.ReplaceAll(f.Path, ".", "-"), Value: v, Check: check, Set: set}
		if rv, ok := lookup(resolved, f.Path); ok && f.Templated {
			fd.Resolved, fd.Resolves = fmt.Sprint(rv), true
		}
		out = append(out, fd)
	}
	return out
}

var digits = lazyre.New(`^[0-9]+$`)

func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

type depChoice struct {
	Ref, Type  string
	Candidates []string
	// Offers are catalog apps of the type that are not added yet: with no
	// candidate, the form offers to add one too.
	Offers []string
}

func (u *UI) add(w http.ResponseWriter, r *http.Request, p page) {
	app := r.PathValue("app")
	var pk api.Package
	if err := u.api.Get(r.Context(), r, "/catalog/"+url.PathEscape(app), &pk); err != nil {
		u.fail(w, p, err)
		return
	}
	var apps struct{ Apps []lifecycle.AppSummary }
	if err := u.api.Get(r.Context(), r, "/instances/"+url.PathEscape(p.Inst)+"/apps", &apps); err != nil {
		u.fail(w, p, err)
		return
	}
	var deps []depChoice
	for _, req := range pk.Requires {
		d := depChoice{Ref: req.Ref, Type: req.Type}
		for _, a := range apps.Apps {
			switch {
			case a.Is != req.Type && a.Name != req.Type:
			case a.State != "available":
				d.Candidates = append(d.Candidates, a.Name)
			case a.InCatalog:
				d.Offers = append(d.Offers, a.Name)
			}
		}
		deps = append(deps, d)
	}
	// Templated defaults resolve against the first choice of each
	// dependency; without one they resolve when the app is added.
	q := url.Values{}
	for _, d := range deps {
		if len(d.Candidates) > 0 {
			q.Add("dep", d.Ref+"="+d.Candidates[0])
		}
	}
	var resolved map[string]any
	_ = u.api.Get(r.Context(), r, appAPI(p.Inst, app)+"/defaults?"+q.Encode(), &resolved)
	p.Title = "Add " + app
	p.Data = map[string]any{"Pkg": pk, "Fields": fieldsOf(pk.Schema, nil, resolved), "Deps": deps}
	u.render(w, "add", p)
}

type appData struct {
	Detail    *lifecycle.AppDetail
	Status    *lifecycle.StatusResult
	Diff      *lifecycle.DiffResult
	Fields    []field
	Secrets   []instance.SecretEntry
	Ops       []wire.RunInfo
	Running   string
	Outdated  *lifecycle.OutdatedApp
	Snapshots []lifecycle.SnapshotInfo
}

func (u *UI) app(w http.ResponseWriter, r *http.Request, p page) {
	app := r.PathValue("app")
	base := "/instances/" + url.PathEscape(p.Inst)
	d := appData{Detail: &lifecycle.AppDetail{}}
	if err := u.api.Get(r.Context(), r, base+"/apps/"+url.PathEscape(app), d.Detail); err != nil {
		u.fail(w, p, err)
		return
	}
	if d.Detail.State == "available" {
		http.Redirect(w, r, "/i/"+url.PathEscape(p.Inst)+"/add/"+url.PathEscape(app), http.StatusSeeOther)
		return
	}
	d.Fields = fieldsOf(d.Detail.Schema, d.Detail.Config, nil)
	st := &lifecycle.StatusResult{}
	if u.api.Get(r.Context(), r, base+"/apps/"+url.PathEscape(app)+"/status", st) == nil {
		d.Status = st
	}
	if d.Detail.State != "added" {
		df := &lifecycle.DiffResult{}
		if u.api.Get(r.Context(), r, base+"/apps/"+url.PathEscape(app)+"/diff", df) == nil {
			d.Diff = df
		}
	}
	var sec struct{ Secrets []instance.SecretEntry }
	_ = u.api.Get(r.Context(), r, base+"/secrets?path="+url.QueryEscape("apps."+app), &sec)
	d.Secrets = sec.Secrets
	var ops struct{ Operations []wire.RunInfo }
	_ = u.api.Get(r.Context(), r, "/operations?instance="+url.QueryEscape(p.Inst)+"&app="+url.QueryEscape(app), &ops)
	sort.Slice(ops.Operations, func(i, j int) bool { return ops.Operations[i].StartedAt.After(ops.Operations[j].StartedAt) })
	d.Ops = ops.Operations
	for _, o := range d.Ops {
		if o.Status == wire.Running {
			d.Running = o.ID
			break
		}
	}
	var out struct{ Apps []lifecycle.OutdatedApp }
	if u.api.Get(r.Context(), r, base+"/outdated", &out) == nil {
		for i := range out.Apps {
			if out.Apps[i].App == app {
				d.Outdated = &out.Apps[i]
			}
		}
	}
	_ = u.api.Get(r.Context(), r, base+"/apps/"+url.PathEscape(app)+"/snapshots", &d.Snapshots)
	p.Title, p.Data = app, d
	u.render(w, "app", p)
}

func (u *UI) op(w http.ResponseWriter, r *http.Request, p page) {
	var ri wire.RunInfo
	if err := u.api.Get(r.Context(), r, "/operations/"+url.PathEscape(r.PathValue("id")), &ri); err != nil {
		u.fail(w, p, err)
		return
	}
	p.Title, p.Data = ri.Action+" "+cmp.Or(ri.App, "in "+p.Inst), ri
	u.render(w, "op", p)
}
