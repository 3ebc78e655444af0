package kopiastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/snapshotfs"

	"github.com/wild-cloud/wild/internal/backup"
)

// sourceInfo names src's snapshots the way the kopia CLI shows them:
// wild@INSTANCE:APP.
func sourceInfo(src backup.Source) snapshot.SourceInfo {
	return snapshot.SourceInfo{Host: src.Instance, UserName: clientUser, Path: src.App}
}

// List returns src's complete snapshots, newest first.
func (s *Store) List(ctx context.Context, src backup.Source) ([]backup.Snapshot, error) {
	if err := validateSource(src); err != nil {
		return nil, err
	}
	mans, err := snapshot.ListSnapshots(ctx, s.rep, sourceInfo(src))
	if err != nil {
		return nil, fmt.Errorf("list backups of %s/%s in %s: %w", src.Instance, src.App, s.dest, err)
	}
	sort.Slice(mans, func(i, j int) bool { return mans[i].StartTime.After(mans[j].StartTime) })
	out := make([]backup.Snapshot, 0, len(mans))
	for _, m := range mans {
		if m.IncompleteReason != "" {
			continue
		}
		snap, err := s.convert(ctx, m)
		if err != nil {
			return nil, err
		}
		out = append(out, snap)
	}
	return out, nil
}

// Get returns one snapshot; a missing one wraps backup.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (backup.Snapshot, error) {
	m, err := s.load(ctx, id)
	if err != nil {
		return backup.Snapshot{}, err
	}
	return s.convert(ctx, m)
}

// Open reads one file of a snapshot. The reader stops when ctx ends.
func (s *Store) Open(ctx context.Context, id, name string) (io.ReadCloser, error) {
	m, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	parts, err := splitName(name)
	if err != nil {
		return nil, err
	}
	e, err := snapshotfs.SnapshotRoot(s.rep, m)
	if err != nil {
		return nil, fmt.Errorf("backup %s: read root: %w", id, err)
	}
	for _, p := range parts {
		dir, ok := e.(fs.Directory)
		if !ok {
			return nil, fmt.Errorf("backup %s has no file %q: %w", id, name, backup.ErrNotFound)
		}
		e, err = dir.Child(ctx, p)
		if errors.Is(err, fs.ErrEntryNotFound) {
			return nil, fmt.Errorf("backup %s has no file %q: %w", id, name, backup.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("backup %s: read %q: %w", id, name, err)
		}
	}
	f, ok := e.(fs.File)
	if !ok {
		return nil, fmt.Errorf("backup %s: %q is not a file: %w", id, name, backup.ErrNotFound)
	}
	r, err := f.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup %s: open %q: %w", id, name, err)
	}
	return &ctxReader{ctx: ctx, rc: r}, nil
}

// Delete forgets a snapshot. Its data stays until maintenance (Maintain)
// finds nothing else references it.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.load(ctx, id); err != nil {
		return err
	}
	err := repo.WriteSession(ctx, s.rep, repo.WriteSessionOptions{Purpose: "wild: delete backup"},
		func(ctx context.Context, w repo.RepositoryWriter) error {
			return w.DeleteManifest(ctx, manifest.ID(id))
		})
	if err != nil {
		return fmt.Errorf("delete backup %s from %s: %w", id, s.dest, err)
	}
	return nil
}

// load reads a snapshot manifest Wild wrote; anything else (a policy, a
// snapshot taken with the kopia CLI) is "not found" to Wild.
func (s *Store) load(ctx context.Context, id string) (*snapshot.Manifest, error) {
	if id == "" {
		return nil, fmt.Errorf("backup ID is empty: %w", backup.ErrNotFound)
	}
	m, err := snapshot.LoadSnapshot(ctx, s.rep, manifest.ID(id))
	if errors.Is(err, snapshot.ErrSnapshotNotFound) || (err == nil && !isOurs(m)) {
		return nil, fmt.Errorf("backup %s in %s: %w", id, s.dest, backup.ErrNotFound)
	}
	if err != nil {
		if strings.Contains(err.Error(), "manifest is not a snapshot") {
			return nil, fmt.Errorf("backup %s in %s: %w", id, s.dest, backup.ErrNotFound)
		}
		return nil, fmt.Errorf("read backup %s from %s: %w", id, s.dest, err)
	}
	return m, nil
}

func isOurs(m *snapshot.Manifest) bool {
	_, ok := m.Tags[newBytesLabel]
	return ok && m.Source.UserName == clientUser && m.IncompleteReason == ""
}

func (s *Store) convert(ctx context.Context, m *snapshot.Manifest) (backup.Snapshot, error) {
	snap := backup.Snapshot{
		ID:     string(m.ID),
		Source: backup.Source{Instance: m.Source.Host, App: m.Source.Path},
		Time:   m.StartTime.ToTime(),
		Stats:  backup.Stats{Bytes: m.Stats.TotalFileSize},
	}
	for k, v := range m.Tags {
		switch {
		case k == newBytesLabel:
			snap.Stats.NewBytes, _ = strconv.ParseInt(v, 10, 64)
		case strings.HasPrefix(k, tagPrefix):
			if snap.Tags == nil {
				snap.Tags = map[string]string{}
			}
			snap.Tags[strings.TrimPrefix(k, tagPrefix)] = v
		}
	}
	root, err := snapshotfs.SnapshotRoot(s.rep, m)
	if err != nil {
		return backup.Snapshot{}, fmt.Errorf("backup %s: read root: %w", m.ID, err)
	}
	dir, ok := root.(fs.Directory)
	if !ok {
		return backup.Snapshot{}, fmt.Errorf("backup %s: root is not a directory", m.ID)
	}
	if err := walkFiles(ctx, dir, "", &snap.Files); err != nil {
		return backup.Snapshot{}, fmt.Errorf("backup %s: list files: %w", m.ID, err)
	}
	sort.Slice(snap.Files, func(i, j int) bool { return snap.Files[i].Name < snap.Files[j].Name })
	return snap, nil
}

func walkFiles(ctx context.Context, dir fs.Directory, prefix string, out *[]backup.File) error {
	return fs.IterateEntries(ctx, dir, func(ctx context.Context, e fs.Entry) error {
		name := path.Join(prefix, e.Name())
		if sub, ok := e.(fs.Directory); ok {
			return walkFiles(ctx, sub, name, out)
		}
		*out = append(*out, backup.File{Name: name, Size: e.Size()})
		return nil
	})
}
