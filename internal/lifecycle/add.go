package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// PackageDir is where the untouched catalog package is kept inside a
// compiled app, so updates can tell what changed upstream.
const PackageDir = ".package"

// Add puts an app from the catalog into the instance (state ADDED):
// dependencies mapped, config merged, secrets generated or copied, files
// compiled. Re-running it recompiles and keeps every existing value.
type Add struct {
	Env
	App string
	// Deps maps a requires ref (alias, or type when unaliased) to an added app.
	Deps map[string]string
	// Set holds explicit config values, keys relative to apps.<App>.
	Set map[string]string
}

// addOptions are what the shared add steps need: Add's options, and what
// a deploy's recompile or an update's --fresh pass.
type addOptions struct {
	App  string
	Deps map[string]string
	Set  map[string]string
	// added, when not nil, is the instance's added apps including those an
	// AddMany staged before this one; nil reads them from apps/.
	added []AddedApp
}

func (a *Add) options() addOptions { return addOptions{App: a.App, Deps: a.Deps, Set: a.Set} }

// FileChange is one compiled file's fate.
type FileChange struct {
	Path   string        `json:"path"`
	Change change.Action `json:"change"` // created, configured, unchanged, pruned
	// Diff is the file's unified diff, in an update review.
	Diff string `json:"diff,omitempty"`
}

// AddResult reports what Add did. Secret values never appear in it.
type AddResult struct {
	App           string            `json:"app"`
	Version       string            `json:"version"`
	InstalledAs   map[string]string `json:"installedAs,omitempty"`
	ConfigAdded   []string          `json:"configAdded"`
	ConfigSet     []string          `json:"configSet,omitempty"`
	SecretsAdded  []string          `json:"secretsAdded"`
	SecretsCopied []string          `json:"secretsCopied,omitempty"`
	Files         []FileChange      `json:"files"`
	Warnings      []string          `json:"warnings,omitempty"`
	Operation     string            `json:"operation"`
}

// Changed reports whether the add changed anything.
func (r *AddResult) Changed() bool {
	return len(r.ConfigAdded)+len(r.ConfigSet)+len(r.SecretsAdded)+len(r.SecretsCopied) > 0 || filesChanged(r.Files)
}

// Run takes the app's lock and performs the add.
func (a *Add) Run(ctx context.Context) (*AddResult, error) {
	pkg, err := a.options().validate(a.Catalog)
	if err != nil {
		return nil, err
	}
	unlock, err := a.Instance.LockApp(a.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	return addLocked(a.Env, a.options(), pkg)
}

// RunLocked is Run for a caller that already holds the app's lock.
func (a *Add) RunLocked(ctx context.Context) (*AddResult, error) {
	pkg, err := a.options().validate(a.Catalog)
	if err != nil {
		return nil, err
	}
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	return addLocked(a.Env, a.options(), pkg)
}

// errPreview aborts the transaction of a preview after the files are
// computed, so nothing is written.
var errPreview = errors.New("preview")

// Preview computes what an add would compile, writing nothing; deploy's
// dry run uses it to show the manifests a config change would produce.
func (a *Add) Preview() (map[string][]byte, error) {
	return previewAdd(&a.Env, a.options())
}

func previewAdd(env *Env, o addOptions) (map[string][]byte, error) {
	pkg, err := o.validate(env.Catalog)
	if err != nil {
		return nil, err
	}
	var files map[string][]byte
	err = env.Instance.Update(func(e *instance.Edit) error {
		installedAs, err := resolveDeps(env.Instance, o.App, pkg.Manifest, o.Deps)
		if err != nil {
			return err
		}
		appCfg, err := mergeAddConfig(env, e, o, pkg.Manifest, installedAs, &AddResult{})
		if err != nil {
			return err
		}
		m := *pkg.Manifest
		m.InstalledAs = installedAs
		if files, err = compile(env.engine(), pkg, &m, appCfg); err != nil {
			return err
		}
		return errPreview
	})
	if errors.Is(err, errPreview) {
		return files, nil
	}
	return nil, err
}

// addLocked is the add with its operation record, for callers holding the
// app lock: Add itself, and deploy's recompile after a config change.
func addLocked(env Env, o addOptions, pkg *catalog.Package) (*AddResult, error) {
	op, err := env.startOp("add", o.App)
	if err != nil {
		return nil, err
	}
	res := &AddResult{App: o.App, Version: pkg.Manifest.Version, Operation: op.ID()}
	err = env.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("feat(%s): add app", o.App)
		recordAlongside(e, op)
		if err := stageAdd(&env, e, o, pkg, op, res); err != nil {
			return err
		}
		noteUnchanged(op, res)
		return nil
	})
	res.Warnings = op.Warnings()
	return res, op.Finish(err)
}

// noteUnchanged says so in the record of an add that changed nothing,
// before the record is final.
func noteUnchanged(op *operation.Op, res *AddResult) {
	if !res.Changed() {
		op.Note("no changes")
	}
}

func (o addOptions) validate(cat *catalog.Catalog) (*catalog.Package, error) {
	if err := names.Validate("app", o.App); err != nil {
		return nil, err
	}
	for ref, dep := range o.Deps {
		if err := names.Validate("alias", ref); err != nil {
			return nil, err
		}
		if err := names.Validate("app", dep); err != nil {
			return nil, err
		}
	}
	for k := range o.Set {
		if _, err := yamldoc.ParsePath(k); err != nil {
			return nil, problem.Wrap(problem.Invalid, err, "set "+k)
		}
	}
	return cat.Get(o.App)
}

// stageAdd is the add itself, staged into an instance edit: map the
// dependencies, merge config, fill secrets, compile. Add, deploy's
// recompile and update --fresh all go through it.
func stageAdd(env *Env, e *instance.Edit, o addOptions, pkg *catalog.Package, op *operation.Op, res *AddResult) error {
	op.Step("resolve dependencies")
	apps := o.added
	if apps == nil {
		var err error
		if apps, err = AddedApps(env.Instance); err != nil {
			return err
		}
	}
	installedAs, err := resolveDepsAmong(apps, o.App, pkg.Manifest, o.Deps)
	if err != nil {
		return err
	}
	res.InstalledAs = installedAs

	op.Step("merge config")
	appCfg, err := mergeAddConfig(env, e, o, pkg.Manifest, installedAs, res)
	if err != nil {
		return err
	}
	all, err := e.Config.Map()
	if err != nil {
		return err
	}
	if err := checkNamespace(all, o.App, appCfg); err != nil {
		return err
	}

	op.Step("secrets")
	copied, added, err := fillSecrets(env.engine(), e.Config, e.Secrets, o.App, pkg.Manifest, installedAs, appCfg, op.Warn)
	res.SecretsCopied, res.SecretsAdded = copied, nonNil(added)
	if err != nil {
		return err
	}
	warnRegenerated(env.Instance, o.App, added, op)

	op.Step("compile")
	m := *pkg.Manifest
	m.InstalledAs = installedAs
	files, err := compile(env.engine(), pkg, &m, appCfg)
	if err != nil {
		return err
	}
	res.Files = diffFiles(env.Instance.AppDir(o.App), files)
	if !filesChanged(res.Files) && sameBookkeeping(env.Instance.AppDir(o.App), files) {
		return nil
	}
	return e.ReplaceDir(path.Join(instance.AppsDir, o.App), func(dir string) error {
		return writeFiles(dir, files)
	})
}

// mergeAddConfig applies Set values, renders defaultConfig against the
// result and adds only the keys that are missing. It returns the app's
// final config.
func mergeAddConfig(env *Env, e *instance.Edit, o addOptions, m *catalog.Manifest, installedAs map[string]string, res *AddResult) (map[string]any, error) {
	appPath := []string{"apps", o.App}
	for _, k := range sortedKeys(o.Set) {
		p, _ := yamldoc.ParsePath(k)
		v, err := yamldoc.ParseValue(o.Set[k])
		if err != nil {
			return nil, err
		}
		if err := e.Config.Set(append(append([]string{}, appPath...), p...), v); err != nil {
			return nil, problem.Wrap(problem.Invalid, err, "set "+k)
		}
		res.ConfigSet = append(res.ConfigSet, "apps."+o.App+"."+k)
	}
	cfg, err := e.Config.Map()
	if err != nil {
		return nil, err
	}
	existing := asMap(asMap(cfg["apps"])[o.App])
	node, _, err := RenderDefaults(env.engine(), m, newContext(cfg, installedAs), existing)
	if err != nil {
		return nil, err
	}
	added, err := e.Config.MergeDefaults(appPath, node)
	if err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	res.ConfigAdded = nonNil(added)
	v, _, err := e.Config.Value(appPath)
	if err != nil {
		return nil, err
	}
	return asMap(v), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Defaults renders the package's defaultConfig for this instance with the
// chosen dependencies, writing nothing: the add form shows what each
// templated default resolves to. Values already in config.yaml win.
func (a *Add) Defaults() (map[string]any, error) {
	pkg, err := a.options().validate(a.Catalog)
	if err != nil {
		return nil, err
	}
	doc, err := a.Instance.ReadConfig()
	if err != nil {
		return nil, err
	}
	cfg, err := doc.Map()
	if err != nil {
		return nil, err
	}
	installedAs, err := resolveDeps(a.Instance, a.App, pkg.Manifest, a.Deps)
	if err != nil {
		return nil, err
	}
	_, values, err := RenderDefaults(a.engine(), pkg.Manifest, newContext(cfg, installedAs), asMap(asMap(cfg["apps"])[a.App]))
	return values, err
}
