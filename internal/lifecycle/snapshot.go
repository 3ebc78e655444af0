package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// SnapshotsDir holds per-app snapshots taken before updates. It contains
// secrets, so everything in it is private (0700/0600) and git mode
// ignores it.
const SnapshotsDir = ".snapshots"

// keepSnapshots bounds how many snapshots an app keeps; older ones are
// pruned after a new one is taken.
const keepSnapshots = 10

// SnapshotInfo describes one snapshot (meta.json).
type SnapshotInfo struct {
	ID          string    `json:"id"`
	App         string    `json:"app"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"createdAt"`
	FromVersion string    `json:"fromVersion"`
	ToVersion   string    `json:"toVersion,omitempty"`
	HasConfig   bool      `json:"hasConfig"`
	HasSecrets  bool      `json:"hasSecrets"`
}

// snapshot is everything about one app in the instance: its config
// section, secrets section and compiled directory (instance manifest.yaml
// with installedAs and .package/ included).
type snapshot struct {
	Info    SnapshotInfo
	Config  *yaml.Node // nil when the app had no config section
	Secrets *yaml.Node
	Files   map[string][]byte
}

func snapshotRoot(inst *instance.Instance, app string) string {
	return inst.Path(SnapshotsDir, app)
}

// takeSnapshot reads the app's current state from disk.
func takeSnapshot(inst *instance.Instance, app, reason, from, to string) (*snapshot, error) {
	cfg, err := inst.ReadConfig()
	if err != nil {
		return nil, err
	}
	sec, err := inst.ReadSecrets()
	if err != nil {
		return nil, err
	}
	s := &snapshot{Info: SnapshotInfo{App: app, Reason: reason, CreatedAt: time.Now().UTC(), FromVersion: from, ToVersion: to}}
	if n, ok := cfg.Get([]string{"apps", app}); ok {
		s.Config, s.Info.HasConfig = n, true
	}
	if n, ok := sec.Get([]string{"apps", app}); ok {
		s.Secrets, s.Info.HasSecrets = n, true
	}
	if s.Files, err = readTree(inst.AppDir(app)); err != nil {
		return nil, err
	}
	return s, nil
}

// save writes the snapshot under .snapshots/<app>/<id>/ through a temp
// directory and a rename, so a crash never leaves half a snapshot that
// rollback could pick.
func (s *snapshot) save(inst *instance.Instance) error {
	root := snapshotRoot(inst, s.Info.App)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	_ = os.Chmod(inst.Path(SnapshotsDir), 0o700)
	s.Info.ID = s.Info.CreatedAt.Format("20060102T150405.000000000Z")
	tmp, err := os.MkdirTemp(root, ".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := s.write(tmp); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := fsutil.SyncTree(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(root, s.Info.ID)); err != nil {
		return err
	}
	if err := fsutil.SyncDir(root); err != nil {
		return err
	}
	pruneSnapshots(root)
	return nil
}

func (s *snapshot) write(dir string) error {
	meta, err := json.MarshalIndent(s.Info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), append(meta, '\n'), 0o600); err != nil {
		return err
	}
	for name, n := range map[string]*yaml.Node{"config.yaml": s.Config, "secrets.yaml": s.Secrets} {
		if n == nil {
			continue
		}
		b, err := encodeNode(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	for rel, b := range s.Files {
		p := filepath.Join(dir, "files", filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func pruneSnapshots(root string) {
	list, err := listSnapshotIDs(root)
	if err != nil || len(list) <= keepSnapshots {
		return
	}
	for _, id := range list[keepSnapshots:] {
		os.RemoveAll(filepath.Join(root, id))
	}
}

// listSnapshotIDs returns complete snapshot ids, newest first.
func listSnapshotIDs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids, nil
}

// Snapshots lists an app's snapshots, newest first.
func Snapshots(inst *instance.Instance, app string) ([]SnapshotInfo, error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	root := snapshotRoot(inst, app)
	ids, err := listSnapshotIDs(root)
	if err != nil {
		return nil, err
	}
	out := []SnapshotInfo{}
	for _, id := range ids {
		var info SnapshotInfo
		b, err := os.ReadFile(filepath.Join(root, id, "meta.json"))
		if err != nil || json.Unmarshal(b, &info) != nil {
			continue
		}
		out = append(out, info)
	}
	return out, nil
}

// loadSnapshot reads a snapshot back; id "" means the newest.
func loadSnapshot(inst *instance.Instance, app, id string) (*snapshot, error) {
	root := snapshotRoot(inst, app)
	if id == "" {
		ids, err := listSnapshotIDs(root)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, problem.New(problem.NotFound, fmt.Sprintf("%s has no snapshot to roll back to", app)).With("app.update", "one is taken before each update", "app", app)
		}
		id = ids[0]
	}
	if strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return nil, problem.New(problem.Invalid, fmt.Sprintf("invalid snapshot id %q", id)).With("app.rollback", "list them with", "app", app, "flag", "list")
	}
	dir := filepath.Join(root, id)
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, problem.New(problem.NotFound, fmt.Sprintf("%s has no snapshot %q", app, id)).With("app.rollback", "list them with", "app", app, "flag", "list")
	}
	if err != nil {
		return nil, err
	}
	s := &snapshot{}
	if err := json.Unmarshal(b, &s.Info); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	if s.Config, err = readNode(filepath.Join(dir, "config.yaml"), s.Info.HasConfig); err != nil {
		return nil, err
	}
	if s.Secrets, err = readNode(filepath.Join(dir, "secrets.yaml"), s.Info.HasSecrets); err != nil {
		return nil, err
	}
	if s.Files, err = readTree(filepath.Join(dir, "files")); err != nil {
		return nil, err
	}
	return s, nil
}

// encodeNode writes a config or secrets section on its own; Clone expands
// aliases whose anchors live elsewhere in the file, so it reads back.
func encodeNode(n *yaml.Node) ([]byte, error) {
	return yamldoc.EncodeNode(yamldoc.Clone(n))
}

func readNode(p string, want bool) (*yaml.Node, error) {
	if !want {
		return nil, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("snapshot incomplete: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", p, err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	return doc.Content[0], nil
}

// readTree reads every regular file below dir, keyed by slash path. A
// missing dir is an empty tree.
func readTree(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	return out, err
}
