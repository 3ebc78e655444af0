package lifecycle

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/render"
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

// FileChange is one compiled file's fate.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"` // created, updated, unchanged, removed
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

// Run performs the add.
func (a *Add) Run(ctx context.Context) (*AddResult, error) {
	pkg, err := a.validate()
	if err != nil {
		return nil, err
	}
	unlock, err := a.Instance.LockApp(a.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return a.runLocked(pkg)
}

// errPreview aborts the transaction of a preview after the files are
// computed, so nothing is written.
var errPreview = errors.New("preview")

// Preview computes what an add would compile, writing nothing; deploy's
// dry run uses it to show the manifests a config change would produce.
func (a *Add) Preview() (map[string][]byte, error) {
	pkg, err := a.validate()
	if err != nil {
		return nil, err
	}
	var files map[string][]byte
	err = a.Instance.Update(func(e *instance.Edit) error {
		installedAs, err := resolveDeps(a.Instance, a.App, pkg.Manifest, a.Deps)
		if err != nil {
			return err
		}
		appCfg, err := a.mergeConfig(e, pkg.Manifest, installedAs, &AddResult{})
		if err != nil {
			return err
		}
		m := *pkg.Manifest
		m.InstalledAs = installedAs
		if files, err = compile(a.engine(), pkg, &m, appCfg); err != nil {
			return err
		}
		return errPreview
	})
	if errors.Is(err, errPreview) {
		return files, nil
	}
	return nil, err
}

// runLocked is Run for callers that already hold the app lock (deploy
// recompiles through it).
func (a *Add) runLocked(pkg *catalog.Package) (*AddResult, error) {
	op, err := operation.Start(a.Instance.Path(instance.OperationsDir), a.Instance.Name, "add", a.App)
	if err != nil {
		return nil, err
	}
	res := &AddResult{App: a.App, Version: pkg.Manifest.Version, Operation: op.ID()}
	err = a.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("feat(%s): add app", a.App)
		return a.apply(e, pkg, op, res)
	})
	if err == nil && !res.Changed() {
		op.Note("no changes")
	}
	res.Warnings = op.Warnings()
	return res, op.Finish(err)
}

func (a *Add) validate() (*catalog.Package, error) {
	if err := names.Validate("app", a.App); err != nil {
		return nil, err
	}
	for ref, dep := range a.Deps {
		if err := names.Validate("alias", ref); err != nil {
			return nil, err
		}
		if err := names.Validate("app", dep); err != nil {
			return nil, err
		}
	}
	for k := range a.Set {
		if _, err := yamldoc.ParsePath(k); err != nil {
			return nil, fmt.Errorf("--set %s: %w", k, err)
		}
	}
	return a.Catalog.Get(a.App)
}

func (a *Add) apply(e *instance.Edit, pkg *catalog.Package, op *operation.Op, res *AddResult) error {
	op.Step("resolve dependencies")
	installedAs, err := resolveDeps(a.Instance, a.App, pkg.Manifest, a.Deps)
	if err != nil {
		return err
	}
	res.InstalledAs = installedAs

	op.Step("merge config")
	appCfg, err := a.mergeConfig(e, pkg.Manifest, installedAs, res)
	if err != nil {
		return err
	}

	op.Step("secrets")
	if err := a.secrets(e, pkg.Manifest, installedAs, appCfg, op, res); err != nil {
		return err
	}

	op.Step("compile")
	m := *pkg.Manifest
	m.InstalledAs = installedAs
	files, err := compile(a.engine(), pkg, &m, appCfg)
	if err != nil {
		return err
	}
	res.Files = diffFiles(a.Instance.AppDir(a.App), files)
	if !filesChanged(res.Files) && sameBookkeeping(a.Instance.AppDir(a.App), files) {
		return nil
	}
	return e.ReplaceDir(path.Join(instance.AppsDir, a.App), func(dir string) error {
		return writeFiles(dir, files)
	})
}

// mergeConfig applies --set values, renders defaultConfig against the
// result and adds only the keys that are missing. It returns the app's
// final config.
func (a *Add) mergeConfig(e *instance.Edit, m *catalog.Manifest, installedAs map[string]string, res *AddResult) (map[string]any, error) {
	appPath := []string{"apps", a.App}
	for _, k := range sortedKeys(a.Set) {
		p, _ := yamldoc.ParsePath(k)
		v, err := yamldoc.ParseValue(a.Set[k])
		if err != nil {
			return nil, err
		}
		if err := e.Config.Set(append(append([]string{}, appPath...), p...), v); err != nil {
			return nil, fmt.Errorf("--set %s: %w", k, err)
		}
		res.ConfigSet = append(res.ConfigSet, "apps."+a.App+"."+k)
	}
	cfg, err := e.Config.Map()
	if err != nil {
		return nil, err
	}
	existing := asMap(asMap(cfg["apps"])[a.App])
	node, _, err := RenderDefaults(a.engine(), m, newContext(cfg, installedAs), existing)
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

// secrets copies requiredSecrets from dependencies, then fills
// defaultSecrets. An existing secret is never replaced.
func (a *Add) secrets(e *instance.Edit, m *catalog.Manifest, installedAs map[string]string, appCfg map[string]any, op *operation.Op, res *AddResult) error {
	for _, req := range m.RequiredSecrets {
		ref, key, _ := strings.Cut(req, ".")
		dep := installedAs[ref]
		src := append([]string{"apps", dep}, strings.Split(key, ".")...)
		node, ok := e.Secrets.Get(src)
		if !ok {
			return fmt.Errorf("%s needs secret %s from %s, but secrets.yaml has no %s; re-add it to generate it: wild app add %s", a.App, req, dep, strings.Join(src, "."), dep)
		}
		dst := append([]string{"apps", a.App}, strings.Split(req, ".")...)
		if cur, exists := e.Secrets.Get(dst); exists {
			if cur.Value != node.Value {
				op.Warn("secret %s differs from its source %s; kept the existing value", strings.Join(dst, "."), strings.Join(src, "."))
			}
			continue
		}
		if err := e.Secrets.Set(dst, yamldoc.StringNode(node.Value)); err != nil {
			return err
		}
		res.SecretsCopied = append(res.SecretsCopied, strings.Join(dst, "."))
	}
	added, err := fillDefaultSecrets(a.engine(), e.Secrets, a.App, m, newContext(mustMap(e.Config), installedAs), appCfg)
	res.SecretsAdded = nonNil(added)
	return err
}

func mustMap(d *yamldoc.Doc) map[string]any {
	m, _ := d.Map()
	return m
}

// fillDefaultSecrets generates missing defaultSecrets: random ones first,
// then templated ones in order, so a template such as dbUrl can use a
// password generated in the same run.
func fillDefaultSecrets(eng *render.Engine, secrets *yamldoc.Doc, app string, m *catalog.Manifest, ctx Context, appCfg map[string]any) ([]string, error) {
	var added []string
	for _, templated := range []bool{false, true} {
		for _, s := range m.DefaultSecrets {
			if s.HasDefault != templated {
				continue
			}
			p := append([]string{"apps", app}, strings.Split(s.Key, ".")...)
			if _, exists := secrets.Get(p); exists {
				continue
			}
			val, err := secretValue(eng, secrets, app, m, s, ctx, appCfg)
			if err != nil {
				return added, err
			}
			if err := secrets.Set(p, yamldoc.StringNode(val)); err != nil {
				return added, err
			}
			added = append(added, strings.Join(p, "."))
		}
	}
	return added, nil
}

func secretValue(eng *render.Engine, secrets *yamldoc.Doc, app string, m *catalog.Manifest, s catalog.SecretDefault, ctx Context, appCfg map[string]any) (string, error) {
	if !s.HasDefault {
		return RandomSecret(32)
	}
	mine, _, err := secrets.Value([]string{"apps", app})
	if err != nil {
		return "", err
	}
	return eng.String(m.Name+"/manifest.yaml", s.Line, s.Default, ctx.data(appCfg, asMap(mine)))
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomSecret returns n characters from crypto/rand. Letters and digits
// only, so the value is safe in URLs, shells and YAML without quoting.
func RandomSecret(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// Rejection sampling keeps the distribution uniform: 248 is the
			// largest multiple of 62 below 256.
			if b < 248 && len(out) < n {
				out = append(out, secretAlphabet[int(b)%len(secretAlphabet)])
			}
		}
	}
	return string(out), nil
}

// compile produces the app's compiled directory: the package's rendered
// resources, the instance copy of manifest.yaml (with installedAs) and the
// raw package under .package/.
func compile(eng *render.Engine, pkg *catalog.Package, m *catalog.Manifest, appCfg map[string]any) (map[string][]byte, error) {
	out, err := pkg.Compile(eng, appCfg)
	if err != nil {
		return nil, err
	}
	files, err := pkg.Files()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		raw, err := fs.ReadFile(pkg.FS, f)
		if err != nil {
			return nil, err
		}
		out[path.Join(PackageDir, f)] = raw
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	out[catalog.ManifestFile] = b
	stamp, err := json.Marshal(compileStamp{ConfigHash: configHash(appCfg), Version: m.Version})
	if err != nil {
		return nil, err
	}
	out[stampFile] = append(stamp, '\n')
	return out, nil
}

// stampFile records what an app was compiled from, so deploy knows when
// config changed since (state 3a) without recompiling over hand edits.
const stampFile = ".compiled.json"

type compileStamp struct {
	ConfigHash string `json:"configHash"`
	Version    string `json:"version"`
}

// configHash fingerprints an app's config section; encoding/json sorts map
// keys, so equal configs hash equally.
func configHash(cfg map[string]any) string {
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// NeedsRecompile reports whether the app's config changed since it was
// compiled.
func NeedsRecompile(inst *instance.Instance, app string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(inst.AppDir(app), stampFile))
	if err != nil {
		return true, nil
	}
	var st compileStamp
	if json.Unmarshal(b, &st) != nil {
		return true, nil
	}
	v, err := inst.GetConfig("apps." + app)
	if err != nil {
		return true, nil
	}
	return st.ConfigHash != configHash(asMap(v)), nil
}

func writeFiles(dir string, files map[string][]byte) error {
	for rel, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// diffFiles compares the compiled files with what is on disk (outside
// .package/, which is bookkeeping).
func diffFiles(dir string, files map[string][]byte) []FileChange {
	seen := map[string]bool{}
	var out []FileChange
	for rel, b := range files {
		if strings.HasPrefix(rel, ".") {
			continue
		}
		seen[rel] = true
		old, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		switch {
		case err != nil:
			out = append(out, FileChange{rel, "created"})
		case !bytes.Equal(old, b):
			out = append(out, FileChange{rel, "updated"})
		default:
			out = append(out, FileChange{rel, "unchanged"})
		}
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && rel == PackageDir {
			return filepath.SkipDir
		}
		if !d.IsDir() && !seen[rel] && !strings.HasPrefix(rel, ".") {
			out = append(out, FileChange{rel, "removed"})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func filesChanged(fc []FileChange) bool {
	for _, f := range fc {
		if f.Change != "unchanged" {
			return true
		}
	}
	return false
}

// sameBookkeeping checks the hidden files (.package/, the compile stamp)
// that diffFiles leaves out, so an unchanged add can skip the rewrite.
func sameBookkeeping(dir string, files map[string][]byte) bool {
	for rel, b := range files {
		if !strings.HasPrefix(rel, ".") {
			continue
		}
		old, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil || !bytes.Equal(old, b) {
			return false
		}
	}
	return true
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
