package lifecycle

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/catalog"
)

func byName(apps []AppSummary) map[string]AppSummary {
	out := map[string]AppSummary{}
	for _, a := range apps {
		out[a.Name] = a
	}
	return out
}

// A broken package is listed with its error and never hides the valid
// ones, which still add.
func TestListShowsValidPackagesBesideABrokenOne(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, app := range []string{"redis", "memcached"} {
		entries, _ := fs.ReadDir(directory.FS, app)
		for _, e := range entries {
			b, err := fs.ReadFile(directory.FS, app+"/"+e.Name())
			if err != nil {
				t.Fatal(err)
			}
			fsys[app+"/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	fsys["broken/manifest.yaml"] = &fstest.MapFile{Data: []byte("name: broken\ndefaultConfig:\n  domain: {{ .cloud.domain }}\n")}
	fsys["other/manifest.yaml"] = &fstest.MapFile{Data: []byte("name: different\n")}
	env := Env{Instance: freshInstance(t), Catalog: catalog.Open(fsys)}

	apps, err := (&List{Env: env}).Run(context.Background())
	if err != nil {
		t.Fatalf("list failed instead of isolating the broken packages: %v", err)
	}
	got := byName(apps)
	if got["redis"].State != StateAvailable || got["memcached"].State != StateAvailable {
		t.Errorf("valid packages hidden or wrong: %+v", apps)
	}
	if b := got["broken"]; b.State != StateBroken || !strings.Contains(b.Detail, "broken/manifest.yaml:3:") || !strings.Contains(b.Detail, "quote the template") {
		t.Errorf("broken package row = %+v", b)
	}
	if b := got["other"]; b.State != StateBroken || !strings.Contains(b.Detail, "other/manifest.yaml:1:") {
		t.Errorf("mismatched package row = %+v", b)
	}
	if _, err := (&Add{Env: env, App: "redis"}).Run(context.Background()); err != nil {
		t.Fatalf("add of a valid package beside a broken one: %v", err)
	}
}

// A corrupt apps/X/manifest.yaml affects only X: other apps add and list,
// and X can still be deleted.
func TestCorruptInstalledManifestIsIsolated(t *testing.T) {
	env := Env{Instance: freshInstance(t), Catalog: catalog.Bundled()}
	ctx := context.Background()
	for _, app := range []string{"redis", "memcached"} {
		if _, err := (&Add{Env: env, App: app}).Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	corrupt := filepath.Join(env.Instance.AppDir("redis"), "manifest.yaml")
	if err := os.WriteFile(corrupt, []byte("name: redis\nrequires: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Add{Env: env, App: "hello"}).Run(ctx); err != nil {
		t.Fatalf("add of an unrelated app is blocked by a corrupt manifest: %v", err)
	}
	apps, err := (&List{Env: env}).Run(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	got := byName(apps)
	if got["memcached"].State != StateAdded || got["hello"].State != StateAdded {
		t.Errorf("unrelated apps: %+v", apps)
	}
	if r := got["redis"]; r.State != StateBroken || !strings.Contains(r.Detail, "apps/redis/manifest.yaml:2:") || !strings.Contains(r.Detail, "deleting it still works") {
		t.Errorf("redis row = %+v", r)
	}
	rows := 0
	for _, a := range apps {
		if a.Name == "redis" {
			rows++
		}
	}
	if rows != 1 {
		t.Errorf("redis listed %d times", rows)
	}
	res, err := (&Delete{Env: env, App: "redis"}).Run(ctx)
	if err != nil {
		t.Fatalf("delete of the corrupt app: %v", err)
	}
	if len(res.LocalCleaned) == 0 {
		t.Errorf("delete left local state: %+v", res)
	}
	if _, err := os.Stat(env.Instance.AppDir("redis")); !os.IsNotExist(err) {
		t.Errorf("apps/redis still exists: %v", err)
	}
	if v, _ := env.Instance.GetConfig("apps.redis"); v != nil {
		t.Errorf("config apps.redis still set: %v", v)
	}
}
