package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFilesAtomic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "sub", "b.json")
	os.Mkdir(filepath.Dir(b), 0o755)
	if err := os.WriteFile(a, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFilesAtomic([]File{{Path: a, Data: []byte("new a"), Perm: 0o600}, {Path: b, Data: []byte("new b"), Perm: 0o600}}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{a: "new a", b: "new b"} {
		got, err := os.ReadFile(p)
		st, _ := os.Stat(p)
		if err != nil || string(got) != want || st.Mode().Perm() != 0o600 {
			t.Errorf("%s = %q %v %v, want %q 0600", p, got, st.Mode(), err, want)
		}
	}
	assertNoTemp(t, dir)

	// A file that cannot be written stops the batch before any rename.
	missing := filepath.Join(dir, "nodir", "c.json")
	if err := WriteFilesAtomic([]File{{Path: a, Data: []byte("newer"), Perm: 0o600}, {Path: missing, Data: []byte("c"), Perm: 0o600}}); err == nil {
		t.Fatal("no error for a file in a missing directory")
	}
	if got, _ := os.ReadFile(a); string(got) != "new a" {
		t.Fatalf("a failed batch replaced a.json: %q", got)
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}
