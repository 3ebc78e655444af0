package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/problem"
)

// webV1 is version 1 of a test app; the variants below are what a Wild
// Directory update may ship.
func webV1() fstest.MapFS {
	f := fstest.MapFS{}
	set := func(file, body string) { f["web/"+file] = &fstest.MapFile{Data: []byte(body)} }
	set("manifest.yaml", `name: web
is: web
description: test web app
version: 1.0.0
defaultConfig:
  namespace: web
  image: nginx:1.25
  port: "8080"
  replicas: 1
  dbName: web
defaultSecrets:
  - key: password
`)
	set("kustomization.yaml", "namespace: {{ .namespace }}\nresources:\n  - deployment.yaml\n  - service.yaml\n  - configmap.yaml\n")
	set("deployment.yaml", deploymentV1)
	set("service.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n    - port: {{ .port }}\n")
	set("configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-legacy\ndata:\n  db: {{ .dbName }}\n")
	return f
}

const deploymentV1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {{ .replicas }}
  template:
    spec:
      containers:
        - name: web
          image: {{ .image }}
          ports:
            - containerPort: {{ .port }}
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
            limits:
              cpu: 500m
              memory: 256Mi
`

// webV2 adds a config key and a secret, changes the default image and
// replicas, and drops the ConfigMap resource.
func webV2() fstest.MapFS {
	f := webV1()
	set := func(file, body string) { f["web/"+file] = &fstest.MapFile{Data: []byte(body)} }
	set("manifest.yaml", `name: web
is: web
description: test web app
version: 1.1.0
defaultConfig:
  namespace: web
  image: nginx:1.27
  port: "8080"
  replicas: 2
  dbName: web
  logLevel: info
defaultSecrets:
  - key: password
  - key: apiKey
`)
	set("kustomization.yaml", "namespace: {{ .namespace }}\nresources:\n  - deployment.yaml\n  - service.yaml\n")
	set("deployment.yaml", strings.Replace(deploymentV1, "          ports:\n", "          env:\n            - name: LOG_LEVEL\n              value: {{ .logLevel }}\n          ports:\n", 1))
	delete(f, "web/configmap.yaml")
	return f
}

// webRenamed renames dbName to databaseName.
func webRenamed() fstest.MapFS {
	f := webV1()
	m := string(f["web/manifest.yaml"].Data)
	m = strings.Replace(m, "version: 1.0.0", "version: 1.0.1", 1)
	m = strings.Replace(m, "dbName: web", "databaseName: web", 1)
	f["web/manifest.yaml"] = &fstest.MapFile{Data: []byte(m)}
	f["web/configmap.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-legacy\ndata:\n  db: {{ .databaseName }}\n")}
	return f
}

func webMajor() fstest.MapFS {
	f := webV1()
	m := strings.Replace(string(f["web/manifest.yaml"].Data), "version: 1.0.0", "version: 2.0.0", 1)
	f["web/manifest.yaml"] = &fstest.MapFile{Data: []byte(m)}
	return f
}

func webEnv(t *testing.T) Env {
	t.Helper()
	inst, err := gitmode.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "test", Domain: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Instance: inst, Catalog: catalog.Open(webV1())}
	if _, err := (&Add{Env: env, App: "web"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env
}

func withCatalog(env Env, f fstest.MapFS) Env {
	env.Catalog = catalog.Open(f)
	return env
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// treeHash fingerprints every file (path and content) under dir.
func treeHash(t *testing.T, dir string, skip func(rel string) bool) string {
	t.Helper()
	h := sha256.New()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		files = append(files, rel)
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		h.Write([]byte(f + "\x00"))
		if st, _ := os.Stat(filepath.Join(dir, f)); st.Mode().IsRegular() {
			b, _ := os.ReadFile(filepath.Join(dir, f))
			h.Write(b)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestUpdateMergesCatalogChange(t *testing.T) {
	env := webEnv(t)
	inst := env.Instance
	if err := inst.SetConfig("apps.web.port", "9090"); err != nil {
		t.Fatal(err)
	}
	if err := inst.SetConfig("apps.web.replicas", "3"); err != nil {
		t.Fatal(err)
	}
	// A hand-written comment in config.yaml must survive the merge.
	cfgPath := inst.Path("config.yaml")
	withComment := strings.Replace(readFile(t, cfgPath), "    port: 9090\n", "    port: 9090 # our load balancer expects this\n", 1)
	if withComment == readFile(t, cfgPath) {
		t.Fatalf("test setup: no port line in\n%s", readFile(t, cfgPath))
	}
	os.WriteFile(cfgPath, []byte(withComment), 0o644)
	oldPassword, _ := inst.GetSecret("apps.web.password")

	rv, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rv.Applied || rv.FromVersion != "1.0.0" || rv.ToVersion != "1.1.0" {
		t.Fatalf("review: %+v", rv)
	}
	cfg := func(p string) any {
		v, err := inst.GetConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if cfg("apps.web.image") != "nginx:1.27" {
		t.Errorf("image did not follow the new default: %v", cfg("apps.web.image"))
	}
	if cfg("apps.web.port") != 9090 || cfg("apps.web.replicas") != 3 {
		t.Errorf("user values lost: port=%v replicas=%v", cfg("apps.web.port"), cfg("apps.web.replicas"))
	}
	if cfg("apps.web.logLevel") != "info" {
		t.Errorf("new key not added: %v", cfg("apps.web.logLevel"))
	}
	if !strings.Contains(readFile(t, cfgPath), "port: 9090 # our load balancer expects this") {
		t.Errorf("comment lost:\n%s", readFile(t, cfgPath))
	}
	if pw, _ := inst.GetSecret("apps.web.password"); pw != oldPassword {
		t.Error("existing secret changed")
	}
	if k, err := inst.GetSecret("apps.web.apiKey"); err != nil || len(k.(string)) != 32 {
		t.Errorf("new secret not generated: %v", err)
	}
	dep := readFile(t, filepath.Join(inst.AppDir("web"), "deployment.yaml"))
	if !strings.Contains(dep, "image: nginx:1.27") || !strings.Contains(dep, "value: info") || !strings.Contains(dep, "replicas: 3") {
		t.Errorf("recompiled deployment:\n%s", dep)
	}
	if _, err := os.Stat(filepath.Join(inst.AppDir("web"), "configmap.yaml")); !os.IsNotExist(err) {
		t.Error("configmap.yaml removed upstream is still compiled (deploy would not prune it)")
	}
	if got := readFile(t, filepath.Join(inst.AppDir("web"), PackageDir, "manifest.yaml")); got != string(webV2()["web/manifest.yaml"].Data) {
		t.Errorf(".package/ not replaced: %s", got)
	}
	if _, err := os.Stat(filepath.Join(inst.AppDir("web"), PackageDir, "configmap.yaml")); !os.IsNotExist(err) {
		t.Error(".package/ still holds a file the new package dropped")
	}
	m, _ := ReadInstalledManifest(inst, "web")
	if m.Version != "1.1.0" {
		t.Errorf("instance manifest version %s", m.Version)
	}
	assertChange(t, rv, "image", change.Configured)
	assertChange(t, rv, "logLevel", change.Created)
	kept := assertChange(t, rv, "replicas", change.Kept)
	if kept.NewDefault != "2" {
		t.Errorf("kept change should name the new default: %+v", kept)
	}
	if len(rv.SecretsAdded) != 1 || rv.SecretsAdded[0] != "apps.web.apiKey" {
		t.Errorf("secrets added: %v", rv.SecretsAdded)
	}
	if !strings.Contains(rv.UnifiedDiff(), "-          image: nginx:1.25") || !strings.Contains(rv.UnifiedDiff(), "+          image: nginx:1.27") {
		t.Errorf("diff:\n%s", rv.UnifiedDiff())
	}
	if strings.Contains(rv.UnifiedDiff(), oldPassword.(string)) {
		t.Error("review leaks a secret")
	}
	// Running it again finds nothing to do.
	again, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background())
	if err != nil || !again.UpToDate {
		t.Fatalf("second update: %+v %v", again, err)
	}
}

func assertChange(t *testing.T, rv *UpdateReview, key string, want change.Action) ConfigChange {
	t.Helper()
	for _, c := range rv.Config {
		if c.Key == key {
			if c.Change != want {
				t.Errorf("%s: change %q, want %q", key, c.Change, want)
			}
			return c
		}
	}
	t.Errorf("no config change for %s in %+v", key, rv.Config)
	return ConfigChange{}
}

func TestUpdateRenameBlocksUntilResolved(t *testing.T) {
	env := webEnv(t)
	inst := env.Instance
	if err := inst.SetConfig("apps.web.dbName", "mydb"); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, inst.Dir, nil)
	_, err := (&Update{Env: withCatalog(env, webRenamed()), App: "web"}).Run(context.Background())
	var be *BreakingError
	if !errors.As(err, &be) {
		t.Fatalf("rename not detected: %v", err)
	}
	if !strings.Contains(advice.Message(err), "--rename dbName=databaseName") {
		t.Errorf("error should suggest the rename: %v", err)
	}
	if treeHash(t, inst.Dir, nil) != before {
		t.Fatal("a refused update wrote something")
	}
	rv, err := (&Update{Env: withCatalog(env, webRenamed()), App: "web", Renames: map[string]string{"dbName": "databaseName"}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := inst.GetConfig("apps.web.databaseName"); v != "mydb" {
		t.Errorf("value not carried across: %v", v)
	}
	if _, err := inst.GetConfig("apps.web.dbName"); err == nil {
		t.Error("old key still there")
	}
	if cm := readFile(t, filepath.Join(inst.AppDir("web"), "configmap.yaml")); !strings.Contains(cm, "db: mydb") {
		t.Errorf("configmap: %s", cm)
	}
	assertChange(t, rv, "databaseName", change.Renamed)
}

func TestUpdateAcceptRemovedAndMajor(t *testing.T) {
	env := webEnv(t)
	_, err := (&Update{Env: withCatalog(env, webRenamed()), App: "web", AcceptRemoved: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Instance.GetConfig("apps.web.dbName"); err == nil {
		t.Error("--accept-removed kept the key")
	}
	if v, _ := env.Instance.GetConfig("apps.web.databaseName"); v != "web" {
		t.Errorf("new key: %v", v)
	}

	env2 := webEnv(t)
	_, err = (&Update{Env: withCatalog(env2, webMajor()), App: "web"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "major version bump 1.0.0 -> 2.0.0") {
		t.Fatalf("major bump: %v", err)
	}
	if _, err := (&Update{Env: withCatalog(env2, webMajor()), App: "web", AcceptBreaking: true}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateDryRunWritesNothing(t *testing.T) {
	env := webEnv(t)
	before := treeHash(t, env.Instance.Dir, nil)
	rv, err := (&Update{Env: withCatalog(env, webV2()), App: "web", DryRun: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rv.Applied || rv.UnifiedDiff() == "" || len(rv.SecretsAdded) != 1 {
		t.Fatalf("dry-run review: %+v", rv)
	}
	if after := treeHash(t, env.Instance.Dir, nil); after != before {
		t.Fatal("--dry-run changed the instance directory")
	}
}

func TestUpdateConfirmDeclinedWritesNothing(t *testing.T) {
	env := webEnv(t)
	before := treeHash(t, env.Instance.Dir, func(rel string) bool { return strings.HasSuffix(rel, ".lock") })
	_, err := (&Update{Env: withCatalog(env, webV2()), App: "web", Confirm: func(*UpdateReview) (bool, error) { return false, nil }}).Run(context.Background())
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	if treeHash(t, env.Instance.Dir, func(rel string) bool { return strings.HasSuffix(rel, ".lock") }) != before {
		t.Fatal("declined update wrote something")
	}
}

func TestRollbackRestoresExactState(t *testing.T) {
	env := webEnv(t)
	inst := env.Instance
	if err := inst.SetConfig("apps.web.port", "9090"); err != nil {
		t.Fatal(err)
	}
	cfgBefore := readFile(t, inst.Path("config.yaml"))
	secBefore := readFile(t, inst.Path("secrets.yaml"))
	appBefore := treeHash(t, inst.AppDir("web"), nil)
	rv, err := (&Update{Env: withCatalog(env, webV2()), App: "web"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snapDir := inst.Path(SnapshotsDir, "web", rv.Snapshot)
	filepath.WalkDir(snapDir, func(p string, d fs.DirEntry, err error) error {
		if st, _ := os.Stat(p); st.Mode().IsRegular() && st.Mode().Perm() != 0o600 {
			t.Errorf("snapshot file %s has mode %v, want 0600", p, st.Mode().Perm())
		}
		return nil
	})
	if readFile(t, inst.Path("config.yaml")) == cfgBefore {
		t.Fatal("update changed nothing")
	}
	res, err := (&Rollback{Env: env, App: "web"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.To != "1.0.0" || res.From != "1.1.0" {
		t.Errorf("result: %+v", res)
	}
	if got := readFile(t, inst.Path("config.yaml")); got != cfgBefore {
		t.Errorf("config.yaml not restored:\n--- want\n%s--- got\n%s", cfgBefore, got)
	}
	if readFile(t, inst.Path("secrets.yaml")) != secBefore {
		t.Error("secrets.yaml not restored")
	}
	if treeHash(t, inst.AppDir("web"), nil) != appBefore {
		t.Error("apps/web not restored")
	}
}

func TestUpdateFreshListsLossAndRegenerates(t *testing.T) {
	env := webEnv(t)
	inst := env.Instance
	if err := inst.SetConfig("apps.web.port", "9090"); err != nil {
		t.Fatal(err)
	}
	oldPw, _ := inst.GetSecret("apps.web.password")
	var shown *UpdateReview
	rv, err := (&Update{Env: withCatalog(env, webV2()), App: "web", Fresh: true, Confirm: func(r *UpdateReview) (bool, error) {
		shown = r
		return true, nil
	}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if shown == nil || !containsPrefix(shown.Lost, "config apps.web.port = 9090") || !containsPrefix(shown.Lost, "secret apps.web.password") {
		t.Fatalf("lost list: %+v", shown)
	}
	if v, _ := inst.GetConfig("apps.web.port"); v != "8080" {
		t.Errorf("port not reset: %v", v)
	}
	if pw, _ := inst.GetSecret("apps.web.password"); pw == oldPw {
		t.Error("--fresh kept the old secret")
	}
	if !rv.Applied {
		t.Error("not applied")
	}
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func TestOutdatedListsChangedFiles(t *testing.T) {
	env := webEnv(t)
	rows, err := (&Outdated{Env: env}).Run(context.Background())
	if err != nil || len(rows) != 0 {
		t.Fatalf("fresh app outdated: %v %v", rows, err)
	}
	rows, err = (&Outdated{Env: withCatalog(env, webV2())}).Run(context.Background())
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows: %v %v", rows, err)
	}
	r := rows[0]
	if r.Installed != "1.0.0" || r.Available != "1.1.0" {
		t.Errorf("versions: %+v", r)
	}
	got := map[string]change.Action{}
	for _, f := range r.Files {
		got[f.Path] = f.Change
	}
	want := map[string]change.Action{"manifest.yaml": change.Configured, "kustomization.yaml": change.Configured, "deployment.yaml": change.Configured, "configmap.yaml": change.Pruned}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["service.yaml"]; ok {
		t.Error("unchanged file listed")
	}
}

// TestUpdateBacksUpFirst: the backup runs after the review is accepted
// and before anything is written; when it fails, nothing changes and the
// advice names --no-backup. (The real backup behind the hook is tested on
// the real node in internal/backup.)
func TestUpdateBacksUpFirst(t *testing.T) {
	env := webEnv(t)
	skip := func(rel string) bool { return strings.HasSuffix(rel, ".lock") || strings.HasPrefix(rel, "operations/") }
	before := treeHash(t, env.Instance.Dir, skip)
	failing := func(context.Context, string) (string, error) {
		return "", problem.New(problem.Unavailable, "exec pg_dump in postgres/postgres-0: no such pod")
	}
	_, err := (&Update{Env: withCatalog(env, webV2()), App: "web", BackupFirst: failing}).Run(context.Background())
	var pe *problem.Error
	if err == nil || !errors.As(err, &pe) || pe.Hint == nil || pe.Hint.Args["flag"] != "no-backup" || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("failed backup: err = %v (hint %+v)", err, pe)
	}
	if treeHash(t, env.Instance.Dir, skip) != before {
		t.Fatal("an update whose backup failed wrote something")
	}
	var calledWithLockHeld bool
	ok := func(_ context.Context, app string) (string, error) {
		_, lerr := env.Instance.TryLockApp(app)
		calledWithLockHeld = lerr != nil
		return "20261205T030000Z", nil
	}
	rv, err := (&Update{Env: withCatalog(env, webV2()), App: "web", BackupFirst: ok}).Run(context.Background())
	if err != nil || !rv.Applied || rv.Backup != "20261205T030000Z" {
		t.Fatalf("update with a backup: %+v %v", rv, err)
	}
	if !calledWithLockHeld {
		t.Error("the backup ran without the update holding the app lock")
	}
}
