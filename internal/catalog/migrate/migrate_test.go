package migrate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/catalog/migrate"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

func migrated(t *testing.T) (string, *migrate.Result) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "new")
	res, err := migrate.Run("testdata/old", dst, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dst, res
}

func read(t *testing.T, dir, f string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, f))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func notes(p *migrate.Package) string {
	var b strings.Builder
	for _, n := range p.Changed {
		b.WriteString("changed " + n.String() + "\n")
	}
	for _, n := range p.Human {
		b.WriteString("human " + n.String() + "\n")
	}
	return b.String()
}

// Each older-format trait is converted, and the report says so.
func TestMigrateEachTrait(t *testing.T) {
	dst, res := migrated(t)
	if len(res.Packages) != 2 {
		t.Fatalf("packages: %d", len(res.Packages))
	}
	report := notes(res.Packages[0]) + notes(res.Packages[1])
	forge := read(t, dst, "forge/manifest.yaml")
	blog := read(t, dst, "blog/manifest.yaml")
	for _, tc := range []struct {
		trait, text, want, report string
	}{
		{"install: true removed", forge, "", "forge/manifest.yaml:3: removed install: true"},
		{"is added", blog, "is: blog\n", "added is: blog"},
		{"db alias added", forge, "  - name: postgres\n    alias: db\n", "requires postgres: added alias db"},
		{"own requiredSecrets become defaultSecrets", forge, "  - key: dbPassword\n  - key: secretKey\n", "requiredSecrets apps.forge.dbPassword: the app's own secret, moved to defaultSecrets"},
		{"dependency requiredSecrets become ref.key", forge, "requiredSecrets:\n  - db.password\n", "requiredSecrets apps.postgres.password written as db.password"},
		{"manifest templates see .app and .apps.<ref>", forge, `default: "postgres://{{ .app.dbUser }}@{{ .apps.db.host }}/{{ .app.dbName }}"`, "defaultSecrets dbUrl:"},
		{"numbers become strings", forge, "port: \"3000\"", "the number 3000 written as the string"},
		{"floats become strings", forge, "timeout: \"1.5\"", "the number 1.5"},
		{"dependency config through new keys", forge, "dbHost: \"{{ .apps.db.host }}\"", "added dbHost"},
		{"cloud config through new keys", forge, "cloudDomain: \"{{ .cloud.domain }}\"", "added cloudDomain"},
		{"hard-coded host in defaultConfig", blog, "dbHost: \"{{ .apps.db.host }}\"", "blog/manifest.yaml:12: defaultConfig.dbHost"},
		{"missing requires added from a hard-coded host", blog, "requires:\n  - name: mysql\n    alias: db\n", "added requires mysql (as db)"},
		{"restore declared", forge, "restore:\n  databases:\n    - configKey: dbName\n      secretKeys:\n        - dbUrl\n  volumes:\n    - forge-data\n", "added restore:"},
		{"undeclared own secret generated, for a human", blog, "defaultSecrets:\n  - key: dbPassword\n", "human blog/manifest.yaml: secret dbPassword was used (deployment.yaml:33)"},
	} {
		if tc.want != "" && !strings.Contains(tc.text, tc.want) {
			t.Errorf("%s: manifest lacks %q", tc.trait, tc.want)
		}
		if !strings.Contains(report, tc.report) {
			t.Errorf("%s: report lacks %q", tc.trait, tc.report)
		}
	}
	if strings.Contains(forge, "install") || strings.Contains(forge, "apps.forge") || strings.Contains(forge, "apps.postgres") {
		t.Errorf("older-format traits left in forge/manifest.yaml:\n%s", forge)
	}

	for f, want := range map[string][]string{
		"forge/deployment.yaml":    {"image: {{ .image }}", `value: "https://{{ .domain }}/"`, "value: {{ .cloudDomain | quote }}", "key: dbPassword\n", "key: secretKey\n"},
		"forge/db-init-job.yaml":   {"image: {{ .dbInitImage }}", "value: {{ .dbHost }}", "value: {{ .dbAdminUser }}", "key: db.password\n"},
		"forge/forge.env":          {"FORGE__server__DOMAIN={{ .domain }}", "FORGE__database__HOST={{ .dbHost }}:{{ .dbPort }}"},
		"forge/kustomization.yaml": {"namespace: {{ .namespace }}"},
		"blog/deployment.yaml":     {"value: {{ .dbHost }}", "key: dbPassword\n", "name: mysql-secrets\n                  key: password\n"},
	} {
		text := read(t, dst, f)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", f, w, text)
			}
		}
		for _, old := range []string{".apps.", "key: apps.", "mysql.mysql.svc"} {
			if strings.Contains(text, old) {
				t.Errorf("%s still holds %q", f, old)
			}
		}
	}
	for _, c := range []string{"forge/deployment.yaml:39: secretKeyRef forge-secrets key apps.forge.dbPassword written as dbPassword", "blog/deployment.yaml:26: value: mysql.mysql.svc.cluster.local -> value: {{ .dbHost }}", "forge/forge.env:2:"} {
		if !strings.Contains(report, c) {
			t.Errorf("report lacks %q:\n%s", c, report)
		}
	}
	if res.Lint.Errors != 0 || res.Lint.Warnings != 0 {
		t.Errorf("migrated packages do not pass lint: %v", res.Lint.Findings)
	}
	if b, _ := os.ReadFile("testdata/old/forge/manifest.yaml"); !strings.Contains(string(b), "install: true") {
		t.Error("the source was modified")
	}
}

// Migrated packages add and compile, next to the bundled databases.
func TestMigratedPackagesAddAndCompile(t *testing.T) {
	dst, _ := migrated(t)
	for _, app := range []string{"postgres", "mysql"} {
		if err := os.CopyFS(filepath.Join(dst, app), subFS(t, app)); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.OpenDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := instance.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "m", Domain: "cloud.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	env := lifecycle.Env{Instance: inst, Catalog: cat}
	for _, app := range []string{"postgres", "mysql", "forge", "blog"} {
		if _, err := (&lifecycle.Add{Env: env, App: app}).Run(context.Background()); err != nil {
			t.Fatalf("add %s: %v", app, err)
		}
	}
	env2 := read(t, inst.AppDir("forge"), "forge.env")
	if env2 != "FORGE__server__DOMAIN=forge.cloud.example.com\nFORGE__database__HOST=postgres.postgres.svc.cluster.local:5432\nFORGE__database__NAME=forge\n" {
		t.Errorf("compiled forge.env = %q", env2)
	}
	if v, err := inst.GetSecret("apps.forge.db.password"); err != nil || v == "" {
		t.Errorf("the dependency secret was not copied: %v", err)
	}
}

func TestMigrateRefusesANonEmptyDestination(t *testing.T) {
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Run("testdata/old", dst, migrate.Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("got %v", err)
	}
}

func TestMigrateQuotesTemplatesYAMLWouldReadAsMappings(t *testing.T) {
	src := filepath.Join(t.TempDir(), "old", "site")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mf := "name: site\ndefaultConfig:\n  domain: {{ .cloud.domain }}\n  aliases:\n    - {{ .cloud.internalDomain }}\n"
	if err := os.WriteFile(filepath.Join(src, "manifest.yaml"), []byte(mf), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new")
	res, err := migrate.Run(src, dst, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, dst, "site/manifest.yaml")
	if !strings.Contains(got, `domain: "{{ .cloud.domain }}"`) || !strings.Contains(got, `- "{{ .cloud.internalDomain }}"`) {
		t.Errorf("manifest:\n%s", got)
	}
	if r := notes(res.Packages[0]); !strings.Contains(r, "site/manifest.yaml:3: quoted the template") || !strings.Contains(r, "site/manifest.yaml:5: quoted") {
		t.Errorf("report:\n%s", r)
	}
	if _, err := catalog.ParseManifest("site/manifest.yaml", []byte(got)); err != nil {
		t.Error(err)
	}
}
