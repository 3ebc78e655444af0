package scaffold_test

import (
	"os"
	"testing"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/catalog/lint"
	"github.com/wild-cloud/wild/internal/catalog/scaffold"
	"github.com/wild-cloud/wild/internal/render"
)

func TestNewPackagePassesLintAndCompiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := scaffold.Write(dir, scaffold.Options{Name: "notes"}); err != nil {
		t.Fatal(err)
	}
	r, err := lint.Directory(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if r.Packages != 1 {
		t.Fatalf("packages = %d", r.Packages)
	}
	for _, f := range r.Findings {
		t.Errorf("%s", f)
	}
	cat, err := catalog.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cat.Get("notes")
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"namespace": "notes", "image": "x", "port": "8080", "storage": "1Gi", "domain": "notes.example.com", "externalDnsTarget": "example.com", "tlsSecretName": "wildcard-wild-cloud-tls"}
	if _, err := p.Compile(render.New(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := scaffold.Write(dir, scaffold.Options{Name: "notes"}); err == nil {
		t.Error("an existing package was overwritten")
	}
	if _, err := scaffold.Write(dir, scaffold.Options{Name: "../x"}); err == nil {
		t.Error("an invalid name was accepted")
	}
}
