package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"testing/fstest"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/merge"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

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
		return nil, problem.New(problem.NotFound, fmt.Sprintf("%s is not added to instance %s", u.App, u.Instance.Name)).With("app.add", "add it with", "app", u.App)
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
	rv.Breaking = append(rv.Breaking, breakingMeta(u.App, cur, newPkg.Manifest, installedAs, u.AcceptBreaking)...)
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
	if rv.SecretsCopied, rv.SecretsAdded, err = fillSecrets(u.engine(), cfg, sec, u.App, newPkg.Manifest, installedAs, newCfg, rv.warn); err != nil {
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
	rv.Files = reviewFiles(u.App, current, p.files)
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
		return nil, problem.New(problem.PreconditionFailed, fmt.Sprintf("apps/%s has no %s/%s, so there is nothing to merge against", app, PackageDir, catalog.ManifestFile)).With("app.add", "re-add the app first", "app", app)
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
func breakingMeta(app string, cur, next *catalog.Manifest, installedAs map[string]string, accepted bool) []BreakingChange {
	if accepted {
		return nil
	}
	accept := &problem.Hint{Action: "app.update", Args: map[string]string{"app": app, "flag": "accept-breaking"}}
	var out []BreakingChange
	if oldV, err := semver.NewVersion(cur.Version); err == nil {
		if newV, err := semver.NewVersion(next.Version); err == nil && newV.Major() > oldV.Major() {
			h := *accept
			h.Text = "read the app's release notes, then accept it"
			out = append(out, BreakingChange{Kind: "major_version", Resolution: ResolveAcceptBreaking, Hint: &h,
				Message: fmt.Sprintf("major version bump %s -> %s", cur.Version, next.Version)})
		}
	}
	if a, b := requiresString(cur.Requires), requiresString(next.Requires); a != b {
		h := *accept
		h.Text = "accept it (and map dependencies to choose)"
		out = append(out, BreakingChange{Kind: "requires_changed", Resolution: ResolveAcceptBreaking, Hint: &h,
			Message: fmt.Sprintf("requires changed from [%s] to [%s] (would map: %s)", a, b, mapping(installedAs))})
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
	cm := &merge.ConfigMerge{Doc: cfg, Section: appPath, Renames: u.Renames, AcceptRemoved: u.AcceptRemoved}
	res, err := cm.Run(base, theirs)
	if err != nil {
		return problem.Wrap(problem.Invalid, err, "merge the config of "+u.App)
	}
	rv.Config, rv.Removed = res.Changes, res.Removed
	for _, r := range res.Removed {
		rv.Breaking = append(rv.Breaking, removedKey(u.App, r))
	}
	return nil
}

// reviewFiles lists changed compiled files, each with its unified diff
// (bookkeeping left out).
func reviewFiles(app string, current, next map[string][]byte) []FileChange {
	var changes []FileChange
	for _, f := range unionKeys(current, next) {
		if strings.HasPrefix(f, ".") {
			continue
		}
		a, inA := current[f]
		b, inB := next[f]
		act := change.Configured
		switch {
		case !inA:
			act = change.Created
		case !inB:
			act = change.Pruned
		case bytes.Equal(a, b):
			continue
		}
		from, to := "a/apps/"+app+"/"+f, "b/apps/"+app+"/"+f
		if !inA {
			from = "/dev/null"
		}
		if !inB {
			to = "/dev/null"
		}
		changes = append(changes, FileChange{Path: f, Change: act, Diff: merge.Unified(from, to, string(a), string(b))})
	}
	return changes
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

// removedKey is the breaking change of a config key the new package
// dropped while the user set it: rename it when it looks renamed, else
// accept its removal.
func removedKey(app string, r RemovedKey) BreakingChange {
	b := BreakingChange{Kind: "removed_key", Key: r.Key, RenamedTo: r.RenamedTo,
		Message: fmt.Sprintf("config key %s was removed from the package but is set here (%s)", r.Key, r.Value)}
	drop := &problem.Hint{Action: "app.update", Args: map[string]string{"app": app, "flag": "accept-removed"}, Text: "accept its removal to drop it"}
	if r.RenamedTo == "" {
		b.Resolution, b.Hint = ResolveAcceptRemoved, drop
		return b
	}
	b.Resolution = ResolveRename
	b.Hint = &problem.Hint{Action: "app.update", Args: map[string]string{"app": app, "flag": "rename", "value": r.Key + "=" + r.RenamedTo},
		Text: "it looks renamed to " + r.RenamedTo + "; carry the value across"}
	b.Alt = drop
	return b
}
