package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wild-cloud/wild/internal/render"
)

func writePkg(t *testing.T, dir, name string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, name), 0o755)
	os.WriteFile(filepath.Join(dir, name, ManifestFile), []byte("name: "+name+"\nversion: 1.0.0\ndescription: x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, name, "a.yaml"), []byte("a: 1\n"), 0o644)
}

// Issue 10 items 8 and 11: one rule for symlinks (inside the catalog:
// followed; outside: refused, by name), and capped, regular-only reads.
func TestSymlinksAndSizeCaps(t *testing.T) {
	outside := t.TempDir()
	writePkg(t, outside, "evil")
	os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("stolen: true\n"), 0o644)
	dir := t.TempDir()
	writePkg(t, dir, "good")
	writePkg(t, dir, "shared")
	os.Symlink(filepath.Join(outside, "evil"), filepath.Join(dir, "evil"))                        // package dir out
	os.Symlink(filepath.Join(dir, "shared"), filepath.Join(dir, "alias"))                         // package dir in (name mismatch: reported)
	os.Symlink(filepath.Join(dir, "shared", "a.yaml"), filepath.Join(dir, "good", "linked.yaml")) // file in
	writePkg(t, dir, "leaky")
	os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "leaky", "s.yaml")) // file out
	writePkg(t, dir, "zero")
	os.Remove(filepath.Join(dir, "zero", ManifestFile))
	os.Symlink("/dev/zero", filepath.Join(dir, "zero", ManifestFile))
	writePkg(t, dir, "huge")
	os.WriteFile(filepath.Join(dir, "huge", "big.yaml"), make([]byte, MaxFileSize+1), 0o644)

	c, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := c.List()
	if err == nil || !strings.Contains(err.Error(), "evil is a symlink to") || !strings.Contains(err.Error(), "outside the Wild Directory") {
		t.Fatalf("list error = %v", err)
	}
	if !strings.Contains(err.Error(), "zero") {
		t.Fatalf("a manifest linked to /dev/zero is not reported: %v", err)
	}
	var listed []string
	for _, p := range pkgs {
		listed = append(listed, p.Name)
	}
	if strings.Contains(strings.Join(listed, ","), "evil") || !strings.Contains(strings.Join(listed, ","), "good") {
		t.Fatalf("listed %v", listed)
	}
	if _, err := c.Get("evil"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("get evil: %v", err)
	}
	good, err := c.Get("good")
	if err != nil {
		t.Fatal(err)
	}
	files, err := good.Files()
	if err != nil || strings.Join(files, ",") != "a.yaml,linked.yaml,manifest.yaml" {
		t.Fatalf("good files = %v, %v (a link inside the catalog is followed)", files, err)
	}
	leaky, err := c.Get("leaky")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaky.Files(); err == nil || !strings.Contains(err.Error(), "s.yaml is a symlink to") {
		t.Fatalf("leaky files: %v", err)
	}
	if _, err := c.Get("zero"); err == nil || !strings.Contains(err.Error(), "outside the Wild Directory") {
		t.Fatalf("zero: %v", err)
	}
	writePkg(t, dir, "fifo")
	os.Remove(filepath.Join(dir, "fifo", ManifestFile))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo", ManifestFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("fifo"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("fifo: %v", err)
	}
	huge, err := c.Get("huge")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := huge.Compile(render.New(), map[string]any{}); err == nil || !strings.Contains(err.Error(), "MiB limit") {
		t.Fatalf("huge: %v", err)
	}
}

// The instance copy of a manifest always parses back, even when its
// defaultConfig aliases an anchor set elsewhere in the file.
func TestMarshalExpandsOutsideAliases(t *testing.T) {
	m, err := ParseManifest("anch/manifest.yaml", []byte("name: anch\nversion: 1.0.0\ndescription: &d some text\ndefaultConfig:\n  namespace: anch\n  web: *d\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest("anch/manifest.yaml", b); err != nil || strings.Contains(string(b), "*d") {
		t.Fatalf("marshalled manifest: %v\n%s", err, b)
	}
}
