package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// AddMany adds several apps in one instance transaction: all of them or
// none. They are staged in dependency order, so an app may depend on one
// added with it (wild app add postgres gitea), and the instance's files
// are written and synced once for all instead of once per app. Each app
// still gets its own operation record, as from Add.
type AddMany struct {
	Env
	Apps []string
	// Values holds an app's own Deps and Set, by app name, for apps
	// that need them (the UI's form for an app with the dependency it
	// offers to add too). Each names an app of Apps.
	Values map[string]AddValues
}

// AddValues are Add's Deps and Set for one app of an AddMany.
type AddValues struct {
	Deps map[string]string `json:"deps,omitempty"`
	Set  map[string]string `json:"set,omitempty"`
}

// Run takes every app's lock (instance.LockApps) and adds them. The
// results follow the order the apps were added in.
func (a *AddMany) Run(ctx context.Context) ([]*AddResult, error) {
	pkgs, err := a.packages()
	if err != nil {
		return nil, err
	}
	unlock, err := a.Instance.LockApps(catalog.Names(pkgs)...)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	ops := make([]*operation.Op, len(pkgs))
	res := make([]*AddResult, len(pkgs))
	// Each app's record gets its own id: a caller's OperationID names one
	// operation, and would be given to every record.
	perApp := a.Env
	perApp.OperationID = ""
	for i, pkg := range pkgs {
		if ops[i], err = perApp.startOp("add", pkg.Name); err != nil {
			operation.FinishAll(ops[:i], slices.Repeat([]error{err}, i))
			return nil, err
		}
		res[i] = &AddResult{App: pkg.Name, Version: pkg.Manifest.Version, Operation: ops[i].ID()}
	}
	failed := -1
	err = a.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("feat(%s): add apps", strings.Join(catalog.Names(pkgs), ", "))
		added, err := AddedApps(a.Instance)
		if err != nil {
			return err
		}
		added = slices.Clip(append([]AddedApp{}, added...)) // never nil: nil tells stageAdd to read apps/
		for _, op := range ops {
			recordAlongside(e, op)
		}
		for i, pkg := range pkgs {
			if err := stageAdd(&a.Env, e, a.options(pkg.Name, added), pkg, ops[i], res[i]); err != nil {
				failed = i
				return err
			}
			noteUnchanged(ops[i], res[i])
			added = withAdded(added, pkg, res[i].InstalledAs)
		}
		return nil
	})
	return res, a.finish(ops, res, failed, err)
}

// finish closes every record together (operation.FinishAll): the app
// that failed with its error, the others with why nothing of theirs was
// written either. It returns the error as the records hold it, without
// secret values.
func (a *AddMany) finish(ops []*operation.Op, res []*AddResult, failed int, err error) error {
	errs := make([]error, len(ops))
	for i, op := range ops {
		errs[i] = err
		if err != nil && failed >= 0 && i != failed {
			errs[i] = fmt.Errorf("not added: the add of %s failed, and apps added together are added all or none: %w", res[failed].App, err)
		}
		res[i].Warnings = op.Warnings()
	}
	out := operation.FinishAll(ops, errs)
	if failed >= 0 {
		return out[failed]
	}
	for _, e := range out {
		if e != nil {
			return e // the same for every record: the commit's, or writing them
		}
	}
	return nil
}

func (a *AddMany) options(app string, added []AddedApp) addOptions {
	v := a.Values[app]
	return addOptions{App: app, Deps: v.Deps, Set: v.Set, added: added}
}

// packages validates the names and values and orders the packages:
// duplicates are dropped, and each app comes after the apps of the types
// it requires.
func (a *AddMany) packages() ([]*catalog.Package, error) {
	if len(a.Apps) == 0 {
		return nil, problem.New(problem.Invalid, "no app to add")
	}
	for app := range a.Values {
		if !slices.Contains(a.Apps, app) {
			return nil, problem.New(problem.Invalid, fmt.Sprintf("values are given for %s, which is not among the apps to add (%s)", app, strings.Join(a.Apps, ", ")))
		}
	}
	var pkgs []*catalog.Package
	seen := map[string]bool{}
	for _, app := range a.Apps {
		if seen[app] {
			continue
		}
		seen[app] = true
		pkg, err := a.options(app, nil).validate(a.Catalog)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, pkg)
	}
	ordered, err := catalog.DependencyOrder(pkgs)
	if err != nil {
		return nil, problem.Wrap(problem.Invalid, err, "add")
	}
	return ordered, nil
}

// withAdded is added with pkg as the instance copy of its manifest will
// read once committed (carrying its dependency mapping).
func withAdded(added []AddedApp, pkg *catalog.Package, installedAs map[string]string) []AddedApp {
	m := *pkg.Manifest
	m.InstalledAs = installedAs
	out := slices.DeleteFunc(slices.Clone(added), func(a AddedApp) bool { return a.Name == pkg.Name })
	out = append(out, AddedApp{Name: pkg.Name, Manifest: &m})
	slices.SortFunc(out, func(a, b AddedApp) int { return strings.Compare(a.Name, b.Name) })
	return out
}
