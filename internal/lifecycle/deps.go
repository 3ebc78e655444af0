package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/problem"
)

// AddedApp is an app present in the instance, read from its instance copy
// of manifest.yaml (which carries installedAs).
type AddedApp struct {
	Name     string
	Manifest *catalog.Manifest
}

// AddedApps lists the apps added to inst, sorted by name. An app whose
// instance manifest is corrupt is left out, so it never blocks the others;
// ScanAddedApps reports it.
func AddedApps(inst *instance.Instance) ([]AddedApp, error) {
	out, _, err := ScanAddedApps(inst)
	return out, err
}

// ScanAddedApps lists the added apps, sorted by name, and apart from them
// the ones whose apps/NAME/manifest.yaml cannot be read or parsed.
func ScanAddedApps(inst *instance.Instance) ([]AddedApp, []catalog.Broken, error) {
	entries, err := os.ReadDir(inst.Path(instance.AppsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var out []AddedApp
	var broken []catalog.Broken
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := ReadInstalledManifest(inst, e.Name())
		if err != nil {
			broken = append(broken, catalog.Broken{Name: e.Name(), Err: err})
			continue
		}
		if m != nil {
			out = append(out, AddedApp{Name: e.Name(), Manifest: m})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, broken, nil
}

// ReadInstalledManifest reads apps/<app>/manifest.yaml; nil if the app is
// not added.
func ReadInstalledManifest(inst *instance.Instance, app string) (*catalog.Manifest, error) {
	p := inst.Path(instance.AppsDir, app, "manifest.yaml")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return catalog.ParseManifest(p, b)
}

// resolveDeps maps each requires entry to an added app: an explicit --dep
// wins, then the mapping kept from an earlier add, then the only added app
// of that type. No match, several matches and cycles are errors that say
// what to run.
func resolveDeps(inst *instance.Instance, app string, m *catalog.Manifest, explicit map[string]string) (map[string]string, error) {
	added, err := AddedApps(inst)
	if err != nil {
		return nil, err
	}
	return resolveDepsAmong(added, app, m, explicit)
}

// resolveDepsAmong is resolveDeps against a given list of added apps: an
// add of several apps counts the ones it staged before this one.
func resolveDepsAmong(added []AddedApp, app string, m *catalog.Manifest, explicit map[string]string) (map[string]string, error) {
	byName := map[string]*catalog.Manifest{}
	for _, a := range added {
		byName[a.Name] = a.Manifest
	}
	refs := map[string]string{}
	for _, r := range m.Requires {
		refs[r.Ref()] = r.Name
	}
	for ref := range explicit {
		if _, ok := refs[ref]; !ok {
			return nil, problem.New(problem.Invalid, fmt.Sprintf("dependency %s: %s has no dependency named %q (it needs: %s)", ref, app, ref, describeRequires(m)))
		}
	}
	var previous map[string]string
	if cur := byName[app]; cur != nil {
		previous = cur.InstalledAs
	}
	out := map[string]string{}
	for _, r := range m.Requires {
		dep, err := pickDep(app, r, explicit[r.Ref()], previous[r.Ref()], added, byName)
		if err != nil {
			return nil, err
		}
		out[r.Ref()] = dep
	}
	if err := checkCycle(app, out, byName); err != nil {
		return nil, err
	}
	return out, nil
}

func pickDep(app string, r catalog.Requirement, explicit, previous string, added []AddedApp, byName map[string]*catalog.Manifest) (string, error) {
	if explicit != "" {
		dm := byName[explicit]
		if dm == nil {
			return "", notAdded(app, r, explicit, added)
		}
		if dm.Is != r.Name {
			return "", problem.New(problem.Invalid, fmt.Sprintf("dependency %s=%s: %s is a %s, but %s needs a %s", r.Ref(), explicit, explicit, dm.Is, app, r.Name))
		}
		return explicit, nil
	}
	if dm := byName[previous]; dm != nil && dm.Is == r.Name {
		return previous, nil
	}
	matches := addedOfType(added, r.Name, app)
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", problem.New(problem.PreconditionFailed, fmt.Sprintf("%s requires an app of type %s", app, r.Name)).With("app.add", "add one first", "app", r.Name)
	}
	return "", problem.New(problem.Conflict, fmt.Sprintf("%s requires an app of type %s and several are added (%s)", app, r.Name, strings.Join(matches, ", "))).
		With("app.add", "choose one", "app", app, "flag", "dep", "value", r.Ref()+"="+matches[0])
}

// notAdded refuses an explicit dependency on an app that is not added.
// The way out is one of the added apps of the type needed, or adding one;
// the name given may not even be a catalog app, so it is never suggested.
func notAdded(app string, r catalog.Requirement, explicit string, added []AddedApp) error {
	ofType := addedOfType(added, r.Name, app)
	msg := fmt.Sprintf("dependency %s=%s: %s is not added", r.Ref(), explicit, explicit)
	if len(ofType) == 0 {
		return problem.New(problem.PreconditionFailed, fmt.Sprintf("%s, and no app of type %s is", msg, r.Name)).With("app.add", "add one first", "app", r.Name)
	}
	return problem.New(problem.PreconditionFailed, fmt.Sprintf("%s; added apps of type %s: %s", msg, r.Name, strings.Join(ofType, ", "))).
		With("app.add", "use one", "app", app, "flag", "dep", "value", r.Ref()+"="+ofType[0])
}

// addedOfType is the added apps of type kind, but app itself.
func addedOfType(added []AddedApp, kind, app string) []string {
	var out []string
	for _, a := range added {
		if a.Manifest.Is == kind && a.Name != app {
			out = append(out, a.Name)
		}
	}
	return out
}

// checkCycle follows installedAs from app's new mapping; reaching app again
// means the apps would each wait for the other to deploy.
func checkCycle(app string, deps map[string]string, byName map[string]*catalog.Manifest) error {
	var walk func(name string, trail []string) error
	walk = func(name string, trail []string) error {
		if name == app {
			return problem.New(problem.Invalid, fmt.Sprintf("dependency cycle: %s", strings.Join(append(trail, name), " -> "))).
				With("app.add", "map a dependency to another app", "app", app, "flag", "dep", "value", "ALIAS=APP")
		}
		for _, t := range trail[1:] {
			if t == name {
				return nil // a cycle among other apps is theirs to report
			}
		}
		m := byName[name]
		if m == nil {
			return nil
		}
		for _, ref := range sortedKeys(m.InstalledAs) {
			if err := walk(m.InstalledAs[ref], append(trail, name)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, ref := range sortedKeys(deps) {
		if err := walk(deps[ref], []string{app}); err != nil {
			return err
		}
	}
	return nil
}

func describeRequires(m *catalog.Manifest) string {
	if len(m.Requires) == 0 {
		return "nothing"
	}
	var parts []string
	for _, r := range m.Requires {
		if r.Alias != "" && r.Alias != r.Name {
			parts = append(parts, r.Alias+" ("+r.Name+")")
		} else {
			parts = append(parts, r.Name)
		}
	}
	return strings.Join(parts, ", ")
}
