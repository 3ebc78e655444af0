package gitmode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/merge"
	"github.com/wild-cloud/wild/internal/names"
)

// PackageDir mirrors lifecycle.PackageDir (the raw catalog package kept
// inside a compiled app); it is bookkeeping, not something users edit.
const PackageDir = ".package"

// DirtyApp reports uncommitted changes (edited, new or deleted files) in
// apps/<app>/. Outside git mode nothing is ever dirty.
func DirtyApp(inst *instance.Instance, app string) (bool, []string, error) {
	if err := names.Validate("app", app); err != nil {
		return false, nil, err
	}
	if !IsRepo(inst) {
		return false, nil, nil
	}
	r, err := open(inst)
	if err != nil {
		return false, nil, err
	}
	w, err := r.Worktree()
	if err != nil {
		return false, nil, err
	}
	st, err := w.Status()
	if err != nil {
		return false, nil, err
	}
	prefix := path.Join(instance.AppsDir, app) + "/"
	var files []string
	for p, s := range st {
		if strings.HasPrefix(p, prefix) && (s.Worktree != git.Unmodified || s.Staging != git.Unmodified) {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	return len(files) > 0, files, nil
}

// Conflict markers exactly as the merge writes them.
const (
	MarkerOurs   = merge.MarkerOurs
	MarkerSep    = merge.MarkerSep
	MarkerTheirs = merge.MarkerTheirs
)

// HasConflictMarkers lists the files of apps/<app>/ (relative to the
// instance) that still hold merge conflict markers. Deploy refuses to run
// while any remain, dirty or not.
func HasConflictMarkers(inst *instance.Instance, app string) (bool, []string, error) {
	if err := names.Validate("app", app); err != nil {
		return false, nil, err
	}
	dir := inst.AppDir(app)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && d.Name() == PackageDir {
			return filepath.SkipDir
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if ContainsMarkers(b) {
			rel, _ := filepath.Rel(inst.Dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return len(files) > 0, files, err
}

// ContainsMarkers reports whether data has a line that starts a conflict
// ("<<<<<<< ") or ends one (">>>>>>> "). "=======" alone is too common
// (Markdown underlines) to count.
func ContainsMarkers(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "<<<<<<< ") || strings.HasPrefix(l, ">>>>>>> ") {
			return true
		}
	}
	return false
}

// Compiler compiles an app afresh from its .package/ and the current
// config, keyed by path relative to apps/<app>/ (without .package/).
// lifecycle.Recompile is one; it is passed in because lifecycle imports
// gitmode, not the other way round.
type Compiler func(inst *instance.Instance, app string) (map[string][]byte, error)

// Customized reports whether the committed apps/<app>/ differs from a
// fresh compile: hand edits the user committed on purpose (spec 3d
// "intentional drift"), which status shows as "customized", not drift.
func Customized(inst *instance.Instance, app string, recompile Compiler) (bool, error) {
	if err := names.Validate("app", app); err != nil {
		return false, err
	}
	if !IsRepo(inst) {
		return false, nil
	}
	committed, err := AppFilesAt(inst, "HEAD", app)
	if err != nil {
		return false, err
	}
	if len(committed) == 0 {
		return false, nil
	}
	fresh, err := recompile(inst, app)
	if err != nil {
		return false, err
	}
	for f, b := range committed {
		if !bytes.Equal(fresh[f], b) {
			return true, nil
		}
	}
	for f := range fresh {
		if _, ok := committed[f]; !ok {
			return true, nil
		}
	}
	return false, nil
}

// AppFilesAt returns the files of apps/<app>/ (without .package/ and
// other dot files, which are wild's bookkeeping) in the
// commit rev resolves to, keyed relative to the app directory. An app
// absent from that commit yields an empty map.
func AppFilesAt(inst *instance.Instance, rev, app string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := walkTreeAt(inst, rev, path.Join(instance.AppsDir, app), func(rel string, b []byte) {
		if !strings.HasPrefix(rel, ".") { // .package/ and other bookkeeping
			out[rel] = b
		}
	})
	return out, err
}

// FileAt returns one file of the commit rev resolves to; ok is false when
// the commit has no such file.
func FileAt(inst *instance.Instance, rev, file string) (data []byte, ok bool, err error) {
	c, err := commitAt(inst, rev)
	if err != nil {
		return nil, false, err
	}
	f, err := c.File(file)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err := f.Contents()
	return []byte(s), err == nil, err
}

// AllFilesAt returns every file below dir (relative to the instance) in
// the commit rev resolves to, keyed relative to dir, .package/ included.
func AllFilesAt(inst *instance.Instance, rev, dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := walkTreeAt(inst, rev, dir, func(rel string, b []byte) { out[rel] = b })
	return out, err
}

func commitAt(inst *instance.Instance, rev string) (*object.Commit, error) {
	r, err := open(inst)
	if err != nil {
		return nil, err
	}
	h, err := r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("unknown commit %q; list them with: wild instance log", rev)
	}
	return r.CommitObject(*h)
}

func walkTreeAt(inst *instance.Instance, rev, dir string, fn func(rel string, b []byte)) error {
	c, err := commitAt(inst, rev)
	if err != nil {
		return err
	}
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	sub, err := tree.Tree(dir)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return sub.Files().ForEach(func(f *object.File) error {
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		b, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		fn(f.Name, b)
		return nil
	})
}
