package catalog_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/render"
)

func TestCompileRendersGeneratorFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"gitea/manifest.yaml": {Data: []byte("name: gitea\ndefaultConfig:\n  domain: git.example.com\n  mode: prod\n")},
		"gitea/kustomization.yaml": {Data: []byte(`resources: [deployment.yaml]
configMapGenerator:
  - name: gitea-env
    envs: [gitea.env]
  - name: gitea-conf
    files:
      - app.ini=conf/app.ini.tmpl
secretGenerator:
  - name: s
    files: [secret.txt]
`)},
		"gitea/deployment.yaml":   {Data: []byte("kind: Deployment\n")},
		"gitea/gitea.env":         {Data: []byte("DOMAIN={{ .domain }}\nMODE={{ .mode }}\n")},
		"gitea/conf/app.ini.tmpl": {Data: []byte("[server]\nROOT_URL = https://{{ .domain }}/\n")},
		"gitea/secret.txt":        {Data: []byte("plain\n")},
		"gitea/notes.txt":         {Data: []byte("{{ not rendered: no generator reads it }}\n")},
	}
	p, err := catalog.Open(fsys).Get("gitea")
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Compile(render.New(), map[string]any{"domain": "git.example.com", "mode": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out["gitea.env"]); got != "DOMAIN=git.example.com\nMODE=prod\n" {
		t.Errorf("gitea.env = %q", got)
	}
	if got := string(out["conf/app.ini.tmpl"]); !strings.Contains(got, "ROOT_URL = https://git.example.com/") {
		t.Errorf("app.ini = %q", got)
	}
	if got := string(out["notes.txt"]); !strings.Contains(got, "{{ not rendered") {
		t.Errorf("a file no generator reads must be copied as is: %q", got)
	}
}

func TestCompileLeftoverTemplateIsAnError(t *testing.T) {
	fsys := fstest.MapFS{
		"a/manifest.yaml":      {Data: []byte("name: a\n")},
		"a/kustomization.yaml": {Data: []byte("configMapGenerator:\n  - name: c\n    envs: [a.env]\n")},
		"a/a.env":              {Data: []byte("A=1\nB={{ \"{{\" }} .x }}\n")},
	}
	p, err := catalog.Open(fsys).Get("a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Compile(render.New(), map[string]any{})
	var re *render.Error
	if !errors.As(err, &re) || re.File != "a/a.env" || re.Line != 2 || !strings.Contains(err.Error(), "a/a.env:2:") {
		t.Fatalf("want an error at a/a.env:2, got %v", err)
	}
}

func TestManifestUnknownKeyIsAWarning(t *testing.T) {
	m, err := catalog.ParseManifest("x/manifest.yaml", []byte("name: x\ninstall: true\nfuture: {a: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 2 || m.Warnings[0].Line != 2 || m.Warnings[0].Rule != "unknown-key" || !strings.Contains(m.Warnings[1].Error(), `x/manifest.yaml:3: unknown key "future"`) {
		t.Errorf("warnings = %v", m.Warnings)
	}
}

func TestManifestUnquotedTemplate(t *testing.T) {
	for _, src := range []string{
		"name: x\ndefaultConfig:\n  domain: {{ .cloud.domain }}\n",
		"name: x\ndefaultConfig:\n  hosts:\n    - a\n    - {{ .cloud.domain }}\n",
		"name: x\ndefaultSecrets:\n  - key: url\n    default: {{ .app.x }}\n",
	} {
		_, err := catalog.ParseManifest("x/manifest.yaml", []byte(src))
		var me *catalog.ManifestError
		lines := strings.Count(src, "\n")
		if !errors.As(err, &me) || me.Line != lines || me.Rule != "unquoted-template" || !strings.Contains(me.Msg, "quote the template") {
			t.Errorf("%q: got %v, want line %d", src, err, lines)
		}
	}
}

func TestManifestRestore(t *testing.T) {
	src := `name: x
defaultConfig:
  dbName: x
defaultSecrets:
  - key: dbUrl
restore:
  databases:
    - configKey: dbName
      secretKeys: [dbUrl]
  volumes: [x-pvc]
  dataSecrets: [dbUrl]
`
	m, err := catalog.ParseManifest("x/manifest.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := m.Restore
	if r == nil || len(r.Databases) != 1 || r.Databases[0].ConfigKey != "dbName" || r.Databases[0].SecretKeys[0] != "dbUrl" || r.Volumes[0] != "x-pvc" || len(r.DataSecrets) != 1 {
		t.Fatalf("restore = %+v", r)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := catalog.ParseManifest("x/manifest.yaml", b)
	if err != nil || back.Restore == nil || back.Restore.Volumes[0] != "x-pvc" || back.Restore.Databases[0].SecretKeys[0] != "dbUrl" || back.Restore.DataSecrets[0] != "dbUrl" {
		t.Errorf("round trip: %v %+v\n%s", err, back, b)
	}
	for _, bad := range []struct{ yaml, msg string }{
		{strings.Replace(src, "configKey: dbName", "configKey: nope", 1), `configKey "nope" is not a key of defaultConfig`},
		{strings.Replace(src, "[dbUrl]", "[other]", 1), `secret key "other" is not in defaultSecrets`},
		{strings.Replace(src, "[x-pvc]", "[../x]", 1), "restore.volumes"},
		{strings.Replace(src, "dataSecrets: [dbUrl]", "dataSecrets: [salt]", 1), `restore.dataSecrets: secret key "salt" is not in defaultSecrets`},
	} {
		if _, err := catalog.ParseManifest("x/manifest.yaml", []byte(bad.yaml)); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("want %q, got %v", bad.msg, err)
		}
	}
}
