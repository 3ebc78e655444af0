package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lint's exit codes and -o json are what CI relies on.
func TestDirectoryLintExitCodesAndJSON(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if out := e.ok("directory", "lint"); !strings.Contains(out, "0 errors, 0 warnings") {
		t.Errorf("bundled catalog: %s", out)
	}
	e.ok("directory", "new", "notes", "--dir", dir)
	e.ok("directory", "lint", "--strict", dir)

	// A warning: exit 0, unless --strict.
	mf := filepath.Join(dir, "notes", "manifest.yaml")
	b, _ := os.ReadFile(mf)
	if err := os.WriteFile(mf, append(b, []byte("install: true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("directory", "lint", dir)
	if _, _, code := e.run("directory", "lint", "--strict", dir); code != 1 {
		t.Errorf("--strict with a warning: exit %d, want 1", code)
	}

	// An error: exit 1, reported in JSON with file and line.
	dep := filepath.Join(dir, "notes", "deployment.yaml")
	b, _ = os.ReadFile(dep)
	if err := os.WriteFile(dep, []byte(strings.Replace(string(b), "{{ .image }}", "{{ .imageName }}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := e.run("directory", "lint", "-o", "json", dir)
	if code != 1 {
		t.Errorf("lint with an error: exit %d, want 1", code)
	}
	var r struct {
		Errors, Warnings int
		Findings         []struct {
			File, Severity, Rule string
			Line                 int
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if r.Errors != 1 || r.Warnings != 1 {
		t.Errorf("counts %+v", r)
	}
	found := false
	for _, f := range r.Findings {
		found = found || f.File == "notes/deployment.yaml" && f.Line == 26 && f.Rule == "template-key" && f.Severity == "error"
	}
	if !found {
		t.Errorf("findings: %+v", r.Findings)
	}
	if errOut := e.fails("directory", "lint", filepath.Join(dir, "nope")); !strings.Contains(errOut, "nope") {
		t.Errorf("missing dir: %s", errOut)
	}
}

func TestDirectoryMigrateCommand(t *testing.T) {
	e := newEnv(t)
	dst := filepath.Join(t.TempDir(), "new")
	out := e.ok("directory", "migrate", "../catalog/migrate/testdata/old", dst)
	for _, want := range []string{"forge: ", "changed  forge/manifest.yaml:3: removed install: true", "HUMAN    blog/manifest.yaml", "2 packages: 0 errors, 0 warnings"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if errOut := e.fails("directory", "migrate", "../catalog/migrate/testdata/old", dst); !strings.Contains(errOut, "not empty") {
		t.Errorf("second run into the same DST: %s", errOut)
	}
}
