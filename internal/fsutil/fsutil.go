// Package fsutil holds the file primitives every instance write goes
// through: atomic replacement and cross-process locks.
package fsutil

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sync/errgroup"
)

// WriteFileAtomic replaces path with data so that a reader sees either the
// old file or the new one, never a mix, and a crash leaves one of the two.
// The temp file is created in the same directory (rename is only atomic
// within a filesystem), synced, renamed, and the directory synced so the
// rename itself is durable.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: readers still never
// see a half-written file, but a crash may lose the latest version. For
// progress notes that a final durable write will supersede.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, data, perm, false)
}

func writeAtomic(path string, data []byte, perm os.FileMode, durable bool) error {
	tmp, err := writeTemp(path, data, perm, durable)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op after a successful rename
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		return nil
	}
	return SyncDir(filepath.Dir(path))
}

// File is one file for WriteFilesAtomic.
type File struct {
	Path string
	Data []byte
	Perm os.FileMode
}

// WriteFilesAtomic is WriteFileAtomic for several files at once: each is
// written to a temporary file, all are synced in one concurrent round,
// renamed, and their directories synced in a second round. Two rounds of
// fsyncs instead of two per file; each file is still replaced whole or
// not at all, though a crash may replace some and not others.
func WriteFilesAtomic(files []File) error {
	tmps := make([]string, 0, len(files))
	defer func() {
		for _, t := range tmps {
			os.Remove(t) // no-op after a successful rename
		}
	}()
	for _, f := range files {
		tmp, err := writeTemp(f.Path, f.Data, f.Perm, false)
		if err != nil {
			return err
		}
		tmps = append(tmps, tmp)
	}
	if err := SyncPaths(tmps...); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for i, f := range files {
		if err := os.Rename(tmps[i], f.Path); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		dirs[filepath.Dir(f.Path)] = true
	}
	return SyncPaths(slices.Collect(maps.Keys(dirs))...)
}

// writeTemp writes data to a new temporary file beside path, synced when
// asked, closed, and returns its name.
func writeTemp(path string, data []byte, perm os.FileMode, sync bool) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tmp.Name(), nil
}

// SyncTree fsyncs every file and directory below dir, so a staged
// directory is durable before the journal that points at it is written.
// The fsyncs run concurrently: each one waits for a journal commit, and
// concurrent ones share commits, so a tree of many small files costs a
// few commits instead of one per file. Every fsync still completes before
// SyncTree returns, so the guarantee is the same as one after another.
func SyncTree(dir string) error {
	paths, err := Tree(dir)
	if err != nil {
		return err
	}
	return SyncPaths(paths...)
}

// Tree lists dir and every file and directory below it.
func Tree(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	return paths, err
}

// syncConcurrency bounds the open files of one SyncTree.
const syncConcurrency = 16

// SyncPaths fsyncs every path (file data, or directory entries)
// concurrently, as one round: it returns when all are durable.
func SyncPaths(paths ...string) error {
	var g errgroup.Group
	g.SetLimit(syncConcurrency)
	errs := make([]error, len(paths))
	for i, p := range paths {
		g.Go(func() error { errs[i] = SyncDir(p); return nil })
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// SyncDir makes directory entries (creates, renames, removes) durable; on
// a file it makes the file's data durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LockTimeout bounds how long a command waits for another process holding
// the same lock before giving up with a clear error.
var LockTimeout = 30 * time.Second

// Lock takes an exclusive flock on lockPath (created if missing) and
// returns the function that releases it.
func Lock(lockPath string) (unlock func(), err error) {
	fl := flock.New(lockPath)
	ctx, cancel := context.WithTimeout(context.Background(), LockTimeout)
	defer cancel()
	ok, err := fl.TryLockContext(ctx, 5*time.Millisecond)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if !ok {
		return nil, fmt.Errorf("another wild process holds %s (waited %s); retry when it finishes", lockPath, LockTimeout)
	}
	return func() { _ = fl.Unlock() }, nil
}

// LockWaiting takes an exclusive flock on lockPath for work that may hold
// it for minutes (a build), so it waits without LockTimeout's limit, until
// ctx ends. wait is called once, before waiting, when another process
// holds the lock, so the caller can say why it is not going on.
func LockWaiting(ctx context.Context, lockPath string, wait func()) (unlock func(), err error) {
	fl := flock.New(lockPath)
	ok, err := fl.TryLock()
	if err == nil && !ok {
		wait()
		ok, err = fl.TryLockContext(ctx, 50*time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return func() { _ = fl.Unlock() }, nil
}

// RLock takes a shared flock, for readers that must not see a file between
// two related writes.
func RLock(lockPath string) (unlock func(), err error) {
	fl := flock.New(lockPath)
	ctx, cancel := context.WithTimeout(context.Background(), LockTimeout)
	defer cancel()
	ok, err := fl.TryRLockContext(ctx, 5*time.Millisecond)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if !ok {
		return nil, fmt.Errorf("another wild process holds %s (waited %s); retry when it finishes", lockPath, LockTimeout)
	}
	return func() { _ = fl.Unlock() }, nil
}

// Poll paces a retry loop that gives up after LockTimeout.
type Poll struct{ end time.Time }

// Deadline starts a Poll.
func Deadline() *Poll { return &Poll{end: time.Now().Add(LockTimeout)} }

// Sleep waits a little and reports whether there is time left.
func (p *Poll) Sleep() bool {
	if time.Now().After(p.end) {
		return false
	}
	time.Sleep(5 * time.Millisecond)
	return true
}

// WriteSyncClose writes data to f, syncs it and closes it, closing f on
// every path: the tail of every durable write.
func WriteSyncClose(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
