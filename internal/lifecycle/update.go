package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"testing/fstest"

	"github.com/Masterminds/semver/v3"
	"github.com/pmezard/go-difflib/difflib"
	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// ClusterHooks connect update and rollback to the cluster. Deploy support
// fills them in; a nil field means that part is skipped.
type ClusterHooks struct {
	// Preview describes what applying the compiled app in dir (laid out
	// like apps/<app>/) would change in the cluster, by server-side dry
	// run. It returns "" when the app is not deployed.
	Preview func(ctx context.Context, app, dir string) (string, error)
	// Deployed reports whether the app is deployed.
	Deployed func(ctx context.Context, app string) (bool, error)
	// Deploy deploys the app as compiled in the instance; callers hold the
	// app lock while calling it.
	Deploy func(ctx context.Context, app string) error
}

// Update brings an added app to the catalog's current package (states 3b
// and 3c): snapshot, three-way config merge, new secrets only, recompile,
// review, then one atomic write. In git mode the compiled files are
// merged three-way too, so committed hand edits survive.
type Update struct {
	Env
	App    string
	DryRun bool
	// Deploy deploys after a clean update.
	Deploy bool
	// AcceptRemoved drops config keys the new package removed.
	AcceptRemoved bool
	// Renames carries values across renamed keys: old -> new, relative
	// to apps.<App>.
	Renames map[string]string
	// AcceptBreaking accepts a major version bump and changed requires.
	AcceptBreaking bool
	// Deps maps new requirements, like add --dep.
	Deps map[string]string
	// Fresh deletes the app's config and secrets and adds it again.
	Fresh bool
	// Continue finishes a git-mode update that stopped on conflicts.
	Continue bool
	// Confirm is asked with the review before anything is written; nil
	// means go ahead.
	Confirm func(r *UpdateReview) (bool, error)
	Cluster ClusterHooks

	op *operation.Op
}

// UpdateReview is what the user is shown, and what the update did.
// Secret values never appear in it.
type UpdateReview struct {
	App           string         `json:"app"`
	FromVersion   string         `json:"fromVersion"`
	ToVersion     string         `json:"toVersion"`
	UpToDate      bool           `json:"upToDate"`
	Fresh         bool           `json:"fresh,omitempty"`
	PackageFiles  []FileChange   `json:"packageFiles,omitempty"`
	Config        []ConfigChange `json:"config,omitempty"`
	SecretsAdded  []string       `json:"secretsAdded,omitempty"`
	SecretsCopied []string       `json:"secretsCopied,omitempty"`
	Files         []FileChange   `json:"files,omitempty"`
	Diff          string         `json:"diff,omitempty"`
	Cluster       string         `json:"cluster,omitempty"`
	Breaking      []string       `json:"breaking,omitempty"`
	Removed       []RemovedKey   `json:"removed,omitempty"`
	Merged        []string       `json:"merged,omitempty"`    // hand-edited files merged cleanly
	Conflicts     []string       `json:"conflicts,omitempty"` // files left with conflict markers
	Lost          []string       `json:"lost,omitempty"`      // --fresh: what is discarded
	Applied       bool           `json:"applied"`
	Snapshot      string         `json:"snapshot,omitempty"`
	Commit        string         `json:"commit,omitempty"`
	Deployed      bool           `json:"deployed,omitempty"`
	Operation     string         `json:"operation,omitempty"`
	Warnings      []string       `json:"warnings,omitempty"`
}

// BreakingError is returned when the update needs explicit decisions.
type BreakingError struct {
	App   string
	Items []string
}

func (e *BreakingError) Error() string {
	return fmt.Sprintf("%s: the update has breaking changes; nothing was changed:\n  %s\nresolve them explicitly (see above), or start over with --fresh", e.App, strings.Join(e.Items, "\n  "))
}

// ConflictError is returned when hand edits conflict with the new package.
type ConflictError struct {
	App   string
	Dir   string
	Files []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: merge conflicts in %s\n  edit each file in %s, keep the lines you want and remove the <<<<<<< ours / ======= / >>>>>>> theirs markers,\n  then finish with: wild app update %s --continue\n  (or undo the update with: wild app rollback %s)", e.App, strings.Join(e.Files, ", "), e.Dir, e.App, e.App)
}

// ErrCancelled is returned when the user declines the review.
var ErrCancelled = errors.New("cancelled; nothing changed")

// Run performs the update.
func (u *Update) Run(ctx context.Context) (*UpdateReview, error) {
	if err := u.validate(); err != nil {
		return nil, err
	}
	if u.Continue {
		return u.continueMerge()
	}
	if !u.DryRun {
		// A dry run must not even create a lock file.
		unlock, err := u.Instance.LockApp(u.App)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	if err := u.checkWorktree(); err != nil {
		return nil, err
	}
	p, err := u.planFromDisk()
	if err != nil {
		return nil, err
	}
	rv := p.review
	if rv.UpToDate {
		return rv, nil
	}
	if err := u.preview(ctx, p); err != nil {
		rv.Warnings = append(rv.Warnings, "cluster preview failed: "+err.Error())
	}
	if len(rv.Breaking) > 0 {
		return rv, &BreakingError{App: u.App, Items: rv.Breaking}
	}
	if u.DryRun {
		return rv, nil
	}
	if u.Confirm != nil {
		ok, err := u.Confirm(rv)
		if err != nil {
			return rv, err
		}
		if !ok {
			return rv, ErrCancelled
		}
	}
	return u.apply(ctx, p)
}

func (u *Update) validate() error {
	if err := names.Validate("app", u.App); err != nil {
		return err
	}
	for ref, dep := range u.Deps {
		if err := names.Validate("alias", ref); err != nil {
			return err
		}
		if err := names.Validate("app", dep); err != nil {
			return err
		}
	}
	for o, n := range u.Renames {
		if _, err := yamldoc.ParsePath(o); err != nil {
			return fmt.Errorf("--rename %s=%s: %w", o, n, err)
		}
		if _, err := yamldoc.ParsePath(n); err != nil {
			return fmt.Errorf("--rename %s=%s: %w", o, n, err)
		}
	}
	if u.Fresh && (len(u.Renames) > 0 || u.AcceptRemoved) {
		return fmt.Errorf("--fresh starts over from the package defaults; --rename and --accept-removed do not apply")
	}
	return nil
}

// checkWorktree refuses to merge over uncommitted hand edits or unresolved
// conflicts: the three-way merge needs a committed "ours".
func (u *Update) checkWorktree() error {
	if has, files, err := gitmode.HasConflictMarkers(u.Instance, u.App); err != nil {
		return err
	} else if has {
		return fmt.Errorf("%s has unresolved merge conflicts in %s; resolve them and run: wild app update %s --continue (or undo with: wild app rollback %s)", u.App, strings.Join(files, ", "), u.App, u.App)
	}
	if !gitmode.IsRepo(u.Instance) || u.Fresh {
		return nil
	}
	dirty, files, err := gitmode.DirtyApp(u.Instance, u.App)
	if err != nil {
		return err
	}
	if dirty {
		return fmt.Errorf("%s has uncommitted changes (%s); commit them first so the update can merge them (git -C %s commit -am 'scale(%s): ...'), or discard them", u.App, strings.Join(files, ", "), u.Instance.Dir, u.App)
	}
	return nil
}

// updatePlan is a computed update: the edited docs and the final files.
type updatePlan struct {
	review *UpdateReview
	newPkg *catalog.Package
	files  map[string][]byte // final apps/<app>/ content
	config []byte            // encoded config.yaml after the merge
}

func (u *Update) planFromDisk() (*updatePlan, error) {
	cfg, err := u.Instance.ReadConfig()
	if err != nil {
		return nil, err
	}
	sec, err := u.Instance.ReadSecrets()
	if err != nil {
		return nil, err
	}
	return u.plan(cfg, sec)
}

// plan computes the update against cfg and sec, editing them in place.
func (u *Update) plan(cfg, sec *yamldoc.Doc) (*updatePlan, error) {
	cur, err := ReadInstalledManifest(u.Instance, u.App)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, fmt.Errorf("%s is not added to instance %s; add it with: wild app add %s", u.App, u.Instance.Name, u.App)
	}
	newPkg, err := u.Catalog.Get(u.App)
	if err != nil {
		return nil, fmt.Errorf("%w (an update needs the app in the Wild Directory)", err)
	}
	oldPkg, err := installedPackage(u.Instance, u.App)
	if err != nil {
		return nil, err
	}
	rv := &UpdateReview{App: u.App, FromVersion: cur.Version, ToVersion: newPkg.Manifest.Version, Fresh: u.Fresh}
	if rv.PackageFiles, err = packageChanges(oldPkg, newPkg); err != nil {
		return nil, err
	}
	p := &updatePlan{review: rv, newPkg: newPkg}
	if len(rv.PackageFiles) == 0 && !u.Fresh {
		rv.UpToDate = true
		return p, nil
	}
	if u.Fresh {
		return p, u.planFresh(p, cfg, sec)
	}
	installedAs, err := resolveDeps(u.Instance, u.App, newPkg.Manifest, u.Deps)
	if err != nil {
		return nil, err
	}
	rv.Breaking = append(rv.Breaking, breakingMeta(cur, newPkg.Manifest, installedAs, u.AcceptBreaking)...)
	oldCfg, err := appConfig(cfg, u.App)
	if err != nil {
		return nil, err
	}
	if err := u.mergeConfig(rv, cfg, oldPkg.Manifest, newPkg.Manifest, cur.InstalledAs, installedAs); err != nil {
		return nil, err
	}
	newCfg, err := appConfig(cfg, u.App)
	if err != nil {
		return nil, err
	}
	if err := u.addSecrets(rv, cfg, sec, newPkg.Manifest, installedAs, newCfg); err != nil {
		return nil, err
	}
	m := *newPkg.Manifest
	m.InstalledAs = installedAs
	theirs, err := compile(u.engine(), newPkg, &m, newCfg)
	if err != nil {
		return nil, err
	}
	p.files = theirs
	if gitmode.IsRepo(u.Instance) {
		baseCfg := compiledConfig(u.Instance, u.App, oldCfg)
		if p.files, err = u.mergeFiles(rv, oldPkg, cur, baseCfg, theirs); err != nil {
			return nil, err
		}
	}
	current, err := readTree(u.Instance.AppDir(u.App))
	if err != nil {
		return nil, err
	}
	rv.Files, rv.Diff = reviewFiles(u.App, current, p.files)
	if p.config, err = cfg.Encode(); err != nil {
		return nil, err
	}
	return p, nil
}

// installedPackage loads apps/<app>/.package/, the package the app was
// compiled from, into memory (it is replaced during the update).
func installedPackage(inst *instance.Instance, app string) (*catalog.Package, error) {
	files, err := readTree(inst.Path(instance.AppsDir, app, PackageDir))
	if err != nil {
		return nil, err
	}
	raw, ok := files[catalog.ManifestFile]
	if !ok {
		return nil, fmt.Errorf("apps/%s has no %s/%s, so there is nothing to merge against; re-add the app first: wild app add %s", app, PackageDir, catalog.ManifestFile, app)
	}
	m, err := catalog.ParseManifest(path.Join("apps", app, PackageDir, catalog.ManifestFile), raw)
	if err != nil {
		return nil, err
	}
	fsys := fstest.MapFS{}
	for rel, b := range files {
		fsys[rel] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return &catalog.Package{Name: app, Manifest: m, FS: fsys}, nil
}

func appConfig(cfg *yamldoc.Doc, app string) (map[string]any, error) {
	v, _, err := cfg.Value([]string{"apps", app})
	return asMap(v), err
}

// breakingMeta finds a major version bump and changed requires.
func breakingMeta(cur, next *catalog.Manifest, installedAs map[string]string, accepted bool) []string {
	if accepted {
		return nil
	}
	var out []string
	if oldV, err := semver.NewVersion(cur.Version); err == nil {
		if newV, err := semver.NewVersion(next.Version); err == nil && newV.Major() > oldV.Major() {
			out = append(out, fmt.Sprintf("major version bump %s -> %s: read the app's release notes, then pass --accept-breaking", cur.Version, next.Version))
		}
	}
	if a, b := requiresString(cur.Requires), requiresString(next.Requires); a != b {
		out = append(out, fmt.Sprintf("requires changed from [%s] to [%s] (would map: %s): pass --accept-breaking (and --dep ALIAS=APP to choose)", a, b, mapping(installedAs)))
	}
	return out
}

func requiresString(rs []catalog.Requirement) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Ref()+"="+r.Name)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func mapping(m map[string]string) string {
	if len(m) == 0 {
		return "nothing"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"->"+m[k])
	}
	return strings.Join(parts, ", ")
}

// mergeConfig runs the three-way merge of the app's config section.
func (u *Update) mergeConfig(rv *UpdateReview, cfg *yamldoc.Doc, oldM, newM *catalog.Manifest, oldAs, newAs map[string]string) error {
	all, err := cfg.Map()
	if err != nil {
		return err
	}
	existing := asMap(asMap(all["apps"])[u.App])
	base, _, err := RenderDefaults(u.engine(), oldM, newContext(all, oldAs), existing)
	if err != nil {
		return fmt.Errorf("render the installed package's defaults: %w", err)
	}
	theirs, _, err := RenderDefaults(u.engine(), newM, newContext(all, newAs), existing)
	if err != nil {
		return err
	}
	appPath := []string{"apps", u.App}
	ours, ok := cfg.Get(appPath)
	if !ok || ours.Kind != yaml.MappingNode {
		if err := cfg.Set(appPath, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}); err != nil {
			return err
		}
		ours, _ = cfg.Get(appPath)
	}
	ours.Style &^= yaml.FlowStyle
	renamed, err := applyRenames(ours, u.Renames)
	if err != nil {
		return err
	}
	cm := &configMerge{}
	cm.merge(base, ours, theirs, "")
	cm.guessRenames(base)
	rv.Config = append(renamed, cm.changes...)
	if u.AcceptRemoved {
		rv.Config = append(rv.Config, deleteKeys(ours, cm.removed)...)
	} else {
		rv.Removed = cm.removed
		for _, r := range cm.removed {
			hint := "pass --accept-removed to drop it"
			if r.RenamedTo != "" {
				hint = fmt.Sprintf("it looks renamed to %s: pass --rename %s=%s, or --accept-removed to drop it", r.RenamedTo, r.Key, r.RenamedTo)
			}
			rv.Breaking = append(rv.Breaking, fmt.Sprintf("config key %s was removed from the package but is set here (%s); %s", r.Key, r.Value, hint))
		}
	}
	sortChanges(rv.Config)
	return nil
}

// addSecrets copies newly required secrets from dependencies and
// generates new defaultSecrets. Existing secrets are never touched.
func (u *Update) addSecrets(rv *UpdateReview, cfg, sec *yamldoc.Doc, m *catalog.Manifest, installedAs map[string]string, appCfg map[string]any) error {
	for _, req := range m.RequiredSecrets {
		ref, key, _ := strings.Cut(req, ".")
		dst := append([]string{"apps", u.App}, strings.Split(req, ".")...)
		if _, exists := sec.Get(dst); exists {
			continue
		}
		src := append([]string{"apps", installedAs[ref]}, strings.Split(key, ".")...)
		node, ok := sec.Get(src)
		if !ok {
			return fmt.Errorf("%s now needs secret %s from %s, but secrets.yaml has no %s; re-add it to generate it: wild app add %s", u.App, req, installedAs[ref], strings.Join(src, "."), installedAs[ref])
		}
		if err := sec.Set(dst, yamldoc.StringNode(node.Value)); err != nil {
			return err
		}
		rv.SecretsCopied = append(rv.SecretsCopied, strings.Join(dst, "."))
	}
	all, err := cfg.Map()
	if err != nil {
		return err
	}
	added, err := fillDefaultSecrets(u.engine(), sec, u.App, m, newContext(all, installedAs), appCfg)
	rv.SecretsAdded = added
	return err
}

// mergeFiles is the git-mode three-way merge of compiled files: base is
// the installed package compiled with the config the files were compiled
// from (normally the current one), ours the
// committed apps/<app>/, theirs the new package compiled with the merged
// config. Bookkeeping (.package/, manifest.yaml, dot files) is theirs.
func (u *Update) mergeFiles(rv *UpdateReview, oldPkg *catalog.Package, cur *catalog.Manifest, oldCfg map[string]any, theirs map[string][]byte) (map[string][]byte, error) {
	m := *oldPkg.Manifest
	m.InstalledAs = cur.InstalledAs
	base, err := compile(u.engine(), oldPkg, &m, oldCfg)
	if err != nil {
		return nil, fmt.Errorf("compile the installed package for the merge base: %w", err)
	}
	ours, err := readTree(u.Instance.AppDir(u.App))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for f, b := range theirs {
		out[f] = b
	}
	for f, o := range ours {
		if bookkeeping(f) {
			continue
		}
		b, inBase := base[f]
		t, inTheirs := theirs[f]
		switch {
		case inBase && bytes.Equal(o, b):
			// untouched by the user: theirs (or gone, if upstream removed it)
		case !inBase && !inTheirs:
			out[f] = o // a file the user added
		case inBase && !inTheirs:
			out[f] = o
			rv.Conflicts = append(rv.Conflicts, f+" (removed by the new package, but you edited it; delete it or keep it)")
		default:
			merged, conflict := Merge3(b, o, t)
			out[f] = merged
			if conflict {
				rv.Conflicts = append(rv.Conflicts, f)
			} else if !bytes.Equal(merged, t) {
				rv.Merged = append(rv.Merged, f)
			}
		}
	}
	sort.Strings(rv.Conflicts)
	sort.Strings(rv.Merged)
	return out, nil
}

// bookkeeping files are wild's, not the user's: always taken as compiled.
func bookkeeping(f string) bool {
	return strings.HasPrefix(f, ".") || f == catalog.ManifestFile
}

// reviewFiles lists changed compiled files and renders their unified
// diff (bookkeeping left out).
func reviewFiles(app string, current, next map[string][]byte) ([]FileChange, string) {
	var changes []FileChange
	var diff strings.Builder
	for _, f := range unionKeys(current, next) {
		if strings.HasPrefix(f, ".") {
			continue
		}
		a, inA := current[f]
		b, inB := next[f]
		change := "updated"
		switch {
		case !inA:
			change = "created"
		case !inB:
			change = "removed"
		case bytes.Equal(a, b):
			continue
		}
		changes = append(changes, FileChange{Path: f, Change: change})
		from, to := "a/apps/"+app+"/"+f, "b/apps/"+app+"/"+f
		if !inA {
			from = "/dev/null"
		}
		if !inB {
			to = "/dev/null"
		}
		d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
			FromFile: from, ToFile: to, Context: 3,
		})
		diff.WriteString(d)
	}
	return changes, diff.String()
}

func unionKeys(a, b map[string][]byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string][]byte{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// preview asks the cluster what the new files would change.
func (u *Update) preview(ctx context.Context, p *updatePlan) error {
	if u.Cluster.Preview == nil || p.files == nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "wild-update-preview-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeFiles(dir, p.files); err != nil {
		return err
	}
	p.review.Cluster, err = u.Cluster.Preview(ctx, u.App, dir)
	return err
}

// apply snapshots the app and writes the whole update in one instance
// transaction, so a crash leaves it fully old or fully new.
func (u *Update) apply(ctx context.Context, p *updatePlan) (*UpdateReview, error) {
	rv := p.review
	op, err := operation.Start(u.Instance.Path(instance.OperationsDir), u.Instance.Name, "update", u.App)
	if err != nil {
		return rv, err
	}
	rv.Operation = op.ID()
	u.op = op
	op.Step("snapshot")
	snap, err := takeSnapshot(u.Instance, u.App, "update", rv.FromVersion, rv.ToVersion)
	if err == nil {
		err = snap.save(u.Instance)
	}
	if err != nil {
		return rv, op.Finish(fmt.Errorf("snapshot %s before updating: %w", u.App, err))
	}
	rv.Snapshot = snap.Info.ID
	crashPoint("after-snapshot")
	op.Step("merge and write")
	restore := armCommitCrash()
	defer restore()
	err = u.Instance.Update(func(e *instance.Edit) error { return u.write(e, p) })
	if err != nil {
		return rv, op.Finish(err)
	}
	crashPoint("after-commit")
	rv.Applied = true
	op.Note("%s -> %s", rv.FromVersion, rv.ToVersion)
	if len(rv.Conflicts) > 0 {
		if err := gitmode.SetPending(u.Instance, u.App, u.message(rv)); err != nil {
			return rv, op.Finish(err)
		}
		return rv, op.Finish(&ConflictError{App: u.App, Dir: u.Instance.AppDir(u.App), Files: rv.Conflicts})
	}
	if h, err := gitmode.Head(u.Instance); err == nil {
		rv.Commit = h
	}
	rv.Warnings = op.Warnings()
	if err := op.Finish(nil); err != nil {
		return rv, err
	}
	if u.Deploy && u.Cluster.Deploy != nil {
		if err := u.Cluster.Deploy(ctx, u.App); err != nil {
			return rv, fmt.Errorf("%s was updated, but deploying it failed: %w", u.App, err)
		}
		rv.Deployed = true
	}
	return rv, nil
}

// write recomputes the plan under the instance lock and stages it. The
// result must match what was reviewed; if another process changed the
// app's config meanwhile, the user has to look again.
func (u *Update) write(e *instance.Edit, reviewed *updatePlan) error {
	if u.Fresh {
		return u.writeFresh(e, reviewed)
	}
	p, err := u.plan(e.Config, e.Secrets)
	if err != nil {
		return err
	}
	if !bytes.Equal(p.config, reviewed.config) || !sameFiles(p.files, reviewed.files) {
		return fmt.Errorf("the instance changed while the update was being reviewed; nothing was written, run the update again")
	}
	e.Message = u.message(reviewed.review)
	if len(reviewed.review.Conflicts) > 0 {
		e.Message = "" // conflict markers are never committed
	}
	return e.ReplaceDir(path.Join(instance.AppsDir, u.App), func(dir string) error {
		return writeFiles(dir, p.files)
	})
}

func (u *Update) message(rv *UpdateReview) string {
	verb := ""
	if rv.Fresh {
		verb = "fresh install "
	}
	if rv.FromVersion == rv.ToVersion {
		return fmt.Sprintf("upgrade(%s): %spackage changes in %s", u.App, verb, rv.ToVersion)
	}
	return fmt.Sprintf("upgrade(%s): %s%s -> %s", u.App, verb, rv.FromVersion, rv.ToVersion)
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// continueMerge commits a git-mode update once its conflicts are resolved.
func (u *Update) continueMerge() (*UpdateReview, error) {
	msg := gitmode.Pending(u.Instance, u.App)
	if msg == "" {
		return nil, fmt.Errorf("%s has no update waiting on conflict resolution", u.App)
	}
	if has, files, err := gitmode.HasConflictMarkers(u.Instance, u.App); err != nil {
		return nil, err
	} else if has {
		return nil, fmt.Errorf("%s still has conflict markers in %s; remove them first", u.App, strings.Join(files, ", "))
	}
	unlock, err := u.Instance.LockApp(u.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := u.Instance.Update(func(e *instance.Edit) error { e.Message = msg; return nil }); err != nil {
		return nil, err
	}
	gitmode.ClearPending(u.Instance, u.App)
	rv := &UpdateReview{App: u.App, Applied: true}
	if h, err := gitmode.Head(u.Instance); err == nil {
		rv.Commit = h
	}
	return rv, nil
}

// crashEnv names a point at which the process kills itself with SIGKILL.
// Only the crash-safety tests set it; it proves an update interrupted
// anywhere leaves the instance fully old or fully new.
const crashEnv = "WILD_TEST_CRASH_AT"

func crashPoint(name string) {
	if os.Getenv(crashEnv) == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered asynchronously
	}
}

// armCommitCrash routes the instance transaction's own test points
// (before-journal, after-journal, after-op-N) to crashPoint.
func armCommitCrash() func() {
	if os.Getenv(crashEnv) == "" {
		return func() {}
	}
	prev := instance.CommitHook
	instance.CommitHook = crashPoint
	return func() { instance.CommitHook = prev }
}

// planFresh lists what --fresh discards: config values that differ from
// the installed package's defaults, and every secret (by name).
func (u *Update) planFresh(p *updatePlan, cfg, sec *yamldoc.Doc) error {
	cur, err := ReadInstalledManifest(u.Instance, u.App)
	if err != nil {
		return err
	}
	oldPkg, err := installedPackage(u.Instance, u.App)
	if err != nil {
		return err
	}
	all, err := cfg.Map()
	if err != nil {
		return err
	}
	base, _, err := RenderDefaults(u.engine(), oldPkg.Manifest, newContext(all, cur.InstalledAs), map[string]any{})
	if err != nil {
		return err
	}
	prefix := "apps." + u.App + "."
	ours := cfg.Leaves([]string{"apps", u.App})
	for _, k := range sortedKeys(ours) {
		rel := strings.TrimPrefix(k, prefix)
		if bv := lookupNode(base, rel); bv == nil || !sameValue(bv, ours[k]) {
			p.review.Lost = append(p.review.Lost, fmt.Sprintf("config %s = %s", k, show(ours[k])))
		}
	}
	secrets := sec.Leaves([]string{"apps", u.App})
	for _, k := range sortedKeys(secrets) {
		p.review.Lost = append(p.review.Lost, "secret "+k+" (a new value is generated; apps using the old one must be redeployed)")
	}
	return nil
}

// writeFresh deletes the app's config and secrets and adds it again, in
// the same transaction.
func (u *Update) writeFresh(e *instance.Edit, p *updatePlan) error {
	e.Config.Delete([]string{"apps", u.App})
	e.Secrets.Delete([]string{"apps", u.App})
	a := &Add{Env: u.Env, App: u.App, Deps: u.Deps}
	res := &AddResult{App: u.App}
	if err := a.apply(e, p.newPkg, u.op, res); err != nil {
		return err
	}
	e.Message = u.message(p.review)
	p.review.SecretsAdded = res.SecretsAdded
	p.review.Files = res.Files
	for _, k := range res.ConfigAdded {
		p.review.Config = append(p.review.Config, ConfigChange{Key: strings.TrimPrefix(k, "apps."+u.App+"."), Change: "added"})
	}
	return nil
}
