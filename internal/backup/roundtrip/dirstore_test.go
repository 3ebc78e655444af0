package roundtrip_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/backup"
)

// dirStore is a plain directory Store for the tests, until the
// kopia-backed one is merged: one directory per snapshot, a file per
// stream, no dedup, no encryption.
type dirStore struct{ root string }

func dirOpener(root string) backup.Opener {
	return func(ctx context.Context, dest backup.Destination, password string, create bool) (backup.Store, error) {
		if password == "" {
			return nil, fmt.Errorf("no password")
		}
		return &dirStore{root: root}, os.MkdirAll(root, 0o700)
	}
}

func (s *dirStore) Save(ctx context.Context, src backup.Source, tags map[string]string, streams []backup.Stream, progress func(backup.Progress)) (backup.Snapshot, error) {
	snap := backup.Snapshot{ID: fmt.Sprintf("s%d", time.Now().UnixNano()), Source: src, Time: time.Now().UTC(), Tags: tags}
	dir := filepath.Join(s.root, snap.ID)
	var total int64
	for i, st := range streams {
		r, err := st.Open(ctx)
		if err != nil {
			return snap, err
		}
		p := filepath.Join(dir, fmt.Sprint(i))
		_ = os.MkdirAll(dir, 0o700)
		f, err := os.Create(p)
		if err != nil {
			r.Close()
			return snap, err
		}
		n, err := io.Copy(f, r)
		cerr := r.Close()
		f.Close()
		if err == nil {
			err = cerr
		}
		if err != nil {
			os.RemoveAll(dir)
			return snap, err
		}
		total += n
		snap.Files = append(snap.Files, backup.File{Name: st.Name, Size: n})
		if progress != nil {
			progress(backup.Progress{File: st.Name, Bytes: total})
		}
	}
	snap.Stats = backup.Stats{Bytes: total, NewBytes: total}
	b, _ := json.Marshal(snap)
	return snap, os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600)
}

func (s *dirStore) List(ctx context.Context, src backup.Source) ([]backup.Snapshot, error) {
	entries, _ := os.ReadDir(s.root)
	var out []backup.Snapshot
	for _, e := range entries {
		snap, err := s.Get(ctx, e.Name())
		if err == nil && snap.Source == src {
			out = append(out, snap)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

func (s *dirStore) Get(ctx context.Context, id string) (backup.Snapshot, error) {
	var snap backup.Snapshot
	if strings.ContainsAny(id, "/.") {
		return snap, fmt.Errorf("bad id")
	}
	b, err := os.ReadFile(filepath.Join(s.root, id, "meta.json"))
	if err != nil {
		return snap, err
	}
	return snap, json.Unmarshal(b, &snap)
}

func (s *dirStore) Open(ctx context.Context, id, name string) (io.ReadCloser, error) {
	snap, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	for i, f := range snap.Files {
		if f.Name == name {
			return os.Open(filepath.Join(s.root, id, fmt.Sprint(i)))
		}
	}
	return nil, fmt.Errorf("snapshot %s has no file %s", id, name)
}

func (s *dirStore) Delete(ctx context.Context, id string) error {
	return os.RemoveAll(filepath.Join(s.root, id))
}

func (s *dirStore) Close(ctx context.Context) error { return nil }
