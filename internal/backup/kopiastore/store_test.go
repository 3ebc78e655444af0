package kopiastore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/testutil/s3server"
)

const testPassword = "correct horse battery staple"

var src = backup.Source{Instance: "home", App: "listmonk"}

// genReader produces size bytes derived from seed without holding them:
// random bytes (incompressible), or dump-like text rows when text is set.
type genReader struct {
	rng  *rand.ChaCha8
	left int64
	text bool
	buf  []byte
	row  int
}

func newGen(seed uint64, size int64, text bool) *genReader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return &genReader{rng: rand.NewChaCha8(s), left: size, text: text}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	var n int
	if g.text {
		n = g.readText(p)
	} else {
		n, _ = g.rng.Read(p)
	}
	g.left -= int64(n)
	return n, nil
}

func (g *genReader) readText(p []byte) int {
	n := 0
	for n < len(p) {
		if len(g.buf) == 0 {
			g.row++
			g.buf = fmt.Appendf(nil, "%d\tsubscriber-%d@example.org\t%x\tenabled\n", g.row, g.rng.Uint64()%100000, g.rng.Uint64())
		}
		c := copy(p[n:], g.buf)
		g.buf = g.buf[c:]
		n += c
	}
	return n
}

// genStream is a stream of generated data and the checksum it must have.
func genStream(name string, seed uint64, size int64, text bool) (backup.Stream, string) {
	h := sha256.New()
	io.Copy(h, newGen(seed, size, text)) //nolint:errcheck
	return backup.Stream{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(newGen(seed, size, text)), nil
	}}, hex.EncodeToString(h.Sum(nil))
}

func bytesStream(name string, data []byte) backup.Stream {
	return backup.Stream{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

type fsRepo struct {
	repoDir, configDir string
}

func newFSRepo(t *testing.T) fsRepo {
	d := t.TempDir()
	return fsRepo{repoDir: filepath.Join(d, "repo"), configDir: filepath.Join(d, "config")}
}

func (r fsRepo) options(password string) Options {
	return Options{Path: r.repoDir, Password: password, ConfigDir: r.configDir}
}

func open(t *testing.T, opt Options) *Store {
	t.Helper()
	s, err := Connect(t.Context(), opt)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) }) //nolint:errcheck
	return s
}

func save(t *testing.T, s *Store, src backup.Source, tags map[string]string, streams ...backup.Stream) backup.Snapshot {
	t.Helper()
	snap, err := s.Save(t.Context(), src, tags, streams, nil)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	return snap
}

func checksum(t *testing.T, s *Store, id, name string) string {
	t.Helper()
	r, err := s.Open(t.Context(), id, name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertNowhere fails if marker occurs in any file under the dirs.
func assertNowhere(t *testing.T, marker []byte, dirs ...string) {
	t.Helper()
	files := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			if bytes.Contains(b, marker) {
				t.Errorf("plaintext marker found in %s", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files == 0 {
		t.Fatalf("no files under %v: nothing was checked", dirs)
	}
}

// markerData is compressible text that repeats marker: compression alone
// would keep it readable, only encryption hides it.
func markerData(marker string) []byte {
	var b bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&b, "%d\t%s\tsecret row\n", i, marker)
	}
	return b.Bytes()
}

// roundTrip saves several streams and reads them back byte for byte.
func roundTrip(t *testing.T, s *Store) backup.Snapshot {
	t.Helper()
	dump, dumpSum := genStream("postgres/listmonk.dump", 1, 6<<20+123, true)
	vol, volSum := genStream("volume/uploads/data.tar", 2, 3<<20, false)
	secrets := []byte("smtp:\n  password: hunter2\n")
	empty := bytesStream("config/empty.txt", nil)

	var calls atomic.Int64
	var last backup.Progress
	snap, err := s.Save(t.Context(), src, map[string]string{"reason": "test"},
		[]backup.Stream{dump, vol, bytesStream("config/secrets.yaml", secrets), empty},
		func(p backup.Progress) { calls.Add(1); last = p })
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	total := int64(6<<20 + 123 + 3<<20 + len(secrets))
	if calls.Load() < 9 || last.Bytes != total {
		t.Errorf("progress: %d calls, last %+v; want >= 9 calls ending at %d bytes", calls.Load(), last, total)
	}
	want := []backup.File{
		{Name: "config/empty.txt", Size: 0},
		{Name: "config/secrets.yaml", Size: int64(len(secrets))},
		{Name: "postgres/listmonk.dump", Size: 6<<20 + 123},
		{Name: "volume/uploads/data.tar", Size: 3 << 20},
	}
	if fmt.Sprint(snap.Files) != fmt.Sprint(want) {
		t.Errorf("files = %v, want %v", snap.Files, want)
	}
	if snap.Source != src || snap.Tags["reason"] != "test" || len(snap.Tags) != 1 {
		t.Errorf("source/tags = %+v %v", snap.Source, snap.Tags)
	}
	if snap.Stats.Bytes != total || snap.Stats.NewBytes <= 0 {
		t.Errorf("stats = %+v, want bytes %d and some new bytes", snap.Stats, total)
	}
	if time.Since(snap.Time) > time.Minute || snap.ID == "" {
		t.Errorf("id %q time %v", snap.ID, snap.Time)
	}
	for name, sum := range map[string]string{"postgres/listmonk.dump": dumpSum, "volume/uploads/data.tar": volSum} {
		if got := checksum(t, s, snap.ID, name); got != sum {
			t.Errorf("%s: checksum %s, want %s", name, got, sum)
		}
	}
	r, err := s.Open(t.Context(), snap.ID, "config/secrets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, secrets) {
		t.Errorf("secrets.yaml = %q", got)
	}
	return snap
}

func TestRoundTripFilesystem(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	snap := roundTrip(t, s)

	// Reopened (as the next wild command would), the backup is still there.
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, r.options(testPassword))
	got, err := s2.Get(t.Context(), snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(snap) {
		t.Errorf("after reopen: %+v, want %+v", got, snap)
	}
	if _, err := s2.Open(t.Context(), snap.ID, "config/nope"); !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("open missing file: %v, want ErrNotFound", err)
	}
	if _, err := s2.Get(t.Context(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("get missing snapshot: %v, want ErrNotFound", err)
	}
}

func TestRoundTripS3(t *testing.T) {
	srv := s3server.Start(t)
	srv.CreateBucket(t, "wild-backups")
	opt := Options{
		S3: &S3{
			Endpoint: srv.Endpoint, Bucket: "wild-backups", Prefix: "home/", Region: srv.Region,
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Insecure: true,
		},
		Password:  testPassword,
		ConfigDir: t.TempDir(),
	}
	s := open(t, opt)
	roundTrip(t, s)

	marker := "WILD-S3-MARKER-7d0c9e1f"
	save(t, s, src, nil, bytesStream("postgres/rows.sql", markerData(marker)))
	if n := dirSize(t, filepath.Join(srv.Dir, "wild-backups", "home")); n < 3<<20 {
		t.Errorf("bucket holds %d bytes under the prefix, want the backups (> 3 MiB of random data)", n)
	}
	assertNowhere(t, []byte(marker), srv.Dir)

	opt.Password = "not the password"
	if _, err := Connect(t.Context(), opt); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("wrong password on S3: %v", err)
	}
}

func TestDedup(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	const size = 50 << 20
	stream, _ := genStream("volume/blob.bin", 42, size, false)

	first := save(t, s, src, nil, stream)
	afterFirst := dirSize(t, r.repoDir)
	second := save(t, s, src, nil, stream)
	afterSecond := dirSize(t, r.repoDir)

	if first.Stats.NewBytes < size*9/10 {
		t.Errorf("first backup stored %d new bytes, want about %d (random data)", first.Stats.NewBytes, size)
	}
	if second.Stats.NewBytes >= size/100 {
		t.Errorf("second backup of the same data stored %d new bytes, want < 1%% of %d", second.Stats.NewBytes, size)
	}
	if grew := afterSecond - afterFirst; grew >= size/100 {
		t.Errorf("repository grew by %d bytes on disk for an unchanged backup, want < 1%% of %d", grew, size)
	}
	t.Logf("first: %d new bytes, second: %d new bytes; repository %d -> %d bytes", first.Stats.NewBytes, second.Stats.NewBytes, afterFirst, afterSecond)
}

func TestCompression(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	const size = 20 << 20
	stream, _ := genStream("postgres/app.dump", 7, size, true)
	snap := save(t, s, src, nil, stream)
	if snap.Stats.NewBytes > size/2 {
		t.Errorf("dump-like text stored %d bytes of %d: not compressed", snap.Stats.NewBytes, size)
	}
}

func TestEncryption(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	marker := "WILD-PLAINTEXT-MARKER-3f6a2b"
	save(t, s, src, map[string]string{"note": "nightly"}, bytesStream("postgres/rows.sql", markerData(marker)))
	assertNowhere(t, []byte(marker), r.repoDir, r.configDir)
	assertNowhere(t, []byte(testPassword), r.repoDir, r.configDir)
}

func TestPassword(t *testing.T) {
	r := newFSRepo(t)
	if _, err := Connect(t.Context(), r.options("")); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("empty password: %v, want ErrNoPassword", err)
	}
	if _, err := os.Stat(r.repoDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty password created the repository: %v", err)
	}
	s := open(t, r.options(testPassword))
	save(t, s, src, nil, bytesStream("config/a", []byte("a")))
	s.Close(t.Context()) //nolint:errcheck

	_, err := Connect(t.Context(), r.options("guess"))
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v, want ErrWrongPassword", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "guess") || strings.Contains(msg, testPassword) {
		t.Errorf("error must be one line without passwords: %q", msg)
	}
	// The right password still works after a refused one.
	s = open(t, r.options(testPassword))
	if snaps, err := s.List(t.Context(), src); err != nil || len(snaps) != 1 {
		t.Errorf("list after wrong password: %v %v", snaps, err)
	}
}

// endless is a producer that never ends by itself, like a dump of a huge
// database, and records whether it was closed.
type endless struct {
	g      *genReader
	closed atomic.Bool
}

func (e *endless) Read(p []byte) (int, error) { return e.g.Read(p) }
func (e *endless) Close() error               { e.closed.Store(true); return nil }

func TestCancelMidStream(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	prod := &endless{g: newGen(9, 1<<62, false)}
	stream := backup.Stream{Name: "postgres/huge.dump", Open: func(context.Context) (io.ReadCloser, error) { return prod, nil }}

	var seen atomic.Int64
	start := time.Now()
	_, err := s.Save(ctx, src, nil, []backup.Stream{stream}, func(p backup.Progress) {
		seen.Store(p.Bytes)
		if p.Bytes >= 8<<20 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled save: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if n := seen.Load(); n > 64<<20 {
		t.Errorf("read %d bytes after cancel at 8 MiB", n)
	}
	if !prod.closed.Load() {
		t.Errorf("producer not closed after cancel")
	}
	if snaps, err := s.List(t.Context(), src); err != nil || len(snaps) != 0 {
		t.Errorf("after cancel: %d snapshots (%v), want none", len(snaps), err)
	}
}

// failing is a producer whose Close reports the dump's failure after all
// of its (incomplete) output was read.
type failing struct{ io.Reader }

func (failing) Close() error { return errors.New("pg_dump exited 1: connection lost") }

func TestProducerFailureFailsSnapshot(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	good, _ := genStream("config/ok", 1, 1000, true)
	cases := map[string]backup.Stream{
		"close error": {Name: "postgres/app.dump", Open: func(context.Context) (io.ReadCloser, error) {
			return failing{bytes.NewReader([]byte("partial dump"))}, nil
		}},
		"open error": {Name: "postgres/app.dump", Open: func(context.Context) (io.ReadCloser, error) {
			return nil, errors.New("pod listmonk-db-0 not running")
		}},
		"read error": {Name: "postgres/app.dump", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader([]byte("abc")), iotestErr{})), nil
		}},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.Save(t.Context(), src, nil, []backup.Stream{good, bad}, nil)
			if err == nil {
				t.Fatal("save succeeded with a failed producer")
			}
			if !strings.Contains(err.Error(), "postgres/app.dump") {
				t.Errorf("error does not name the stream: %v", err)
			}
			if snaps, _ := s.List(t.Context(), src); len(snaps) != 0 {
				t.Errorf("failed save left %d snapshots", len(snaps))
			}
		})
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("exec stream reset") }

func TestSaveRejectsBadInput(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	ok := bytesStream("config/a", []byte("a"))
	cases := map[string]struct {
		src     backup.Source
		tags    map[string]string
		streams []backup.Stream
	}{
		"no streams":    {src: src},
		"bad app":       {src: backup.Source{Instance: "home", App: "../x"}, streams: []backup.Stream{ok}},
		"dotdot name":   {src: src, streams: []backup.Stream{bytesStream("../etc/passwd", nil)}},
		"absolute name": {src: src, streams: []backup.Stream{bytesStream("/etc/passwd", nil)}},
		"duplicate":     {src: src, streams: []backup.Stream{ok, ok}},
		"file and dir":  {src: src, streams: []backup.Stream{ok, bytesStream("config/a/b", nil)}},
		"reserved tag":  {src: src, tags: map[string]string{"wild-new-bytes": "1"}, streams: []backup.Stream{ok}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Save(t.Context(), tc.src, tc.tags, tc.streams, nil); err == nil {
				t.Error("accepted")
			}
		})
	}
	if snaps, _ := s.List(t.Context(), src); len(snaps) != 0 {
		t.Errorf("rejected saves left %d snapshots", len(snaps))
	}
}

func TestListFiltersBySource(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	other := []backup.Source{{Instance: "home", App: "ghost"}, {Instance: "work", App: "listmonk"}}
	var mine []string
	for i := range 3 {
		snap := save(t, s, src, map[string]string{"n": fmt.Sprint(i)}, bytesStream("config/a", []byte{byte(i)}))
		mine = append([]string{snap.ID}, mine...)
		time.Sleep(10 * time.Millisecond) // distinct start times
	}
	for _, o := range other {
		save(t, s, o, nil, bytesStream("config/a", []byte("other")))
	}
	snaps, err := s.List(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, sn := range snaps {
		got = append(got, sn.ID)
		if sn.Source != src {
			t.Errorf("listed a snapshot of %+v", sn.Source)
		}
		if want := fmt.Sprint(2 - i); sn.Tags["n"] != want {
			t.Errorf("snapshot %d has tag n=%q, want %q (newest first)", i, sn.Tags["n"], want)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(mine) {
		t.Errorf("list = %v, want %v (newest first)", got, mine)
	}
	for _, o := range other {
		if snaps, _ := s.List(t.Context(), o); len(snaps) != 1 {
			t.Errorf("%+v: %d snapshots, want 1", o, len(snaps))
		}
	}
}

func TestDeleteAndMaintain(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	const size = 20 << 20
	a, _ := genStream("volume/a.bin", 100, size, false)
	b, bSum := genStream("volume/b.bin", 200, size, false)
	old := save(t, s, src, nil, a)
	keep := save(t, s, src, nil, b)
	before := dirSize(t, r.repoDir)

	if err := s.Delete(t.Context(), old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), old.ID); !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), old.ID); !errors.Is(err, backup.ErrNotFound) {
		t.Errorf("delete twice: %v, want ErrNotFound", err)
	}
	if err := s.Maintain(t.Context(), MaintainOptions{Full: true, NoSafetyMargin: true}); err != nil {
		t.Fatal(err)
	}
	after := dirSize(t, r.repoDir)
	if freed := before - after; freed < size*9/10 {
		t.Errorf("maintenance freed %d bytes (%d -> %d), want about %d", freed, before, after, size)
	}
	if got := checksum(t, s, keep.ID, "volume/b.bin"); got != bSum {
		t.Errorf("kept snapshot damaged by maintenance: %s, want %s", got, bSum)
	}
	snaps, err := s.List(t.Context(), src)
	if err != nil || len(snaps) != 1 || snaps[0].ID != keep.ID {
		t.Errorf("list after delete = %v %v, want only %s", snaps, err, keep.ID)
	}
	t.Logf("repository %d -> %d bytes", before, after)
}
