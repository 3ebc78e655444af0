package lifecycle

import (
	"context"
	"errors"
	"sort"

	"github.com/Masterminds/semver/v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/render"
)

// OutdatedApp is one row of `wild app outdated`.
type OutdatedApp struct {
	App       string       `json:"app"`
	Installed string       `json:"installed"`
	Available string       `json:"available"`
	Major     bool         `json:"major,omitempty"` // a major version bump
	Files     []FileChange `json:"files"`           // package files: added, removed, modified
}

// Outdated lists added apps whose catalog package differs from the one
// they were compiled from (.package/), by content hash, so a fix shipped
// without a version bump is found too.
type Outdated struct {
	Env
	App string // only this app when set
}

// Run returns the outdated apps, sorted by name.
func (o *Outdated) Run(ctx context.Context) ([]OutdatedApp, error) {
	if o.App != "" {
		if err := names.Validate("app", o.App); err != nil {
			return nil, err
		}
	}
	apps, err := AddedApps(o.Instance)
	if err != nil {
		return nil, err
	}
	out := []OutdatedApp{}
	for _, a := range apps {
		if o.App != "" && a.Name != o.App {
			continue
		}
		row, err := o.check(a)
		if err != nil {
			return nil, err
		}
		if row != nil {
			out = append(out, *row)
		}
	}
	return out, nil
}

func (o *Outdated) check(a AddedApp) (*OutdatedApp, error) {
	pkg, err := o.Catalog.Get(a.Name)
	if errors.Is(err, catalog.ErrUnknownApp) {
		return nil, nil // added from another catalog: nothing to compare with
	}
	if err != nil {
		return nil, err
	}
	old, err := installedPackage(o.Instance, a.Name)
	if err != nil {
		return nil, err
	}
	files, err := packageChanges(old, pkg)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	row := &OutdatedApp{App: a.Name, Installed: a.Manifest.Version, Available: pkg.Manifest.Version, Files: files}
	if ov, err := semver.NewVersion(row.Installed); err == nil {
		if nv, err := semver.NewVersion(row.Available); err == nil {
			row.Major = nv.Major() > ov.Major()
		}
	}
	return row, nil
}

// packageChanges compares two packages file by file by sha256.
func packageChanges(old, next *catalog.Package) ([]FileChange, error) {
	a, err := old.Hashes()
	if err != nil {
		return nil, err
	}
	b, err := next.Hashes()
	if err != nil {
		return nil, err
	}
	var out []FileChange
	for f, h := range b {
		switch oh, ok := a[f]; {
		case !ok:
			out = append(out, FileChange{Path: f, Change: change.Created})
		case oh != h:
			out = append(out, FileChange{Path: f, Change: change.Configured})
		}
	}
	for f := range a {
		if _, ok := b[f]; !ok {
			out = append(out, FileChange{Path: f, Change: change.Pruned})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Recompile compiles an app afresh from its .package/ and the config it
// was last compiled with, without the bookkeeping files (.package/, dot files): what
// apps/<app>/ would hold had nobody edited it. gitmode.Customized uses it.
func Recompile(inst *instance.Instance, app string) (map[string][]byte, error) {
	cur, err := ReadInstalledManifest(inst, app)
	if err != nil || cur == nil {
		return nil, err
	}
	pkg, err := installedPackage(inst, app)
	if err != nil {
		return nil, err
	}
	cfg, err := inst.ReadConfig()
	if err != nil {
		return nil, err
	}
	appCfg, err := appConfig(cfg, app)
	if err != nil {
		return nil, err
	}
	m := *pkg.Manifest
	m.InstalledAs = cur.InstalledAs
	files, err := compile(render.New(), pkg, &m, compiledConfig(inst, app, appCfg))
	if err != nil {
		return nil, err
	}
	for f := range files {
		if f[0] == '.' {
			delete(files, f)
		}
	}
	return files, nil
}
