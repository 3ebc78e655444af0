package lifecycle

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/render"
)

// dependencyOrder lists catalog apps so that every app comes after an app
// of each type it requires.
func dependencyOrder(t testing.TB, pkgs []*catalog.Package) []*catalog.Package {
	var out []*catalog.Package
	have := map[string]bool{}
	left := append([]*catalog.Package(nil), pkgs...)
	for len(left) > 0 {
		var next []*catalog.Package
		for _, p := range left {
			ready := true
			for _, r := range p.Manifest.Requires {
				ready = ready && have[r.Name]
			}
			if ready {
				out = append(out, p)
				have[p.Manifest.Is] = true
			} else {
				next = append(next, p)
			}
		}
		if len(next) == len(left) {
			t.Fatalf("catalog has unsatisfiable requires: %v", next[0].Name)
		}
		left = next
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

// BenchmarkAddCatalog adds the whole bundled catalog to a fresh instance.
// Target: under 100 ms for everything on one core (run with -cpu 1).
//
// Each iteration's instance is removed before the next (outside the
// timer), as a user's machine does not pile up instances: on this VM the
// first touch of guest memory is slow, so page cache that only grows
// makes every file creation slower (0.03 to 1 ms) as the run goes on.
func BenchmarkAddCatalog(b *testing.B) {
	cat := catalog.Bundled()
	pkgs, _ := cat.List()
	order := dependencyOrder(b, pkgs)
	files := 0
	for _, p := range order {
		f, _ := p.Files()
		files += len(f)
	}
	eng := render.New()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		inst := freshInstance(b)
		env := Env{Instance: inst, Catalog: cat, Engine: eng}
		b.StartTimer()
		for _, p := range order {
			if _, err := (&Add{Env: env, App: p.Name}).Run(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		os.RemoveAll(inst.Dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(order)), "apps")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(files), "µs/file")
}

// BenchmarkWriteCatalogFloor is the filesystem's floor under
// BenchmarkAddCatalog, in the same run: the files an add of the catalog
// leaves in apps/ (compiled, .package/ and bookkeeping), written with
// plain os.WriteFile into fresh directories, with no lock, journal,
// fsync, config, secrets or operation record. add / floor is what wild's
// guarantees cost on top of merely creating the files.
func BenchmarkWriteCatalogFloor(b *testing.B) {
	src := freshInstance(b)
	env := Env{Instance: src, Catalog: catalog.Bundled(), Engine: render.New()}
	pkgs, _ := env.Catalog.List()
	for _, p := range dependencyOrder(b, pkgs) {
		if _, err := (&Add{Env: env, App: p.Name}).Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	tree := map[string][]byte{}
	filepath.WalkDir(src.AppDir(""), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(src.AppDir(""), p)
			tree[rel], _ = os.ReadFile(p)
		}
		return nil
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(b.TempDir(), "apps")
		for rel, data := range tree {
			os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
			if err := os.WriteFile(filepath.Join(dir, rel), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(len(tree)), "files")
}

// BenchmarkRenderFile is the in-process cost of rendering one resource
// template, to set against BenchmarkProcessSpawn.
func BenchmarkRenderFile(b *testing.B) {
	p, err := catalog.Bundled().Get("ghost")
	if err != nil {
		b.Fatal(err)
	}
	text, err := fs.ReadFile(p.FS, "deployment.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfg := map[string]any{}
	mysql, err := catalog.Bundled().Get("mysql")
	if err != nil {
		b.Fatal(err)
	}
	base := Context{Cloud: map[string]any{"domain": "example.com", "internalDomain": "internal.example.com", "smtp": map[string]any{"host": "", "port": "587", "user": "", "from": "a@b.c", "tls": true}}, Apps: map[string]any{}}
	_, db, err := RenderDefaults(render.New(), mysql.Manifest, base, nil)
	if err != nil {
		b.Fatal(err)
	}
	base.Apps["db"] = db
	_, vals, err := RenderDefaults(render.New(), p.Manifest, base, cfg)
	if err != nil {
		b.Fatal(err)
	}
	eng := render.New()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := eng.File("ghost/deployment.yaml", text, vals); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessSpawn is the floor of the old approach, which spawned
// the gomplate CLI once per file: starting /bin/true costs at least this
// much before any template work (gomplate itself cannot be installed here).
func BenchmarkProcessSpawn(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileCatalog is the CPU part of BenchmarkAddCatalog: render
// every app's defaultConfig and compile all its files in memory, no I/O.
func BenchmarkCompileCatalog(b *testing.B) {
	cat := catalog.Bundled()
	pkgs, _ := cat.List()
	eng := render.New()
	ctx := Context{
		Cloud:    map[string]any{"domain": "example.com", "internalDomain": "internal.example.com", "smtp": map[string]any{"host": "smtp.example.com", "port": "587", "user": "u", "from": "a@example.com", "tls": true}},
		Cluster:  map[string]any{"name": "bench"},
		Operator: map[string]any{"email": "op@example.com"},
		Apps:     map[string]any{},
	}
	// Every ref a package may use points at that type's own defaults.
	for _, p := range pkgs {
		_, cfg, err := RenderDefaults(eng, p.Manifest, ctx, nil)
		if err == nil {
			ctx.Apps[p.Manifest.Is] = cfg
		}
	}
	files := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		files = 0
		for _, p := range pkgs {
			c := Context{Cloud: ctx.Cloud, Cluster: ctx.Cluster, Operator: ctx.Operator, Apps: map[string]any{}}
			for _, r := range p.Manifest.Requires {
				c.Apps[r.Ref()] = ctx.Apps[r.Name]
			}
			_, cfg, err := RenderDefaults(eng, p.Manifest, c, nil)
			if err != nil {
				b.Fatal(err)
			}
			out, err := p.Compile(eng, cfg)
			if err != nil {
				b.Fatal(err)
			}
			files += len(out) + 1
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(files)/1000, "µs/file")
}
