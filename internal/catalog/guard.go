package catalog

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxFileSize caps every file read from a catalog on disk, so a file
// symlinked to /dev/zero or a huge one fails with an error instead of
// exhausting memory. Real package files are a few KiB.
const MaxFileSize = 4 << 20

// maxDepth bounds how deep a package tree may go, which also ends a walk
// through a symlink loop.
const maxDepth = 24

// guardFS is a Wild Directory on disk with one rule for symlinks: a link
// whose target is inside the catalog is followed (it reads as what it
// points to); one that leads outside is refused with an error naming it.
// Only regular files and directories are read, each at most MaxFileSize.
type guardFS struct {
	root string // absolute, symlinks resolved
}

func newGuardFS(dir string) (*guardFS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	return &guardFS{root: real}, nil
}

// resolve maps a catalog path to the real path it reads, refusing links
// out of the catalog.
func (g *guardFS) resolve(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if strings.Count(name, "/") > maxDepth {
		return "", fmt.Errorf("%s: more than %d directories deep (a symlink loop?)", name, maxDepth)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(g.root, filepath.FromSlash(name)))
	if err != nil {
		return "", &fs.PathError{Op: op, Path: name, Err: unwrapPathErr(err)}
	}
	if real != g.root && !strings.HasPrefix(real, g.root+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is a symlink to %s, outside the Wild Directory; wild does not follow links out of the catalog (copy the files in instead)", name, real)
	}
	return real, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

func (g *guardFS) Open(name string) (fs.File, error) {
	real, err := g.resolve("open", name)
	if err != nil {
		return nil, err
	}
	// Stat before opening: opening a FIFO would block.
	st, err := os.Stat(real)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
	}
	switch {
	case st.IsDir():
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%s); a catalog holds only files and directories", name, st.Mode().Type())
	case st.Size() > MaxFileSize:
		return nil, fmt.Errorf("%s is %d bytes, over the %d MiB limit for a catalog file", name, st.Size(), MaxFileSize>>20)
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathErr(err)}
	}
	if st.IsDir() {
		return f, nil
	}
	return &cappedFile{File: f, name: name, left: MaxFileSize}, nil
}

// ReadDir lists a directory with links inside the catalog shown as what
// they point to; a link out of it keeps its symlink type, so callers can
// report it (reading it fails with the reason).
func (g *guardFS) ReadDir(name string) ([]fs.DirEntry, error) {
	real, err := g.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: unwrapPathErr(err)}
	}
	for i, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		p := e.Name()
		if name != "." {
			p = name + "/" + p
		}
		target, err := g.resolve("stat", p)
		if err != nil {
			continue
		}
		if st, err := os.Stat(target); err == nil {
			entries[i] = fs.FileInfoToDirEntry(named{st, e.Name()})
		}
	}
	return entries, nil
}

type named struct {
	fs.FileInfo
	name string
}

func (n named) Name() string { return n.name }

// cappedFile stops a file that grows past the cap while it is read.
type cappedFile struct {
	*os.File
	name string
	left int64
}

func (c *cappedFile) Read(p []byte) (int, error) {
	if c.left <= 0 {
		if n, _ := c.File.Read(make([]byte, 1)); n > 0 {
			return 0, fmt.Errorf("%s grew past the %d MiB limit for a catalog file", c.name, MaxFileSize>>20)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.File.Read(p)
	c.left -= int64(n)
	return n, err
}

// linkError says why a symlinked entry cannot be used.
func linkError(fsys fs.FS, p string) error {
	if _, err := fs.Stat(fsys, p); err != nil {
		return err
	}
	return fmt.Errorf("%s is a symlink wild cannot follow", p)
}
