// Package lint checks a Wild Directory the way `wild directory lint` does:
// every package, every problem, each with file:line, as an error (the
// package will not add, compile or deploy as written) or a warning (it
// breaks a convention of the spec, or will in a later version).
package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/names"
)

// Severity of a finding.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem. File is relative to the linted directory.
type Finding struct {
	Package  string   `json:"package"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Severity Severity `json:"severity"`
	Rule     string   `json:"rule"`
	Message  string   `json:"message"`
}

func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return fmt.Sprintf("%s: %s: %s [%s]", loc, f.Severity, f.Message, f.Rule)
}

// Report is the result of linting a directory.
type Report struct {
	Packages int       `json:"packages"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Findings []Finding `json:"findings"`
}

// The rules, as they appear in findings.
const (
	RuleManifest         = "manifest"
	RuleUnknownKey       = "unknown-key"
	RuleDuplicateKey     = "duplicate-key"
	RuleNameMismatch     = "name-mismatch"
	RuleInvalidName      = "invalid-name"
	RuleTemplate         = "template"
	RuleTemplateKey      = "template-key"
	RuleUnquotedTemplate = "unquoted-template"
	RuleUnrendered       = "unrendered-template"
	RuleSecretKey        = "secret-key"
	RuleRequiredSecret   = "required-secret"
	RuleComponentLabel   = "component-label"
	RuleSecurityContext  = "security-context"
	RuleExternalDNS      = "external-dns"
	RuleTLSSecret        = "tls-secret"
	RuleDBInitIdempotent = "db-init-idempotent"
	RuleKustomizeLabels  = "kustomize-labels"
	RuleRemoteResource   = "remote-resource"
	RuleRestoreMissing   = "restore-missing"
	RuleRestoreVolume    = "restore-volume"
	RuleYAML             = "yaml"
)

// WildcardTLSSecrets are the certificate Secrets an Ingress may use; deploy
// copies them from cert-manager.
var WildcardTLSSecrets = []string{"wildcard-wild-cloud-tls", "wildcard-internal-wild-cloud-tls"}

// Directory lints every package of fsys (a Wild Directory).
func Directory(fsys fs.FS) (*Report, error) { return Packages(fsys) }

// Packages lints the named packages of fsys (all when none is named); the
// other packages are read only to check dependencies against.
func Packages(fsys fs.FS, only ...string) (*Report, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read Wild Directory: %w", err)
	}
	l := &linter{fsys: fsys, byType: map[string]*catalog.Manifest{}, manifests: map[string]*catalog.Manifest{}}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
			dirs = append(dirs, e.Name())
		}
	}
	// First every manifest, so dependencies can be looked up by type.
	for _, d := range dirs {
		l.manifests[d] = l.manifest(d)
	}
	for _, d := range dirs {
		if m := l.manifests[d]; m != nil {
			if _, taken := l.byType[m.Is]; !taken {
				l.byType[m.Is] = m
			}
		}
	}
	linted := 0
	for _, d := range dirs {
		if len(only) == 0 || slices.Contains(only, d) {
			l.pkg(d)
			linted++
		}
	}
	var findings []Finding
	for _, f := range l.out {
		if len(only) == 0 || slices.Contains(only, f.Package) {
			findings = append(findings, f)
		}
	}
	r := &Report{Packages: linted, Findings: findings}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	for _, f := range r.Findings {
		if f.Severity == Error {
			r.Errors++
		} else {
			r.Warnings++
		}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return r, nil
}

type linter struct {
	fsys      fs.FS
	manifests map[string]*catalog.Manifest // by directory; nil when broken
	byType    map[string]*catalog.Manifest
	out       []Finding
}

func (l *linter) add(pkg, file string, line int, sev Severity, rule, format string, args ...any) {
	l.out = append(l.out, Finding{Package: pkg, File: file, Line: line, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// manifest parses dir/manifest.yaml, reporting what is wrong with it.
func (l *linter) manifest(dir string) *catalog.Manifest {
	file := dir + "/" + catalog.ManifestFile
	if err := names.Validate("app", dir); err != nil {
		l.add(dir, dir, 0, Error, RuleInvalidName, "package directory: %v", err)
	}
	data, err := fs.ReadFile(l.fsys, file)
	if err != nil {
		l.add(dir, file, 0, Error, RuleManifest, "every package needs a manifest.yaml: %v", err)
		return nil
	}
	m, err := catalog.ParseManifest(file, data)
	var me *catalog.ManifestError
	if errors.As(err, &me) {
		rule := me.Rule
		if rule == "" {
			rule = RuleManifest
		}
		l.add(dir, me.File, me.Line, Error, rule, "%s", me.Msg)
		return nil
	}
	if err != nil {
		l.add(dir, file, 0, Error, RuleManifest, "%v", err)
		return nil
	}
	for _, w := range m.Warnings {
		l.add(dir, w.File, w.Line, Warning, w.Rule, "%s", w.Msg)
	}
	if m.Name != dir {
		l.add(dir, file, lineOf(data, "name:"), Error, RuleNameMismatch, "name %q differs from the package directory %q; they must match", m.Name, dir)
	}
	return m
}

func lineOf(data []byte, prefix string) int {
	for i, ln := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(ln, prefix) {
			return i + 1
		}
	}
	return 1
}

// pkg runs every rule on one package.
func (l *linter) pkg(dir string) {
	sub, err := fs.Sub(l.fsys, dir)
	if err != nil {
		l.add(dir, dir, 0, Error, RuleManifest, "%v", err)
		return
	}
	p := &pkgLint{linter: l, dir: dir, fsys: sub, m: l.manifests[dir], files: map[string][]byte{}}
	p.run()
}
