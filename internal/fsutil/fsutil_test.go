package fsutil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

func TestLockWaitingWaitsWithoutLimitAndSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".build.lock")
	free, err := LockWaiting(context.Background(), path, func() { t.Error("wait called for a free lock") })
	if err != nil {
		t.Fatal(err)
	}
	free()

	// Another holder, past LockTimeout: LockWaiting must still be waiting.
	held, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func(old time.Duration) { LockTimeout = old }(LockTimeout)
	LockTimeout = 10 * time.Millisecond
	waiting, done := make(chan struct{}), make(chan error, 1)
	go func() {
		unlock, err := LockWaiting(context.Background(), path, func() { close(waiting) })
		if err == nil {
			unlock()
		}
		done <- err
	}()
	<-waiting
	select {
	case err := <-done:
		t.Fatalf("LockWaiting returned while the lock was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	held()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	held, err = Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := LockWaiting(ctx, path, func() {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockWaiting after its context ended: %v, want the context's error", err)
	}
}
