package catalog_test

import (
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/catalog"
)

func pkg(name, is string, requires ...string) *catalog.Package {
	m := &catalog.Manifest{Name: name, Is: is}
	for _, r := range requires {
		m.Requires = append(m.Requires, catalog.Requirement{Name: r})
	}
	return &catalog.Package{Name: name, Manifest: m}
}

func order(t *testing.T, pkgs ...*catalog.Package) string {
	t.Helper()
	out, err := catalog.DependencyOrder(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	n := make([]string, len(out))
	for i, p := range out {
		n[i] = p.Name
	}
	return strings.Join(n, " ")
}

func TestDependencyOrder(t *testing.T) {
	ghost := pkg("ghost", "ghost", "mysql")
	gitea := pkg("gitea", "gitea", "postgres", "redis")
	cases := []struct {
		name string
		in   []*catalog.Package
		want string
	}{
		{"providers move before their users", []*catalog.Package{ghost, gitea, pkg("redis", "redis"), pkg("pg", "postgres"), pkg("mysql", "mysql")}, "redis pg mysql ghost gitea"},
		{"already in order stays", []*catalog.Package{pkg("mysql", "mysql"), ghost}, "mysql ghost"},
		{"a type nobody in the list provides orders nothing", []*catalog.Package{ghost, pkg("hello", "hello")}, "ghost hello"},
		{"every provider of a type comes first", []*catalog.Package{ghost, pkg("m1", "mysql"), pkg("m2", "mysql")}, "m1 m2 ghost"},
		{"chains", []*catalog.Package{pkg("c", "c", "b"), pkg("b", "b", "a"), pkg("a", "a")}, "a b c"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := order(t, c.in...); got != c.want {
				t.Errorf("order = %q, want %q", got, c.want)
			}
		})
	}
}

func TestDependencyOrderRefusesACycle(t *testing.T) {
	_, err := catalog.DependencyOrder([]*catalog.Package{pkg("a", "a", "b"), pkg("b", "b", "a"), pkg("c", "c")})
	if err == nil || !strings.Contains(err.Error(), "a, b") || strings.Contains(err.Error(), "c,") {
		t.Fatalf("err = %v, want a cycle naming a and b only", err)
	}
}

// The bundled catalog orders completely: every app it requires is in it.
func TestBundledCatalogHasADependencyOrder(t *testing.T) {
	pkgs, err := catalog.Bundled().List()
	if err != nil {
		t.Fatal(err)
	}
	out, err := catalog.DependencyOrder(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range out {
		for _, r := range p.Manifest.Requires {
			if !seen[r.Name] {
				t.Errorf("%s comes before an app of type %s it requires", p.Name, r.Name)
			}
		}
		seen[p.Manifest.Is] = true
	}
	if len(out) != len(pkgs) {
		t.Errorf("ordered %d of %d apps", len(out), len(pkgs))
	}
}
