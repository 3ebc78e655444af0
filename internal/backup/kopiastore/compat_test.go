package kopiastore

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kopia/kopia/repo/manifest"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/restore"
	"github.com/kopia/kopia/snapshot/snapshotfs"

	"github.com/wild-cloud/wild/internal/backup"
)

// TestKopiaCanRestore reads a backup the way the kopia CLI does ("kopia
// snapshot list", "kopia snapshot restore"), with kopia's own code, so an
// operator can recover without Wild.
func TestKopiaCanRestore(t *testing.T) {
	r := newFSRepo(t)
	s := open(t, r.options(testPassword))
	dump, dumpSum := genStream("postgres/listmonk.dump", 5, 3<<20, true)
	snap := save(t, s, src, nil, dump, bytesStream("config/config.yaml", []byte("app: listmonk\n")))

	sources, err := snapshot.ListSources(t.Context(), s.rep)
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 1 || sources[0].String() != "wild@home:listmonk" {
		t.Errorf("kopia sources = %v, want [wild@home:listmonk]", sources)
	}
	man, err := snapshot.LoadSnapshot(t.Context(), s.rep, manifest.ID(snap.ID))
	if err != nil {
		t.Fatal(err)
	}
	root, err := snapshotfs.SnapshotRoot(s.rep, man)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "restored")
	out := &restore.FilesystemOutput{TargetPath: target, SkipOwners: true}
	if err := out.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	// As "kopia snapshot restore" does without --shallow.
	stats, err := restore.Entry(t.Context(), s.rep, out, root, restore.Options{RestoreDirEntryAtDepth: math.MaxInt32})
	if err != nil {
		t.Fatalf("kopia restore: %v", err)
	}
	if stats.RestoredFileCount != 2 {
		t.Errorf("kopia restored %d files, want 2", stats.RestoredFileCount)
	}
	f, err := os.Open(filepath.Join(target, "postgres", "listmonk.dump"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f) //nolint:errcheck
	if got := hex.EncodeToString(h.Sum(nil)); got != dumpSum {
		t.Errorf("kopia-restored dump checksum %s, want %s", got, dumpSum)
	}
	cfg, err := os.ReadFile(filepath.Join(target, "config", "config.yaml"))
	if err != nil || string(cfg) != "app: listmonk\n" {
		t.Errorf("kopia-restored config = %q, %v", cfg, err)
	}
	if snap.Source != (backup.Source{Instance: "home", App: "listmonk"}) {
		t.Errorf("source = %+v", snap.Source)
	}
}
