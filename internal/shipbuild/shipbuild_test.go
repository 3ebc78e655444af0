package shipbuild

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// tinyProgram writes a module whose program prints word.
func tinyProgram(t *testing.T, root, word string) {
	t.Helper()
	files := map[string]string{
		"go.mod": "module tiny\n\ngo 1.22\n",
		// net/http makes a file of megabytes, which takes go build long
		// enough to copy that a reader can catch a part-written one.
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nvar _ = http.ListenAndServe\n\nfunc main() { fmt.Println(\"" + word + "\") }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func install(t *testing.T, root, path string) {
	t.Helper()
	if err := Install("go", root, path, ".", func() {}); err != nil {
		t.Fatal(err)
	}
}

func runs(t *testing.T, path, want string) {
	t.Helper()
	out, err := exec.Command(path).Output()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("%s printed %q (%v), want %q", path, out, err, want)
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestInstallReplacesTheProgramWhole(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "bin", "tiny")
	tinyProgram(t, root, "one")
	install(t, root, path)
	runs(t, path, "one")
	first, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	// Up to date: the same file stays in place.
	install(t, root, path)
	if again, err := os.Stat(path); err != nil || !os.SameFile(first, again) {
		t.Fatalf("an up-to-date install replaced %s (%v)", path, err)
	}

	// A new build is a new file: one opened before (a running program's)
	// keeps every byte it had.
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	before, beforeSize := sum(t, path), size(t, path)
	tinyProgram(t, root, "two")
	// go build copies its output (instead of renaming it) when its work
	// directory is on another file system: the case that wrote in place.
	t.Setenv("GOTMPDIR", otherFS(t))
	seen := watch(path)
	install(t, root, path)
	observed := seen()
	runs(t, path, "two")
	afterSize := size(t, path)
	for n := range observed {
		if n != beforeSize && n != afterSize {
			t.Fatalf("a reader found %s neither the old program nor the new one (missing or part-written)", path)
		}
	}
	if after := sum(t, "/proc/self/fd/"+strconv.FormatUint(uint64(old.Fd()), 10)); after != before {
		t.Fatal("the install wrote into the file the old program runs from")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestInstallWaitsForAnotherBuild(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "bin", "tiny")
	tinyProgram(t, root, "one")
	install(t, root, path)
	other := flock.New(filepath.Join(root, "bin", ".tiny.lock"))
	if err := other.Lock(); err != nil {
		t.Fatal(err)
	}
	tinyProgram(t, root, "two")
	waiting, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- Install("go", root, path, ".", func() { close(waiting) }) }()
	select {
	case <-waiting:
	case err := <-done:
		t.Fatalf("Install did not wait for the lock's holder (err %v)", err)
	case <-time.After(time.Minute):
		t.Fatal("Install neither waited nor finished")
	}
	runs(t, path, "one") // nothing changes while the other build holds it
	if err := other.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runs(t, path, "two")
}

func TestInstallReportsABuildFailure(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "bin", "tiny")
	tinyProgram(t, root, "one")
	install(t, root, path)
	if err := os.WriteFile(filepath.Join(root, "main.go"), []byte("package main\n\nfunc main() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Install("go", root, path, ".", func() {})
	if err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("want the compiler's error, got %v", err)
	}
	runs(t, path, "one") // the installed program is untouched
}

// otherFS is a directory on another file system than the test's
// temporary directory (tmpfs), for go build's work directory.
func otherFS(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "shipbuild-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// watch stats path over and over until the returned function is called,
// which returns the sizes it saw (-1 for a missing file). A stat is quick
// enough to catch the few milliseconds of a copy.
func watch(path string) func() map[int64]bool {
	stop, done := make(chan struct{}), make(chan map[int64]bool)
	go func() {
		seen := map[int64]bool{}
		for {
			select {
			case <-stop:
				done <- seen
				return
			default:
			}
			if fi, err := os.Stat(path); err != nil {
				seen[-1] = true
			} else {
				seen[fi.Size()] = true
			}
		}
	}()
	return func() map[int64]bool { close(stop); return <-done }
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
