package lifecycle

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
)

// testCatalog is a small catalog written for these tests: a database type
// with two providers, an app that needs one, and broken packages.
func testCatalog() fstest.MapFS {
	f := fstest.MapFS{}
	add := func(app, file, body string) { f[app+"/"+file] = &fstest.MapFile{Data: []byte(body)} }
	add("pg", "manifest.yaml", `name: pg
is: postgres
description: test postgres
version: 1.0.0
defaultConfig:
  namespace: pg
  host: pg.pg.svc.cluster.local
  port: "5432"
defaultSecrets:
  - key: password
`)
	add("pg", "kustomization.yaml", "namespace: {{ .namespace }}\nresources: [svc.yaml]\n")
	add("pg", "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: pg\nspec:\n  ports: [{port: {{ .port }}}]\n")
	add("pg2", "manifest.yaml", "name: pg2\nis: postgres\nversion: 1.0.0\ndefaultConfig:\n  host: pg2.pg2.svc\ndefaultSecrets:\n  - key: password\n")
	add("blog", "manifest.yaml", `name: blog
is: blog
description: a blog
version: 2.1.0
requires:
  - name: postgres
    alias: db
defaultConfig:
  namespace: blog
  domain: blog.{{ .cloud.domain }}
  url: "https://{{ .app.domain }}/"
  dbHost: "{{ .apps.db.host }}"
  dbName: blog
  nested:
    replicas: 1
defaultSecrets:
  - key: apiKey
  - key: dbUrl
    default: "postgres://blog:{{ .secrets.db.password }}@{{ .app.dbHost }}/{{ .app.dbName }}"
requiredSecrets:
  - db.password
`)
	add("blog", "deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: blog\n  annotations:\n    url: {{ .url }}\nspec:\n  replicas: {{ .nested.replicas }}\n")
	add("blog", "README.md", "Uses {{ braces }} verbatim.\n")
	add("broken", "manifest.yaml", "name: broken\nis: broken\nversion: 1.0.0\ndefaultConfig:\n  x: \"{{ .cloud.nothere }}\"\n")
	add("badtpl", "manifest.yaml", "name: badtpl\nis: badtpl\nversion: 1.0.0\ndefaultConfig:\n  x: \"1\"\n")
	add("badtpl", "cm.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  y: {{ .missing }}\n")
	return f
}

func testEnv(t *testing.T) Env {
	t.Helper()
	s := gitmode.NewStore(t.TempDir())
	inst, err := s.Create(instance.CreateOptions{Name: "test", Domain: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return Env{Instance: inst, Catalog: catalog.Open(testCatalog())}
}

func add(t *testing.T, env Env, app string, deps map[string]string) *AddResult {
	t.Helper()
	res, err := (&Add{Env: env, App: app, Deps: deps}).Run(context.Background())
	if err != nil {
		t.Fatalf("add %s: %v", app, err)
	}
	return res
}

func TestAddResolvesRendersAndCompiles(t *testing.T) {
	env := testEnv(t)
	add(t, env, "pg", nil)
	res := add(t, env, "blog", nil)
	if res.InstalledAs["db"] != "pg" {
		t.Fatalf("installedAs = %v", res.InstalledAs)
	}
	cfg := func(p string) any {
		v, err := env.Instance.GetConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if cfg("apps.blog.domain") != "blog.example.com" || cfg("apps.blog.url") != "https://blog.example.com/" || cfg("apps.blog.dbHost") != "pg.pg.svc.cluster.local" {
		t.Fatalf("rendered config wrong: %v", cfg("apps.blog"))
	}
	pw, _ := env.Instance.GetSecret("apps.pg.password")
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(pw.(string)) {
		t.Fatalf("generated password %q", pw)
	}
	copied, _ := env.Instance.GetSecret("apps.blog.db.password")
	if copied != pw {
		t.Fatal("requiredSecret not copied from the dependency")
	}
	dbURL, _ := env.Instance.GetSecret("apps.blog.dbUrl")
	if dbURL != "postgres://blog:"+pw.(string)+"@pg.pg.svc.cluster.local/blog" {
		t.Fatalf("templated secret = %q", dbURL)
	}
	dep, _ := os.ReadFile(filepath.Join(env.Instance.AppDir("blog"), "deployment.yaml"))
	if !strings.Contains(string(dep), "url: https://blog.example.com/") || !strings.Contains(string(dep), "replicas: 1") {
		t.Fatalf("compiled deployment:\n%s", dep)
	}
	readme, _ := os.ReadFile(filepath.Join(env.Instance.AppDir("blog"), "README.md"))
	if string(readme) != "Uses {{ braces }} verbatim.\n" {
		t.Fatal("non-YAML files must be copied verbatim")
	}
	if _, err := os.Stat(filepath.Join(env.Instance.AppDir("blog"), PackageDir, "deployment.yaml")); err != nil {
		t.Fatal("the untouched package was not kept in .package/")
	}
	m, err := ReadInstalledManifest(env.Instance, "blog")
	if err != nil || m.InstalledAs["db"] != "pg" {
		t.Fatalf("instance manifest lacks installedAs: %v %v", m, err)
	}
	var rec map[string]any
	b, err := os.ReadFile(env.Instance.Path("operations", res.Operation+".json"))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec["status"] != "succeeded" {
		t.Fatalf("operation record: %s %v", b, err)
	}
	if strings.Contains(string(b), pw.(string)) {
		t.Fatal("operation record contains a secret value")
	}
}

func TestReAddIsIdempotentAndKeepsValues(t *testing.T) {
	env := testEnv(t)
	add(t, env, "pg", nil)
	add(t, env, "blog", nil)
	before, _ := os.ReadFile(env.Instance.Path("secrets.yaml"))
	if err := env.Instance.SetConfig("apps.blog.domain", "news.example.org"); err != nil {
		t.Fatal(err)
	}
	res := add(t, env, "blog", nil)
	after, _ := os.ReadFile(env.Instance.Path("secrets.yaml"))
	if string(before) != string(after) {
		t.Fatal("re-add changed secrets")
	}
	if v, _ := env.Instance.GetConfig("apps.blog.domain"); v != "news.example.org" {
		t.Fatalf("re-add overwrote a user value: %v", v)
	}
	if len(res.ConfigAdded) != 0 || len(res.SecretsAdded) != 0 {
		t.Fatalf("re-add added things: %+v", res)
	}
	// url was rendered into config at the first add; a stored value is the
	// user's and is kept, even though it was derived from the old domain.
	if v, _ := env.Instance.GetConfig("apps.blog.url"); v != "https://blog.example.com/" {
		t.Fatalf("stored url changed: %v", v)
	}
	again := add(t, env, "blog", nil)
	if again.Changed() {
		t.Fatalf("third add reported changes: %+v", again)
	}
}

func TestAddDependencyErrors(t *testing.T) {
	env := testEnv(t)
	_, err := (&Add{Env: env, App: "blog"}).Run(context.Background())
	if err == nil || !strings.Contains(advice.Message(err), "blog requires an app of type postgres; add one first: wild app add postgres") {
		t.Fatalf("missing dep: %v", err)
	}
	// A --dep naming no added app leads to the type needed, never to
	// adding a name that may not exist.
	_, err = (&Add{Env: env, App: "blog", Deps: map[string]string{"db": "nothere"}}).Run(context.Background())
	if err == nil || advice.Message(err) != "dependency db=nothere: nothere is not added, and no app of type postgres is; add one first: wild app add postgres" {
		t.Fatalf("--dep of an app not added, none of its type: %v", advice.Message(err))
	}
	add(t, env, "pg", nil)
	_, err = (&Add{Env: env, App: "blog", Deps: map[string]string{"db": "nothere"}}).Run(context.Background())
	if err == nil || !strings.Contains(advice.Message(err), "dependency db=nothere: nothere is not added; added apps of type postgres: pg; use one: wild app add blog --dep db=pg") {
		t.Fatalf("--dep of an app not added, one of its type added: %v", advice.Message(err))
	}
	add(t, env, "pg2", nil)
	_, err = (&Add{Env: env, App: "blog"}).Run(context.Background())
	if err == nil || !strings.Contains(advice.Message(err), "--dep db=") {
		t.Fatalf("ambiguous dep: %v", err)
	}
	res := add(t, env, "blog", map[string]string{"db": "pg2"})
	if res.InstalledAs["db"] != "pg2" {
		t.Fatal("--dep ignored")
	}
	for _, deps := range []map[string]string{{"db": "nothere"}, {"nope": "pg"}, {"db": "blog"}, {"db": "../x"}} {
		if _, err := (&Add{Env: env, App: "blog", Deps: deps}).Run(context.Background()); err == nil {
			t.Errorf("accepted --dep %v", deps)
		}
	}
}

func TestAddFailuresWriteNothing(t *testing.T) {
	env := testEnv(t)
	snapshot := func() string {
		var b strings.Builder
		filepath.Walk(env.Instance.Dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !strings.Contains(p, "operations") && !strings.HasSuffix(p, ".lock") {
				c, _ := os.ReadFile(p)
				b.WriteString(p + "\n" + string(c))
			}
			return nil
		})
		return b.String()
	}
	before := snapshot()
	for app, want := range map[string]string{
		"broken":  `missing key "cloud.nothere"`,
		"badtpl":  `missing key "missing"`,
		"nothere": "unknown app",
		"Bad":     "invalid app name",
		"a/b":     "invalid app name",
	} {
		_, err := (&Add{Env: env, App: app}).Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("add %s: want %q, got %v", app, want, err)
		}
	}
	if snapshot() != before {
		t.Fatal("a failed add changed the instance")
	}
}

func TestRequiredSecretSourceMissing(t *testing.T) {
	env := testEnv(t)
	add(t, env, "pg", nil)
	if err := env.Instance.Update(func(e *instance.Edit) error {
		e.Secrets.Delete([]string{"apps", "pg", "password"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := (&Add{Env: env, App: "blog"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "apps.pg.password") {
		t.Fatalf("want an error naming the missing source, got %v", err)
	}
}

func TestRandomSecret(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s, err := RandomSecret(32)
		if err != nil || len(s) != 32 || seen[s] {
			t.Fatalf("%q %v", s, err)
		}
		seen[s] = true
	}
}

// TestDependencyCycleIsRefused: a cycle can only appear when a package
// gains a requirement on an app that already depends on it; re-adding it
// from the changed catalog must fail and write nothing.
func TestDependencyCycleIsRefused(t *testing.T) {
	env := testEnv(t)
	add(t, env, "pg", nil)
	add(t, env, "blog", nil)
	changed := testCatalog()
	changed["pg/manifest.yaml"] = &fstest.MapFile{Data: []byte("name: pg\nis: postgres\nversion: 1.1.0\nrequires:\n  - name: blog\ndefaultConfig:\n  namespace: pg\n")}
	before, _ := os.ReadFile(env.Instance.Path("config.yaml"))
	_, err := (&Add{Env: Env{Instance: env.Instance, Catalog: catalog.Open(changed)}, App: "pg"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "dependency cycle: pg -> blog -> pg") {
		t.Fatalf("want a cycle error, got %v", err)
	}
	after, _ := os.ReadFile(env.Instance.Path("config.yaml"))
	if string(before) != string(after) {
		t.Fatal("a refused add changed config.yaml")
	}
}

func TestDeleteRefusesAnAppOthersNeed(t *testing.T) {
	env := testEnv(t)
	add(t, env, "pg", nil)
	add(t, env, "blog", nil)
	_, err := (&Delete{Env: env, App: "pg"}).Run(context.Background())
	if err == nil || !strings.Contains(advice.Message(err), "pg is used by blog") || !strings.Contains(advice.Message(err), "--force") {
		t.Fatalf("want a refusal naming blog and --force, got %v", err)
	}
	if _, err := os.Stat(env.Instance.AppDir("pg")); err != nil {
		t.Fatal("refused delete removed the app")
	}
}
