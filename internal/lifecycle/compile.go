package lifecycle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/render"
)

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
// config changed since (the "changed" state, see doc.go) without recompiling over hand edits.
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
			out = append(out, FileChange{Path: rel, Change: change.Created})
		case !bytes.Equal(old, b):
			out = append(out, FileChange{Path: rel, Change: change.Configured})
		default:
			out = append(out, FileChange{Path: rel, Change: change.Unchanged})
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
			out = append(out, FileChange{Path: rel, Change: change.Pruned})
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
