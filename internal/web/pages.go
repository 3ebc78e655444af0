package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

// appAPI is an app's path under /api/v1.
func appAPI(inst, app string) string {
	return "/instances/" + url.PathEscape(inst) + "/apps/" + url.PathEscape(app)
}

type updateData struct {
	Review *lifecycle.UpdateReview
	// NewKeys are the keys the new package adds: where a removed key may
	// have gone.
	NewKeys []string
	Files   []fileDiff
	Major   bool
}

// fileDiff is a unified diff laid out for a side-by-side view.
type fileDiff struct {
	Path, Change, Unified string
	Rows                  []diffRow
}

type diffRow struct {
	Left, Right string
	Kind        string // same, del, add, change, hunk
}

// sideBySide pairs a unified diff's removed and added lines, so a wide
// screen shows old and new next to each other.
func sideBySide(unified string) []diffRow {
	var rows []diffRow
	var dels, adds []string
	flush := func() {
		for i := 0; i < len(dels) || i < len(adds); i++ {
			r := diffRow{Kind: "change"}
			if i < len(dels) {
				r.Left = dels[i]
			} else {
				r.Kind = "add"
			}
			if i < len(adds) {
				r.Right = adds[i]
			} else {
				r.Kind = "del"
			}
			rows = append(rows, r)
		}
		dels, adds = nil, nil
	}
	for _, l := range strings.Split(strings.TrimRight(unified, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "---"), strings.HasPrefix(l, "+++"):
		case strings.HasPrefix(l, "@@"):
			flush()
			rows = append(rows, diffRow{Left: l, Kind: "hunk"})
		case strings.HasPrefix(l, "-"):
			dels = append(dels, l[1:])
		case strings.HasPrefix(l, "+"):
			adds = append(adds, l[1:])
		default:
			flush()
			t := strings.TrimPrefix(l, " ")
			rows = append(rows, diffRow{Left: t, Right: t, Kind: "same"})
		}
	}
	flush()
	return rows
}

func (u *UI) update(w http.ResponseWriter, r *http.Request, p page) {
	app := r.PathValue("app")
	rv := &lifecycle.UpdateReview{}
	if err := u.api.Read(r.Context(), r, http.MethodPost, appAPI(p.Inst, app)+"/update-review", map[string]any{}, rv); err != nil {
		u.fail(w, p, err)
		return
	}
	d := updateData{Review: rv}
	for _, c := range rv.Config {
		if c.Change == change.Created {
			d.NewKeys = append(d.NewKeys, c.Key)
		}
	}
	for _, b := range rv.Breaking {
		d.Major = d.Major || b.Resolution == lifecycle.ResolveAcceptBreaking
	}
	for _, f := range append(append([]lifecycle.FileChange{}, rv.PackageFiles...), rv.Files...) {
		if f.Diff != "" {
			d.Files = append(d.Files, fileDiff{Path: f.Path, Change: string(f.Change), Unified: f.Diff, Rows: sideBySide(f.Diff)})
		}
	}
	p.Title, p.Data = "Update "+app, map[string]any{"App": app, "U": d}
	u.render(w, "update", p)
}

func (u *UI) remove(w http.ResponseWriter, r *http.Request, p page) {
	app := r.PathValue("app")
	plan := &lifecycle.DeletePlan{}
	if err := u.api.Get(r.Context(), r, appAPI(p.Inst, app)+"/delete-plan", plan); err != nil {
		u.fail(w, p, err)
		return
	}
	p.Title, p.Data = "Delete "+app, plan
	u.render(w, "delete", p)
}

type settingsData struct {
	Settings instance.Settings
	Info     instance.Info
}

func (u *UI) settings(w http.ResponseWriter, r *http.Request, p page) {
	var d settingsData
	base := "/instances/" + url.PathEscape(p.Inst)
	if err := u.api.Get(r.Context(), r, base+"/settings", &d.Settings); err != nil {
		u.fail(w, p, err)
		return
	}
	if err := u.api.Get(r.Context(), r, base, &d.Info); err != nil {
		u.fail(w, p, err)
		return
	}
	p.Title, p.Data = "Settings", d
	u.render(w, "settings", p)
}
