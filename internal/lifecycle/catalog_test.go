package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
)

// dependencyOrder is catalog.DependencyOrder of a catalog the test needs whole.
func dependencyOrder(t testing.TB, pkgs []*catalog.Package) []*catalog.Package {
	out, err := catalog.DependencyOrder(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func freshInstance(t testing.TB) *instance.Instance {
	s := gitmode.NewStore(t.TempDir())
	inst, err := s.Create(instance.CreateOptions{Name: "bench", Domain: "cloud.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestBundledCatalogAddsCleanly adds every bundled app to one instance, in
// dependency order, and checks each compiled file is YAML free of
// template residue.
func TestBundledCatalogAddsCleanly(t *testing.T) {
	cat := catalog.Bundled()
	pkgs, err := cat.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 11 {
		t.Fatalf("bundled catalog has %d apps, want at least 11", len(pkgs))
	}
	env := Env{Instance: freshInstance(t), Catalog: cat}
	for _, p := range dependencyOrder(t, pkgs) {
		res, err := (&Add{Env: env, App: p.Name}).Run(context.Background())
		if err != nil {
			t.Fatalf("add %s: %v", p.Name, err)
		}
		if len(res.Files) == 0 {
			t.Fatalf("%s compiled no files", p.Name)
		}
		checkCompiled(t, env.Instance.AppDir(p.Name))
		again, err := (&Add{Env: env, App: p.Name}).Run(context.Background())
		if err != nil || again.Changed() {
			t.Fatalf("re-adding %s is not a no-op: %v %+v", p.Name, err, again)
		}
	}
}

func checkCompiled(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == catalog.ManifestFile {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		for _, bad := range []string{"{{", "<no value>"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s/%s contains %q", filepath.Base(dir), e.Name(), bad)
			}
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var v any
			if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
				t.Errorf("%s/%s is not YAML: %v", filepath.Base(dir), e.Name(), err)
			}
		}
	}
}
