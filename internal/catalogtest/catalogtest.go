// Package catalogtest gives tests a writable copy of the bundled catalog,
// so a test can publish a newer package the way a catalog update would.
package catalogtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/catalog"
)

// Copy copies the bundled catalog to a temporary directory and returns it
// with a loader that reads it afresh on every call.
func Copy(t testing.TB) (string, func() (*catalog.Catalog, error)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "catalog")
	if err := os.CopyFS(dir, directory.FS); err != nil {
		t.Fatal(err)
	}
	return dir, func() (*catalog.Catalog, error) { return catalog.OpenDir(dir) }
}

// Edit rewrites a catalog file with replacements (old, new, old, new...);
// each old text must be there.
func Edit(t testing.TB, file string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%s has no %q", file, pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
