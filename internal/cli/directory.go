package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/catalog/lint"
	"github.com/wild-cloud/wild/internal/catalog/migrate"
	"github.com/wild-cloud/wild/internal/catalog/scaffold"
)

func addDirectoryCommands(root *cobra.Command, g *Globals) {
	cmd := &cobra.Command{
		Use:   "directory",
		Short: "Write, check and migrate Wild Directory app packages",
		Long: `Tools for the authors of a Wild Directory (an app catalog):

  wild directory lint [DIR]        check every package, report every problem
  wild directory new NAME          scaffold a package that follows the conventions
  wild directory migrate SRC DST   convert packages written in the older format`,
	}
	cmd.AddCommand(directoryLintCmd(g), directoryNewCmd(g), directoryMigrateCmd(g))
	root.AddCommand(cmd)
}

// directoryFS is DIR, else --directory / WILD_DIRECTORY, else the bundled
// catalog.
func (g *Globals) directoryFS(args []string) (fs.FS, string, error) {
	dir := g.Directory
	if len(args) > 0 {
		dir = args[0]
	}
	if dir == "" {
		dir = getenv("WILD_DIRECTORY")
	}
	if dir == "" {
		return directory.FS, "(bundled)", nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, "", fmt.Errorf("open Wild Directory: %w", err)
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("open Wild Directory %s: not a directory", dir)
	}
	return os.DirFS(dir), dir, nil
}

func directoryLintCmd(g *Globals) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "lint [DIR]",
		Short: "Check every app package of a Wild Directory",
		Long: `Check every package of DIR (default: --directory, WILD_DIRECTORY, else the
bundled catalog; DIR may also be one package) and report every problem with file:line, as an error or a
warning. Errors: the package will not load, add, compile or deploy as written
(manifest, names, template keys, Secret keys deploy will not create, remote
Kustomize resources). Warnings: the spec's conventions (component labels,
security contexts, external-dns, wildcard TLS secrets, idempotent db-init,
restore: for data) and unknown manifest keys.

Exit code: 0 when there is no error (and, with --strict, no warning); 1
otherwise; 2 when DIR cannot be read.`,
		Example: `  wild directory lint ./my-directory
  wild directory lint --strict -o json .   # for CI`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, dir, err := g.directoryFS(args)
			if err != nil {
				return err
			}
			var only []string
			if _, err := os.Stat(filepath.Join(dir, "manifest.yaml")); err == nil {
				// DIR is one package: lint it beside its siblings, which
				// its dependencies are checked against.
				abs, err := filepath.Abs(dir)
				if err != nil {
					return err
				}
				fsys, only = os.DirFS(filepath.Dir(abs)), []string{filepath.Base(abs)}
			}
			r, err := lint.Packages(fsys, only...)
			if err != nil {
				return err
			}
			err = g.Printer().Print(r, func(t *Table) {
				for _, f := range r.Findings {
					t.Line("%s", f)
				}
				t.Line("%d packages: %d errors, %d warnings", r.Packages, r.Errors, r.Warnings)
			})
			if err != nil {
				return err
			}
			if r.Errors > 0 || strict && r.Warnings > 0 {
				return ExitCode(1, "")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "fail (exit 1) on warnings too")
	return cmd
}

func directoryNewCmd(g *Globals) *cobra.Command {
	var dir string
	var o scaffold.Options
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Scaffold an app package that follows the conventions and passes lint",
		Long: `Create DIR/NAME/ (DIR: --dir, else the current directory) with a manifest,
a kustomization, and a namespace, Deployment, Service, Ingress and PVC that
follow every convention of the spec (labels, security contexts, external-dns,
wildcard TLS, a generated secret, restore:). Edit it, then check it with
wild directory lint DIR.`,
		Example: `  wild directory new notes --dir ./my-directory --image ghcr.io/example/notes:1.2.0 --port 3000`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			written, err := scaffold.Write(dir, o)
			if err != nil {
				return err
			}
			return g.Printer().Print(written, func(t *Table) {
				for _, f := range written {
					t.Line("created %s", f)
				}
				t.Line("next: edit the files, then: wild directory lint %s", dir)
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "the Wild Directory to create the package in")
	cmd.Flags().StringVar(&o.Image, "image", "", "container image (default traefik/whoami:v1.10.3)")
	cmd.Flags().StringVar(&o.Port, "port", "", "container port (default 8080)")
	return cmd
}

func directoryMigrateCmd(g *Globals) *cobra.Command {
	var reference string
	cmd := &cobra.Command{
		Use:   "migrate SRC DST",
		Short: "Convert packages written in the older format into the spec's format",
		Long: `Read every package of SRC (a Wild Directory, or one package directory), convert
what the older package format did differently, and write the result to DST
(new or empty; SRC is never changed):

  install: true                 removed
  no is / no requires aliases   is added; databases get the alias db
  requiredSecrets apps.A.key    the app's own become defaultSecrets; a dependency's become <ref>.<key>
  {{ .apps.A.x }}, {{ .cloud.x }} in resources   the app's own config (.x); others through new defaultConfig keys
  secretKeyRef key apps.A.key   the key deploy creates
  hard-coded dependency hosts   {{ .apps.<ref>.host }} through config; the requires entry is added
  numbers in defaultConfig      strings
  no restore:                   declared from the PVCs and dbName

It reports each change and what needs a human, then lints DST. Exit code 1
when DST has lint errors. Dependency types (hosts, secret keys) come from
--reference (default: the bundled catalog).`,
		Example: `  wild directory migrate ./old-directory ./new-directory`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := migrate.Options{}
			if reference != "" {
				ref, err := catalog.OpenDir(reference)
				if err != nil {
					return err
				}
				o.Reference = ref
			}
			res, err := migrate.Run(args[0], args[1], o)
			if err != nil {
				return err
			}
			err = g.Printer().Print(res, func(t *Table) {
				for _, p := range res.Packages {
					t.Line("%s: %d changes, %d for a human", p.Name, len(p.Changed), len(p.Human))
					for _, n := range p.Changed {
						t.Line("  changed  %s", n)
					}
					for _, n := range p.Human {
						t.Line("  HUMAN    %s", n)
					}
				}
				t.Line("lint of %s:", args[1])
				for _, f := range res.Lint.Findings {
					t.Line("  %s", f)
				}
				t.Line("%d packages: %d errors, %d warnings", res.Lint.Packages, res.Lint.Errors, res.Lint.Warnings)
			})
			if err != nil {
				return err
			}
			if res.Lint.Errors > 0 {
				return ExitCode(1, "")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&reference, "reference", "", "Wild Directory that defines the dependency types (default: the bundled catalog)")
	return cmd
}
