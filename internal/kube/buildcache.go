package kube

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// buildCacheVersion changes whenever Build's output for the same files may
// change (a kustomize upgrade, a new cache format), so old entries are
// never read.
const buildCacheVersion = "wild-build/v1 kustomize/api v0.20"

// packageDir is the raw-package bookkeeping folder of a compiled app. The
// generated kustomization never reads it, so it is left out of the cache
// key unless a file mentions it (a hand edit that does).
const packageDir = ".package"

// builds memoizes builds in this process (Wild Central lists apps
// constantly); the disk cache serves one-shot CLI processes.
// Bounded: see cachebound.go.
var builds = newBuildMemo(maxMemoryBuilds) // never handed out

// BuildCached is Build, cached by the content of every file under dir.
// Kustomize loads only files under its root (the default load
// restrictions) and Build refuses remote bases, so equal content means an
// equal build. Callers get fresh objects they may modify. The cache is
// an optimization only: any cache failure falls back to building.
func BuildCached(dir string) ([]*unstructured.Unstructured, error) {
	key, err := contentKey(dir)
	if err != nil {
		return Build(dir)
	}
	if b, ok := builds.Load(key); ok {
		if objs, err := b.get(); err == nil {
			return deepCopies(objs), nil
		}
	}
	file := buildCacheFile(key)
	if raw, err := os.ReadFile(file); err == nil && file != "" {
		if objs, err := decodeObjects(raw); err == nil {
			builds.Store(key, encodedBuild(raw))
			touch(file, time.Now())
			return objs, nil
		}
	}
	objs, err := Build(dir)
	if err != nil {
		return nil, err
	}
	builds.Store(key, keptBuild(deepCopies(objs)))
	if raw, err := encodeObjects(objs); err == nil && file != "" {
		writeCacheFile(file, raw)
		maybePrune(filepath.Join(cacheDir(), "builds"), buildsMaxAge, buildsMaxBytes, time.Now())
	}
	return objs, nil
}

// memoBuild is a build kept in memory, never handed out. One read from
// the disk cache is kept encoded and decoded on its first reuse: a process
// that loads each build once, as most CLI commands do, never pays for a
// copy it would not use.
type memoBuild struct {
	once sync.Once
	raw  []byte
	objs []*unstructured.Unstructured
	err  error
}

func encodedBuild(raw []byte) *memoBuild { return &memoBuild{raw: raw} }

func keptBuild(objs []*unstructured.Unstructured) *memoBuild { return &memoBuild{objs: objs} }

func (b *memoBuild) get() ([]*unstructured.Unstructured, error) {
	b.once.Do(func() {
		if b.raw != nil {
			b.objs, b.err = decodeObjects(b.raw)
			b.raw = nil
		}
	})
	return b.objs, b.err
}

func deepCopies(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

func encodeObjects(objs []*unstructured.Unstructured) ([]byte, error) {
	list := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		b, err := o.MarshalJSON()
		if err != nil {
			return nil, err
		}
		list[i] = b
	}
	return json.Marshal(list)
}

// contentKey hashes the relative path and content of every regular file
// under dir; symlinks are hashed by their target's content.
func contentKey(dir string) (string, error) {
	files := map[string][]byte{}
	mentionsPackage := false
	walk := func(root string, skipPackage bool) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if d.IsDir() {
				if skipPackage && rel == packageDir {
					return filepath.SkipDir
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[filepath.ToSlash(rel)] = b
			mentionsPackage = mentionsPackage || bytes.Contains(b, []byte(packageDir))
			return nil
		})
	}
	if err := walk(dir, true); err != nil {
		return "", err
	}
	if mentionsPackage {
		if err := walk(filepath.Join(dir, packageDir), false); err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	h.Write([]byte(buildCacheVersion + "\x00"))
	for _, n := range names {
		// Length-prefixed, so names and contents cannot run into each other.
		writeField(h, []byte(n))
		writeField(h, files[n])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeField(h interface{ Write([]byte) (int, error) }, b []byte) {
	var n [8]byte
	for i := range n {
		n[i] = byte(uint64(len(b)) >> (8 * (7 - i)))
	}
	h.Write(n[:])
	h.Write(b)
}

func decodeObjects(raw []byte) ([]*unstructured.Unstructured, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(list))
	for i, b := range list {
		// unstructured's own decoder makes numbers int64, as Build does.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}

// buildCacheFile is where a build is kept on disk; "" when the user has no
// cache directory.
func buildCacheFile(key string) string {
	base := cacheDir()
	if base == "" {
		return ""
	}
	return filepath.Join(base, "builds", key[:2], key+".json")
}

// cacheDir holds Wild's caches (builds, discovery): WILD_CACHE_DIR, else
// the user's cache directory; "" when there is none.
func cacheDir() string {
	if d := os.Getenv("WILD_CACHE_DIR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "wild")
}

// writeCacheFile writes atomically (temp file and rename): a reader sees
// the old state or the whole entry, never half of it. Errors are ignored;
// the next run builds again.
func writeCacheFile(file string, raw []byte) {
	if file == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(raw)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), file) != nil {
		os.Remove(tmp.Name())
	}
}
