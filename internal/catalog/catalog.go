// Package catalog reads the Wild Directory: a tree whose top-level
// directories are app packages, each with a manifest.yaml and Kustomize
// resources written as templates.
package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/render"
)

// ManifestFile is the package file holding the app's metadata.
const ManifestFile = "manifest.yaml"

// Catalog is a Wild Directory. It reads the file system on every call, so
// a directory edited on disk is seen at once.
type Catalog struct {
	fsys fs.FS
}

// Open uses fsys, whose top-level directories are app packages.
func Open(fsys fs.FS) *Catalog { return &Catalog{fsys: fsys} }

// OpenDir opens a Wild Directory on disk (--directory / WILD_DIRECTORY).
func OpenDir(dir string) (*Catalog, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open Wild Directory: %w; check --directory or WILD_DIRECTORY", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open Wild Directory %s: not a directory; check --directory or WILD_DIRECTORY", dir)
	}
	return Open(os.DirFS(dir)), nil
}

// Bundled is the catalog compiled into the binary from the repo's
// directory/ folder.
func Bundled() *Catalog { return Open(directory.FS) }

// Package is one app package.
type Package struct {
	Name     string
	Manifest *Manifest
	FS       fs.FS // rooted at the package directory
}

// List returns every package, sorted by name. A package that fails to
// load is not skipped silently: the valid ones are returned together with
// an error naming each broken one.
func (c *Catalog) List() ([]*Package, error) {
	entries, err := fs.ReadDir(c.fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read Wild Directory: %w", err)
	}
	var pkgs []*Package
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		if err := names.Validate("app", e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("Wild Directory entry %s: %w", e.Name(), err))
			continue
		}
		p, err := c.load(e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, errors.Join(errs...)
}

// Get loads one package by name.
func (c *Catalog) Get(name string) (*Package, error) {
	if err := names.Validate("app", name); err != nil {
		return nil, err
	}
	st, err := fs.Stat(c.fsys, name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !st.IsDir() {
		return nil, fmt.Errorf("%w %q; see the catalog with: wild app list", ErrUnknownApp, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read app package %s: %w", name, err)
	}
	return c.load(name)
}

func (c *Catalog) load(name string) (*Package, error) {
	sub, err := fs.Sub(c.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read app package %s: %w", name, err)
	}
	file := name + "/" + ManifestFile
	data, err := fs.ReadFile(sub, ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("app package %s has no %s", name, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	m, err := ParseManifest(file, data)
	if err != nil {
		return nil, err
	}
	if m.Name != name {
		return nil, &ManifestError{File: file, Line: 1, Msg: fmt.Sprintf("name %q does not match the package directory %q", m.Name, name)}
	}
	return &Package{Name: name, Manifest: m, FS: sub}, nil
}

// Files lists every file of the package (manifest.yaml included) as
// slash-separated paths relative to the package, sorted.
func (p *Package) Files() ([]string, error) {
	var files []string
	err := fs.WalkDir(p.FS, ".", func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list app package %s: %w", p.Name, err)
	}
	sort.Strings(files)
	return files, nil
}

// Hashes returns the sha256 (hex) of every file, keyed like Files; this
// is what update detection compares against the instance's .package/.
func (p *Package) Hashes() (map[string]string, error) {
	files, err := p.Files()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(files))
	for _, f := range files {
		data, err := fs.ReadFile(p.FS, f)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", p.Name, f, err)
		}
		sum := sha256.Sum256(data)
		out[f] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

// Compile renders every package file except manifest.yaml with config
// (the app's own config section, which is all resource templates see).
// Keys are the package-relative paths.
func (p *Package) Compile(e *render.Engine, config any) (map[string][]byte, error) {
	files, err := p.Files()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		if f == ManifestFile {
			continue
		}
		data, err := fs.ReadFile(p.FS, f)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", p.Name, f, err)
		}
		if !IsTemplate(f) {
			out[f] = data
			continue
		}
		r, err := e.File(path.Join(p.Name, f), data, config)
		if err != nil {
			return nil, err
		}
		out[f] = r
	}
	return out, nil
}

// IsTemplate says which files are templates: the Kustomize resources.
// Documentation is copied as is, so a README may show {{ .domain }}.
func IsTemplate(f string) bool {
	return strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")
}
