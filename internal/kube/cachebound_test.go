package kube

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestBuildMemoEvictsLeastRecentlyUsed: the in-process build cache keeps
// at most its bound, dropping the entry used longest ago.
func TestBuildMemoEvictsLeastRecentlyUsed(t *testing.T) {
	m := newBuildMemo(2)
	objs := keptBuild([]*unstructured.Unstructured{{Object: map[string]any{"kind": "ConfigMap"}}})
	m.Store("a", objs)
	m.Store("b", objs)
	if _, ok := m.Load("a"); !ok { // a is now the most recent
		t.Fatal("a missing before the bound is reached")
	}
	m.Store("c", objs)
	if m.Len() != 2 {
		t.Fatalf("kept %d builds, bound 2", m.Len())
	}
	if _, ok := m.Load("b"); ok {
		t.Error("b, the least recently used, was kept")
	}
	for _, k := range []string{"a", "c"} {
		if _, ok := m.Load(k); !ok {
			t.Errorf("%s was dropped", k)
		}
	}
}

func writeAged(t *testing.T, path string, size int, mod time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestPruneCacheDropsOldAndOverBudget: entries older than the age bound
// go, then the least recently used until the rest fit the size bound, and
// folders left empty go with them.
func TestPruneCacheDropsOldAndOverBudget(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	stale := filepath.Join(dir, "aa", "stale.json")
	older := filepath.Join(dir, "bb", "older.json")
	newer := filepath.Join(dir, "cc", "newer.json")
	newest := filepath.Join(dir, "cc", "newest.json")
	writeAged(t, stale, 10, now.Add(-40*24*time.Hour))
	writeAged(t, older, 100, now.Add(-3*time.Hour))
	writeAged(t, newer, 100, now.Add(-2*time.Hour))
	writeAged(t, newest, 100, now.Add(-time.Hour))

	pruneCache(dir, 30*24*time.Hour, 250, now)

	for path, want := range map[string]bool{stale: false, older: false, newer: true, newest: true} {
		if exists(path) != want {
			t.Errorf("%s kept = %v, want %v", filepath.Base(path), exists(path), want)
		}
	}
	for _, d := range []string{"aa", "bb"} {
		if exists(filepath.Join(dir, d)) {
			t.Errorf("emptied folder %s was kept", d)
		}
	}
	if !exists(dir) {
		t.Error("the cache folder itself was removed")
	}
}

// TestMaybePruneOncePerInterval: the walk happens when the last one is
// older than pruneEvery, and not again before.
func TestMaybePruneOncePerInterval(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := filepath.Join(dir, "x", "old.json")
	writeAged(t, old, 1, now.Add(-60*24*time.Hour))
	writeAged(t, filepath.Join(dir, pruneStamp), 0, now.Add(-time.Hour))

	maybePrune(dir, time.Hour, 1<<20, now)
	if !exists(old) {
		t.Fatal("pruned again within pruneEvery of the last prune")
	}
	maybePrune(dir, time.Hour, 1<<20, now.Add(pruneEvery))
	if exists(old) {
		t.Fatal("a stale entry survived a due prune")
	}
}

// TestBuildCacheRefreshesUsedEntries: reading a build from disk marks it
// used, so the age bound drops unused builds, not popular old ones.
func TestBuildCacheRefreshesUsedEntries(t *testing.T) {
	t.Setenv("WILD_CACHE_DIR", t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [cm.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildCached(dir); err != nil {
		t.Fatal(err)
	}
	key, err := contentKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	file := buildCacheFile(key)
	long := time.Now().Add(-20 * 24 * time.Hour)
	if err := os.Chtimes(file, long, long); err != nil {
		t.Fatal(err)
	}
	builds.Clear() // as a new process
	if _, err := BuildCached(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(st.ModTime()) > time.Hour {
		t.Errorf("a build read from disk still looks unused since %s", st.ModTime())
	}
}
