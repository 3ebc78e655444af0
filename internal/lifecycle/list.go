package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/names"
)

// App states, from the catalog's point of view down to the cluster's.
const (
	StateAvailable = "available"
	StateAdded     = "added"
	StateDeployed  = "deployed"
	StateDegraded  = "degraded"
	StateDrifted   = "drifted"
	StateStuck     = "stuck"
	// StateBroken is a package or an added app whose manifest does not
	// load; Detail holds the error (file:line).
	StateBroken = "broken"
)

// AppSummary is one row of `wild app list`.
type AppSummary struct {
	Name             string   `json:"name"`
	Is               string   `json:"is"`
	Description      string   `json:"description"`
	Version          string   `json:"version"`
	InstalledVersion string   `json:"installedVersion,omitempty"`
	Requires         []string `json:"requires,omitempty"`
	State            string   `json:"state"`
	Detail           string   `json:"detail,omitempty"`
	InCatalog        bool     `json:"inCatalog"`
}

// ClusterStater tells the cluster-side state of an added app. Deploy
// support plugs one in; without it, added apps show as "added".
type ClusterStater func(ctx context.Context, app string) (state, detail string)

// List shows the catalog with each app's state in the instance. Apps added
// from another catalog are listed too.
type List struct {
	Env
	Cluster ClusterStater
}

// Run returns the summaries sorted by name. A package or an added app
// whose manifest does not load is listed as broken with its error
// (file:line); it never hides the others.
func (l *List) Run(ctx context.Context) ([]AppSummary, error) {
	pkgs, broken, err := l.Catalog.Scan()
	if err != nil {
		return nil, err
	}
	added := map[string]*catalog.Manifest{}
	brokenAdded := map[string]string{} // app -> detail
	var out []AppSummary
	if l.Instance != nil {
		apps, brokenApps, err := ScanAddedApps(l.Instance)
		if err != nil {
			return nil, err
		}
		for _, a := range apps {
			added[a.Name] = a.Manifest
		}
		for _, b := range brokenApps {
			brokenAdded[b.Name] = "added, but " + oneLine(b.Err) + "; deleting it still works"
		}
	}
	// Cluster states are filled after the rows exist, several at once:
	// each needs the app's build and, past the shared listing, maybe its
	// own reads, and `wild app list` of 100 apps should not queue them.
	var fills []fill
	for _, b := range broken {
		s := AppSummary{Name: b.Name, State: StateBroken, Detail: oneLine(b.Err), InCatalog: true}
		if m := added[b.Name]; m != nil {
			// Added from an earlier, valid version: its state still matters.
			s = summary(m, true)
			fills = append(fills, fill{len(out), m, "catalog package broken: " + oneLine(b.Err)})
			delete(added, b.Name)
		}
		out = append(out, s)
	}
	for _, p := range pkgs {
		s := summary(p.Manifest, true)
		if d, ok := brokenAdded[p.Name]; ok {
			s.State, s.Detail = StateBroken, d
			delete(brokenAdded, p.Name)
		} else if m := added[p.Name]; m != nil {
			fills = append(fills, fill{len(out), m, ""})
			delete(added, p.Name)
		}
		out = append(out, s)
	}
	for _, name := range sortedKeys(brokenAdded) {
		out = append(out, AppSummary{Name: name, State: StateBroken, Detail: brokenAdded[name]})
	}
	for _, name := range sortedKeys(added) {
		s := summary(added[name], false)
		s.Name = name
		fills = append(fills, fill{len(out), added[name], ""})
		out = append(out, s)
	}
	l.fillStates(ctx, out, fills)
	sortSummaries(out)
	return out, nil
}

// fill is a row of List waiting for its cluster state; note is added to
// its detail.
type fill struct {
	row  int
	m    *catalog.Manifest
	note string
}

// listConcurrency bounds the apps whose state is read at once.
const listConcurrency = 4

func (l *List) fillStates(ctx context.Context, out []AppSummary, fills []fill) {
	var g errgroup.Group
	g.SetLimit(listConcurrency)
	for _, f := range fills {
		g.Go(func() error {
			s := &out[f.row]
			l.fillState(ctx, s, f.m)
			if f.note != "" {
				s.Detail = strings.TrimPrefix(s.Detail+"; ", "; ") + f.note
			}
			return nil
		})
	}
	_ = g.Wait()
}

func (l *List) fillState(ctx context.Context, s *AppSummary, m *catalog.Manifest) {
	s.State, s.InstalledVersion = StateAdded, m.Version
	if l.Cluster != nil {
		s.State, s.Detail = l.Cluster(ctx, s.Name)
	}
}

func summary(m *catalog.Manifest, inCatalog bool) AppSummary {
	s := AppSummary{Name: m.Name, Is: m.Is, Description: m.Description, Version: m.Version, State: StateAvailable, InCatalog: inCatalog}
	for _, r := range m.Requires {
		s.Requires = append(s.Requires, r.Name)
	}
	return s
}

func sortSummaries(s []AppSummary) {
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
}

// AppDetail is `wild app show`.
type AppDetail struct {
	AppSummary
	Icon            string            `json:"icon,omitempty"`
	RequiresDetail  []string          `json:"requiresDetail,omitempty"`
	InstalledAs     map[string]string `json:"installedAs,omitempty"`
	Config          map[string]any    `json:"config,omitempty"`
	Secrets         []string          `json:"secrets,omitempty"`
	DefaultSecrets  []string          `json:"defaultSecrets,omitempty"`
	RequiredSecrets []string          `json:"requiredSecrets,omitempty"`
	// Schema is the installed package's config form (added apps only).
	Schema []catalog.Field `json:"schema,omitempty"`
}

// Show describes one app: its catalog entry and, if added, its config
// and the names (never values) of its secrets.
type Show struct {
	Env
	App     string
	Cluster ClusterStater
}

// Run returns the detail.
func (s *Show) Run(ctx context.Context) (*AppDetail, error) {
	if err := names.Validate("app", s.App); err != nil {
		return nil, err
	}
	installed, err := ReadInstalledManifest(s.Instance, s.App)
	if err != nil {
		return nil, err
	}
	pkg, catErr := s.Catalog.Get(s.App)
	var m *catalog.Manifest
	switch {
	case catErr == nil:
		m = pkg.Manifest
	case installed != nil:
		m = installed
	default:
		return nil, catErr
	}
	d := &AppDetail{AppSummary: summary(m, catErr == nil), Icon: m.Icon, RequiredSecrets: m.RequiredSecrets}
	for _, r := range m.Requires {
		d.RequiresDetail = append(d.RequiresDetail, fmt.Sprintf("%s (as %s)", r.Name, r.Ref()))
	}
	for _, ds := range m.DefaultSecrets {
		d.DefaultSecrets = append(d.DefaultSecrets, ds.Key)
	}
	if installed == nil {
		return d, nil
	}
	(&List{Env: s.Env, Cluster: s.Cluster}).fillState(ctx, &d.AppSummary, installed)
	d.InstalledAs = installed.InstalledAs
	// The form follows the installed package, which the catalog may have
	// moved past (an update not yet applied, or rolled back).
	d.Schema = catalog.ConfigSchema(installed)
	if v, err := s.Instance.GetConfig("apps." + s.App); err == nil {
		d.Config = asMap(v)
	}
	entries, err := s.Instance.ListSecrets("apps." + s.App)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		d.Secrets = append(d.Secrets, strings.TrimPrefix(e.Path, "apps."+s.App+"."))
	}
	return d, nil
}
