package kube

import (
	"container/list"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Bounds of Wild's caches. Builds are keyed by content, so every edit of
// an app leaves its old entry behind; discovery is kept per API server
// address, and every fresh dev cluster has a new port. Without bounds
// both grow for as long as the user keeps the machine.
const (
	// maxMemoryBuilds bounds the builds kept in one process (a daemon
	// lists every app constantly, each app one entry).
	maxMemoryBuilds = 512
	// buildsMaxAge drops a build not used for this long; buildsMaxBytes
	// bounds the folder, least recently used first.
	buildsMaxAge   = 30 * 24 * time.Hour
	buildsMaxBytes = 256 << 20
	// discoveryMaxAge drops discovery of clusters not asked for this long:
	// a cluster in use rewrites its entries at least every discoveryTTL.
	discoveryMaxAge   = 7 * 24 * time.Hour
	discoveryMaxBytes = 64 << 20
	// pruneEvery spaces the folder walks: one process in a day pays one.
	pruneEvery = 24 * time.Hour
	// touchAfter refreshes a build entry's time when read, so age means
	// time since last use, without a write on every hit.
	touchAfter = time.Hour
	// pruneStamp marks the last walk of a cache folder.
	pruneStamp = ".pruned"
)

// buildMemo is a least-recently-used map of key to build.
type buildMemo struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *memoEntry, most recent first
	index map[string]*list.Element
}

type memoEntry struct {
	key   string
	build *memoBuild
}

func newBuildMemo(max int) *buildMemo {
	return &buildMemo{max: max, order: list.New(), index: map[string]*list.Element{}}
}

// Load returns the stored build; callers copy before handing it out.
func (m *buildMemo) Load(key string) (*memoBuild, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.index[key]
	if !ok {
		return nil, false
	}
	m.order.MoveToFront(el)
	return el.Value.(*memoEntry).build, true
}

// Store keeps b under key, dropping the least recently used entry past
// the bound.
func (m *buildMemo) Store(key string, b *memoBuild) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.index[key]; ok {
		el.Value.(*memoEntry).build = b
		m.order.MoveToFront(el)
		return
	}
	m.index[key] = m.order.PushFront(&memoEntry{key, b})
	for m.order.Len() > m.max {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.index, last.Value.(*memoEntry).key)
	}
}

// Len is the number of builds kept.
func (m *buildMemo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// Clear forgets every build (as a new process would start).
func (m *buildMemo) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order.Init()
	clear(m.index)
}

// touch marks a cache file as used now, at most once per touchAfter.
func touch(file string, now time.Time) {
	st, err := os.Stat(file)
	if err == nil && now.Sub(st.ModTime()) > touchAfter {
		_ = os.Chtimes(file, now, now)
	}
}

// maybePrune prunes dir when its last prune is older than pruneEvery.
// Errors are ignored: a cache that cannot be pruned still works.
func maybePrune(dir string, maxAge time.Duration, maxBytes int64, now time.Time) {
	stamp := filepath.Join(dir, pruneStamp)
	if st, err := os.Stat(stamp); err == nil && now.Sub(st.ModTime()) < pruneEvery {
		return
	}
	if _, err := os.Stat(dir); err != nil {
		return
	}
	// The stamp first: concurrent processes then skip the walk.
	if err := os.WriteFile(stamp, nil, 0o600); err == nil {
		_ = os.Chtimes(stamp, now, now)
	}
	pruneCache(dir, maxAge, maxBytes, now)
}

type cacheFile struct {
	path string
	size int64
	mod  time.Time
}

// pruneCache removes files under dir older than maxAge, then the oldest
// until the rest fit in maxBytes, then the directories left empty. A
// reader that loses a file this way only rebuilds or asks the server
// again; entries are written by rename, so none is ever seen half gone.
func pruneCache(dir string, maxAge time.Duration, maxBytes int64, now time.Time) {
	var files []cacheFile
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir {
				dirs = append(dirs, p)
			}
			return nil
		}
		if d.Name() == pruneStamp && filepath.Dir(p) == dir {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		files = append(files, cacheFile{p, info.Size(), info.ModTime()})
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	var total int64
	for _, f := range files {
		total += f.size
		if now.Sub(f.mod) > maxAge || total > maxBytes {
			_ = os.Remove(f.path)
		}
	}
	// Deepest first, so a parent emptied by its children goes too.
	sort.Slice(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], string(os.PathSeparator)) > strings.Count(dirs[j], string(os.PathSeparator))
	})
	for _, d := range dirs {
		_ = os.Remove(d) // fails, as wanted, unless empty
	}
}
