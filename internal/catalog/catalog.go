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
	"maps"
	"os"
	"path"
	"slices"
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
	g, err := newGuardFS(dir)
	if err != nil {
		return nil, fmt.Errorf("open Wild Directory: %w", err)
	}
	return Open(g), nil
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
	pkgs, broken, err := c.Scan()
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(broken))
	for i, b := range broken {
		errs[i] = b.Err
	}
	return pkgs, errors.Join(errs...)
}

// Broken is a package directory that failed to load; Err names file:line.
type Broken struct {
	Name string
	Err  error
}

// Scan loads every package, sorted by name. One broken package never
// hides the others: it is returned in broken, and err is only for a
// directory that cannot be read at all.
func (c *Catalog) Scan() (pkgs []*Package, broken []Broken, err error) {
	entries, err := fs.ReadDir(c.fsys, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read Wild Directory: %w", err)
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 {
			broken = append(broken, Broken{e.Name(), linkError(c.fsys, e.Name())})
			continue
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		if err := names.Validate("app", e.Name()); err != nil {
			broken = append(broken, Broken{e.Name(), fmt.Errorf("Wild Directory entry %s: %w", e.Name(), err)})
			continue
		}
		p, err := c.load(e.Name())
		if err != nil {
			broken = append(broken, Broken{e.Name(), err})
			continue
		}
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Name < pkgs[j].Name })
	return pkgs, broken, nil
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
		return nil, &ManifestError{File: file, Line: nameLine(data), Rule: "name-mismatch", Msg: fmt.Sprintf("name %q does not match the package directory %q", m.Name, name)}
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
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("app package %s: %w", p.Name, linkError(p.FS, f))
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

// Compile renders every file Kustomize reads, with config (the app's own
// config section, which is all resource templates see): the YAML
// resources, then the files the kustomizations' configMapGenerator and
// secretGenerator read (files:, envs:), such as gitea.env. Other files
// are copied as they are. A "{{" left in a rendered file is an error
// naming file:line. Keys are the package-relative paths.
func (p *Package) Compile(e *render.Engine, config any) (map[string][]byte, error) {
	files, err := p.Files()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files))
	rendered := map[string]bool{}
	for _, f := range files {
		if f == ManifestFile {
			continue
		}
		data, err := fs.ReadFile(p.FS, f)
		if err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", p.Name, f, err)
		}
		out[f] = data
		if IsTemplate(f) {
			if out[f], err = e.File(path.Join(p.Name, f), data, config); err != nil {
				return nil, err
			}
			rendered[f] = true
		}
	}
	gen, err := p.generatorFiles(out)
	if err != nil {
		return nil, err
	}
	for _, f := range gen {
		data, ok := out[f]
		if !ok || rendered[f] {
			continue // a missing file is Kustomize's error to report, with its context
		}
		if out[f], err = e.File(path.Join(p.Name, f), data, config); err != nil {
			return nil, err
		}
		rendered[f] = true
	}
	for _, f := range slices.Sorted(maps.Keys(rendered)) {
		if line := LeftoverTemplate(out[f]); line > 0 {
			return nil, &render.Error{File: path.Join(p.Name, f), Line: line, Msg: `"{{" is left after rendering; a template must not produce one (write it as {{ "{{" }} only where the app itself reads templates, and say so in a comment)`}
		}
	}
	return out, nil
}

// generatorFiles lists the files the package's kustomizations feed to
// generators, read from the rendered kustomization files in out.
func (p *Package) generatorFiles(out map[string][]byte) ([]string, error) {
	var gen []string
	for _, f := range slices.Sorted(maps.Keys(out)) {
		if !IsKustomization(f) {
			continue
		}
		k, err := ParseKustomization(path.Join(p.Name, f), out[f])
		if err != nil {
			return nil, err
		}
		gen = append(gen, k.GeneratorFiles(path.Dir(f))...)
	}
	return gen, nil
}

// IsTemplate says which files are always templates: the Kustomize
// resources. Generator inputs are found through the kustomization;
// documentation is copied as is, so a README may show {{ .domain }}.
func IsTemplate(f string) bool {
	return strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml") || path.Base(f) == "Kustomization"
}

// nameLine is the line of the top-level name key, or 1.
func nameLine(data []byte) int {
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "name:") {
			return i + 1
		}
	}
	return 1
}
