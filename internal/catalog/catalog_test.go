package catalog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/render"
)

const goodManifest = `name: myapp
is: myapp
description: Brief description
version: 1.0.0
icon: https://example.com/icon.svg
requires:
  - name: postgres
    alias: db
  - name: redis
defaultConfig:
  namespace: myapp
  image: myapp/myapp:1.0
  port: "8080"
  domain: myapp.{{ .cloud.domain }}
  dbHost: "{{ .apps.db.host }}"
  nested:
    a: b
defaultSecrets:
  - key: apiKey
  - key: dbUrl
    default: "postgresql://{{ .app.dbUser }}:{{ .secrets.dbPassword }}@{{ .app.dbHost }}/x"
  - key: empty
    default: ""
requiredSecrets:
  - db.password
  - redis.auth
`

func TestParseManifest(t *testing.T) {
	m, err := catalog.ParseManifest("myapp/manifest.yaml", []byte(goodManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "myapp" || m.Is != "myapp" || m.Version != "1.0.0" || m.Icon == "" || m.Description == "" {
		t.Errorf("scalars: %+v", m)
	}
	want := []catalog.Requirement{{Name: "postgres", Alias: "db"}, {Name: "redis"}}
	if !slices.Equal(m.Requires, want) {
		t.Errorf("requires = %v", m.Requires)
	}
	if m.Requires[0].Ref() != "db" || m.Requires[1].Ref() != "redis" {
		t.Errorf("refs: %s %s", m.Requires[0].Ref(), m.Requires[1].Ref())
	}
	if m.DefaultConfig == nil || m.DefaultConfig.Content[0].Value != "namespace" || m.DefaultConfig.Content[0].Line != 11 {
		t.Errorf("defaultConfig should keep order and lines: %+v", m.DefaultConfig)
	}
	ds := m.DefaultSecrets
	if len(ds) != 3 || ds[0].HasDefault || !ds[1].HasDefault || ds[1].Line != 21 || !ds[2].HasDefault || ds[2].Default != "" {
		t.Errorf("defaultSecrets = %+v", ds)
	}
	if !slices.Equal(m.RequiredSecrets, []string{"db.password", "redis.auth"}) {
		t.Errorf("requiredSecrets = %v", m.RequiredSecrets)
	}

	// the instance copy: installedAs survives Marshal -> Parse
	m.InstalledAs = map[string]string{"db": "postgres", "redis": "redis"}
	out, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := catalog.ParseManifest("copy", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.InstalledAs["db"] != "postgres" || back.InstalledAs["redis"] != "redis" {
		t.Errorf("installedAs lost: %s", out)
	}
	if back.DefaultSecrets[1].Default != ds[1].Default || back.DefaultSecrets[2].HasDefault != true {
		t.Errorf("defaultSecrets changed: %s", out)
	}
	if !strings.Contains(string(out), "domain: myapp.{{ .cloud.domain }}") {
		t.Errorf("defaultConfig not kept as written:\n%s", out)
	}
}

func TestParseManifestIsDefaultsToName(t *testing.T) {
	m, err := catalog.ParseManifest("f", []byte("name: x\n"))
	if err != nil || m.Is != "x" {
		t.Fatalf("m=%+v err=%v", m, err)
	}
}

func TestParseManifestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"malformed", "name: a\ndescription: x\nis: b: c\n", 3, "invalid YAML"},
		{"bad indent", "name: a\n  is: b\n", 2, "invalid YAML"},
		{"tab", "name: a\n\tis: b\n", 2, "invalid YAML"},
		{"empty", "", 0, "empty"},
		{"not a mapping", "- a\n", 1, "must be a mapping"},
		{"duplicate key", "name: a\nname: b\n", 2, `duplicate key "name"`},
		{"no name", "is: a\n", 1, "app name is empty"},
		{"upper-case name", "name: Ghost\n", 1, "invalid app name"},
		{"slash name", "name: a/b\n", 1, "invalid app name"},
		{"dotdot name", "name: ..\n", 1, "invalid app name"},
		{"long name", "name: " + strings.Repeat("a", 64) + "\n", 1, "limit is 63"},
		{"bad is", "name: a\nis: B\n", 2, "invalid app type"},
		{"name is a list", "name: [a]\n", 1, "name must be a single value"},
		{"requires not list", "name: a\nrequires: postgres\n", 2, "requires must be a list"},
		{"requires unknown field", "name: a\nrequires:\n  - name: p\n    as: db\n", 4, `unknown key "as" in requires`},
		{"requires bad name", "name: a\nrequires:\n  - name: Post/gres\n", 3, "invalid required app type"},
		{"requires bad alias", "name: a\nrequires:\n  - name: p\n    alias: ../x\n", 4, "invalid alias"},
		{"requires duplicate ref", "name: a\nrequires:\n  - name: p\n  - name: q\n    alias: p\n", 4, `"p" is used twice`},
		{"defaultConfig list", "name: a\ndefaultConfig: [1]\n", 2, "defaultConfig must be a mapping"},
		{"defaultConfig dotted key", "name: a\ndefaultConfig:\n  a.b: 1\n", 3, "contains '.'"},
		{"defaultConfig dup nested", "name: a\ndefaultConfig:\n  n:\n    x: 1\n    x: 2\n", 5, `duplicate key "x" in defaultConfig`},
		{"secret no key", "name: a\ndefaultSecrets:\n  - default: x\n", 3, "invalid key"},
		{"secret bad key", "name: a\ndefaultSecrets:\n  - key: a.b\n", 3, `invalid key "a.b"`},
		{"secret dup", "name: a\ndefaultSecrets:\n  - key: k\n  - key: k\n", 4, `duplicate key "k"`},
		{"secret unknown field", "name: a\ndefaultSecrets:\n  - key: k\n    value: x\n", 4, `unknown key "value"`},
		{"requiredSecret no ref", "name: a\nrequiredSecrets:\n  - password\n", 3, "must be <ref>.<key>"},
		{"requiredSecret undeclared", "name: a\nrequires:\n  - name: postgres\nrequiredSecrets:\n  - db.password\n", 5, `refers to "db", which is not in requires`},
		{"requiredSecret dup", "name: a\nrequires:\n  - name: p\nrequiredSecrets:\n  - p.x\n  - p.x\n", 6, "duplicate"},
		{"requiredSecret clash", "name: a\nrequires:\n  - name: p\ndefaultSecrets:\n  - key: p\nrequiredSecrets:\n  - p.x\n", 7, "clashes"},
		{"installedAs unknown ref", "name: a\ninstalledAs:\n  db: postgres\n", 3, "not a requires ref"},
		{"installedAs bad app", "name: a\nrequires:\n  - name: p\ninstalledAs:\n  p: ../etc\n", 5, "invalid app name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.ParseManifest("x/manifest.yaml", []byte(tc.yaml))
			var me *catalog.ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("want *ManifestError, got %v", err)
			}
			if me.File != "x/manifest.yaml" || me.Line != tc.line || !strings.Contains(me.Msg, tc.msg) {
				t.Errorf("got %q (line %d), want line %d and %q", err, me.Line, tc.line, tc.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"good/manifest.yaml":       {Data: []byte("name: good\nversion: 1.0.0\n")},
		"good/deployment.yaml":     {Data: []byte("kind: Deployment\nimage: {{ .image }}\n")},
		"good/sub/extra.yaml":      {Data: []byte("x: 1\n")},
		"good/README.md":           {Data: []byte("# good {{ not a template }}\n")},
		"mismatch/manifest.yaml":   {Data: []byte("name: other\n")},
		"broken/manifest.yaml":     {Data: []byte("name: broken\nrequires: 1\n")},
		"nomanifest/service.yaml":  {Data: []byte("x: 1\n")},
		"Upper/manifest.yaml":      {Data: []byte("name: upper\n")},
		".git/config":              {Data: []byte("")},
		"README.md":                {Data: []byte("top-level files are not apps")},
		"good2/manifest.yaml":      {Data: []byte("name: good2\n")},
		"good2/kustomization.yaml": {Data: []byte("resources: []\n")},
	}
}

func TestListReportsBrokenPackages(t *testing.T) {
	pkgs, err := catalog.Open(testFS()).List()
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name)
	}
	if !slices.Equal(got, []string{"good", "good2"}) {
		t.Errorf("valid packages = %v", got)
	}
	if err == nil {
		t.Fatal("broken packages were skipped silently")
	}
	for _, want := range []string{"broken/manifest.yaml:2", `"other" does not match the package directory "mismatch"`, "nomanifest has no manifest.yaml", "Upper"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("List error %q lacks %q", err, want)
		}
	}
}

func TestGet(t *testing.T) {
	c := catalog.Open(testFS())
	p, err := c.Get("good")
	if err != nil {
		t.Fatal(err)
	}
	files, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{"README.md", "deployment.yaml", "manifest.yaml", "sub/extra.yaml"}) {
		t.Errorf("files = %v", files)
	}
	h, err := p.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("x: 1\n"))
	if len(h) != 4 || h["sub/extra.yaml"] != hex.EncodeToString(sum[:]) {
		t.Errorf("hashes = %v", h)
	}

	_, err = c.Get("foo")
	if !errors.Is(err, catalog.ErrUnknownApp) || err.Error() != `unknown app "foo"; see the catalog with: wild app list` {
		t.Errorf("unknown app: %v", err)
	}
	for _, bad := range []string{"../good", "a/b", "Good", strings.Repeat("a", 64), ""} {
		if _, err := c.Get(bad); err == nil || errors.Is(err, catalog.ErrUnknownApp) {
			t.Errorf("Get(%q) = %v, want a name validation error", bad, err)
		}
	}
	if _, err := c.Get("mismatch"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := c.Get("broken"); err == nil || !strings.Contains(err.Error(), "broken/manifest.yaml:2: requires must be a list") {
		t.Errorf("broken: %v", err)
	}
}

func TestCompileRendersTemplatesOnly(t *testing.T) {
	p, err := catalog.Open(testFS()).Get("good")
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Compile(newEngine(), map[string]any{"image": "nginx:1.27"})
	if err != nil {
		t.Fatal(err)
	}
	if string(out["deployment.yaml"]) != "kind: Deployment\nimage: nginx:1.27\n" {
		t.Errorf("deployment = %q", out["deployment.yaml"])
	}
	if string(out["README.md"]) != "# good {{ not a template }}\n" {
		t.Errorf("README must be copied verbatim, got %q", out["README.md"])
	}
	if _, ok := out["manifest.yaml"]; ok {
		t.Error("manifest.yaml is not a resource template")
	}
	_, err = p.Compile(newEngine(), map[string]any{})
	if err == nil || !strings.Contains(err.Error(), `good/deployment.yaml:2: missing key "image"`) {
		t.Errorf("missing key: %v", err)
	}
}

func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app1", "manifest.yaml"), []byte("name: app1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("app1"); err != nil {
		t.Error(err)
	}
	if _, err := catalog.OpenDir(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "WILD_DIRECTORY") {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := catalog.OpenDir(filepath.Join(dir, "app1", "manifest.yaml")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as dir: %v", err)
	}
}

func newEngine() *render.Engine { return render.New() }
