// Package migrate converts app packages written in the older Wild
// Directory format into the spec's format (`wild directory migrate`),
// reporting each change and what still needs a human.
//
// The older format, as found in existing catalogs:
//   - install: true at the top level;
//   - requiredSecrets as full paths (apps.gitea.adminPassword for the
//     app's own secrets, apps.postgres.password for a dependency's);
//   - resource templates addressing the whole config ({{ .apps.gitea.domain }},
//     {{ .cloud.domain }}, {{ .apps.postgres.host }});
//   - secretKeyRef keys named by full path (apps.ghost.dbPassword);
//   - hard-coded dependency hostnames, no is, no requires aliases;
//   - numbers where the spec uses strings.
package migrate

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/catalog/lint"
	"github.com/wild-cloud/wild/internal/names"
)

// Note is one change made, or one thing left for a human, at file:line
// (File relative to DST).
type Note struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

func (n Note) String() string {
	if n.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", n.File, n.Line, n.Msg)
	}
	return fmt.Sprintf("%s: %s", n.File, n.Msg)
}

// Package is what happened to one package.
type Package struct {
	Name    string `json:"name"`
	Changed []Note `json:"changed"`
	Human   []Note `json:"needsHuman"`
}

// Result is the whole migration, with the linter's verdict on DST.
type Result struct {
	Packages []*Package   `json:"packages"`
	Lint     *lint.Report `json:"lint"`
}

// Options tune a migration.
type Options struct {
	// Reference is the catalog that defines the dependency types (their
	// host keys and secret keys); the bundled catalog by default.
	Reference *catalog.Catalog
}

// Run migrates every package of src (a Wild Directory, or one package
// directory) into dst, which must not exist or be empty. src is never
// modified.
func Run(src, dst string, o Options) (*Result, error) {
	if o.Reference == nil {
		o.Reference = catalog.Bundled()
	}
	deps, err := loadTypes(o.Reference)
	if err != nil {
		return nil, err
	}
	if err := emptyDir(dst); err != nil {
		return nil, err
	}
	srcFS := os.DirFS(src)
	var dirs []string
	if _, err := fs.Stat(srcFS, catalog.ManifestFile); err == nil {
		dirs = []string{"."}
	} else {
		entries, err := fs.ReadDir(srcFS, ".")
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
				dirs = append(dirs, e.Name())
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s holds no app package (a directory with a manifest.yaml)", src)
	}
	res := &Result{}
	for _, d := range dirs {
		name := d
		if d == "." {
			name = filepath.Base(filepath.Clean(src))
		}
		if err := names.Validate("app", name); err != nil {
			return nil, fmt.Errorf("package %s: %w", name, err)
		}
		sub, err := fs.Sub(srcFS, d)
		if err != nil {
			return nil, err
		}
		p, files, err := convert(name, sub, deps)
		if err != nil {
			return nil, err
		}
		if err := write(filepath.Join(dst, name), files); err != nil {
			return nil, err
		}
		res.Packages = append(res.Packages, p)
	}
	if res.Lint, err = lint.Directory(os.DirFS(dst)); err != nil {
		return nil, err
	}
	return res, nil
}

func emptyDir(dst string) error {
	entries, err := os.ReadDir(dst)
	if os.IsNotExist(err) {
		return os.MkdirAll(dst, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; migrate writes into a new directory so nothing is overwritten", dst)
	}
	return nil
}

func write(dir string, files map[string][]byte) error {
	for _, f := range slices.Sorted(mapsKeys(files)) {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[f], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// depType is what migration knows about a dependency type.
type depType struct {
	Is      string
	Host    string // its default host, e.g. postgres.postgres.svc.cluster.local
	Config  []string
	Secrets []string
}

func loadTypes(c *catalog.Catalog) (map[string]*depType, error) {
	pkgs, _, err := c.Scan()
	if err != nil {
		return nil, err
	}
	out := map[string]*depType{}
	for _, p := range pkgs {
		d := &depType{Is: p.Manifest.Is}
		if n := p.Manifest.DefaultConfig; n != nil {
			for i := 0; i+1 < len(n.Content); i += 2 {
				d.Config = append(d.Config, n.Content[i].Value)
				if n.Content[i].Value == "host" {
					d.Host = n.Content[i+1].Value
				}
			}
		}
		for _, s := range p.Manifest.DefaultSecrets {
			d.Secrets = append(d.Secrets, s.Key)
		}
		if _, taken := out[d.Is]; !taken {
			out[d.Is] = d
		}
	}
	return out, nil
}

// isResource says which files get resource-template rewriting: the files
// compile renders, and any other file holding a template.
func isResource(f string, data []byte) bool {
	return catalog.IsTemplate(f) || strings.Contains(string(data), "{{") && path.Ext(f) != ".md"
}
