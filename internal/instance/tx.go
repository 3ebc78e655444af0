package instance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/lazyre"
)

// Tx stages changes to several instance paths and applies them with a
// journal, so a crash at any point leaves the instance fully old (journal
// not yet written) or, after roll-forward, fully new.
//
// Layout: .tx/<id>/ holds staged files and dirs; .tx/<id>.journal lists the
// moves. Commit makes the stage durable, then writes the journal, then
// applies each move; every move is idempotent, so rollForward can replay a
// journal from any point.
//
// Durability costs three rounds of fsyncs per commit, each round run
// concurrently (so its fsyncs share the filesystem's journal commits):
//  1. the staged tree and .tx, so nothing the journal names can be lost;
//  2. the journal and .tx: the commit point. The journal is written in
//     place, not renamed, and carries a checksum, so a crash mid-write
//     leaves a journal that fails its checksum, which means nothing was
//     applied yet and is dropped. This fsync of .tx also makes the removal
//     of the previous journal durable before any of this commit's moves,
//     so a finished journal can never come back and undo a later commit;
//  3. the directories the moves changed, before the journal is removed.
type Tx struct {
	inst  *Instance
	id    string
	ops   []txOp
	done  bool
	stage string
}

type txOp struct {
	Kind   string `json:"kind"` // file, dir, remove
	Staged string `json:"staged,omitempty"`
	Target string `json:"target"`
}

func (i *Instance) begin() (*Tx, error) {
	id := newID()[:12]
	stage := i.Path(txDir, id)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	return &Tx{inst: i, id: id, stage: stage}, nil
}

func (tx *Tx) checkRel(rel string) error { return tx.inst.checkTarget(rel) }

// checkTarget refuses a path that would land outside the instance
// directory or inside the transaction area: absolute, "..", or through a
// symlink. It runs when a change is staged and again when a journal is
// replayed, since a journal on disk may have been crafted.
func (i *Instance) checkTarget(rel string) error {
	clean := filepath.Clean(rel)
	if rel == "" || filepath.IsAbs(rel) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || clean != rel {
		return fmt.Errorf("path %q escapes the instance directory", rel)
	}
	first := strings.SplitN(clean, "/", 2)[0]
	if first == txDir || first == quarantineDir {
		return fmt.Errorf("path %q is inside wild's transaction area", rel)
	}
	dir := i.Dir
	parts := strings.Split(clean, "/")
	for _, part := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, part)
		st, err := os.Lstat(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 || !st.IsDir() {
			return fmt.Errorf("path %q goes through %s, which is not a plain directory (a symlink?); wild writes only inside the instance directory", rel, dir)
		}
	}
	return nil
}

var stagedName = lazyre.New(`^[fd][0-9]+$`)

// checkJournal validates every op of a journal before any is applied.
func (i *Instance) checkJournal(ops []txOp) error {
	for _, op := range ops {
		switch op.Kind {
		case "file", "dir":
			if !stagedName().MatchString(op.Staged) {
				return fmt.Errorf("staged name %q is not one wild writes", op.Staged)
			}
		case "remove":
			if op.Staged != "" {
				return fmt.Errorf("a remove op names a staged path %q", op.Staged)
			}
		default:
			return fmt.Errorf("unknown op %q", op.Kind)
		}
		if err := i.checkTarget(op.Target); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile stages a file.
func (tx *Tx) WriteFile(rel string, data []byte, perm os.FileMode) error {
	if err := tx.checkRel(rel); err != nil {
		return err
	}
	staged := fmt.Sprintf("f%d", len(tx.ops))
	// The stage is private until the journal names it, so a plain write is
	// enough here: Commit syncs the whole stage in one round, and atomicity
	// comes from the rename.
	if err := writeNew(filepath.Join(tx.stage, staged), data, perm); err != nil {
		return err
	}
	tx.ops = append(tx.ops, txOp{Kind: "file", Staged: staged, Target: rel})
	return nil
}

// ReplaceDir stages a directory built by build.
func (tx *Tx) ReplaceDir(rel string, build func(dir string) error) error {
	if err := tx.checkRel(rel); err != nil {
		return err
	}
	staged := fmt.Sprintf("d%d", len(tx.ops))
	dir := filepath.Join(tx.stage, staged)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := build(dir); err != nil {
		return err
	}
	tx.ops = append(tx.ops, txOp{Kind: "dir", Staged: staged, Target: rel})
	return nil
}

// RemoveAll stages removal of a path.
func (tx *Tx) RemoveAll(rel string) {
	if tx.checkRel(rel) == nil {
		tx.ops = append(tx.ops, txOp{Kind: "remove", Target: rel})
	}
}

// Commit applies the staged changes.
func (tx *Tx) Commit() error {
	if len(tx.ops) == 0 {
		return nil
	}
	b, err := encodeJournal(tx.ops)
	if err != nil {
		return err
	}
	staged, err := fsutil.Tree(tx.stage)
	if err != nil {
		return err
	}
	if err := fsutil.SyncPaths(append(staged, tx.inst.Path(txDir), tx.inst.Dir)...); err != nil {
		return err
	}
	crashpoint.Hit("before-journal")
	if err := tx.writeJournal(b); err != nil {
		return err
	}
	crashpoint.Hit("after-journal")
	if err := tx.inst.replay(tx.id, tx.ops); err != nil {
		return fmt.Errorf("commit changes (they will be finished by the next wild command): %w", err)
	}
	tx.done = true
	return nil
}

func (tx *Tx) journal() string { return tx.inst.Path(txDir, tx.id+".journal") }

// writeJournal is the commit point (round 2 above).
func (tx *Tx) writeJournal(b []byte) error {
	if err := writeNew(tx.journal(), b, 0o600); err != nil {
		return err
	}
	return fsutil.SyncPaths(tx.journal(), tx.inst.Path(txDir))
}

// journalFile is the journal on disk. Sum is the SHA-256 of Ops exactly
// as written, so a journal torn by a crash is told from a whole one.
// Journals written by earlier versions are a bare array of ops (they were
// renamed into place, so never torn).
type journalFile struct {
	Sum string          `json:"sum"`
	Ops json.RawMessage `json:"ops"`
}

func encodeJournal(ops []txOp) ([]byte, error) {
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return json.Marshal(journalFile{Sum: hex.EncodeToString(sum[:]), Ops: raw})
}

// errTornJournal marks a journal a crash cut short: it never reached its
// fsync, so none of its moves ran, and its transaction never happened.
var errTornJournal = errors.New("torn journal")

func decodeJournal(b []byte) ([]txOp, error) {
	var ops []txOp
	if trimmed := bytes.TrimSpace(b); len(trimmed) > 0 && trimmed[0] == '[' {
		return ops, json.Unmarshal(b, &ops)
	}
	var jf journalFile
	if err := json.Unmarshal(b, &jf); err != nil {
		if head := []byte(`{"sum":"`); bytes.HasPrefix(b, head) || bytes.HasPrefix(head, b) {
			return nil, errTornJournal
		}
		return nil, err
	}
	sum := sha256.Sum256(jf.Ops)
	if jf.Sum != hex.EncodeToString(sum[:]) {
		return nil, errTornJournal
	}
	return ops, json.Unmarshal(jf.Ops, &ops)
}

// cleanup removes the staging area of a transaction that was not
// committed. A committed one was cleaned by replay.
func (tx *Tx) cleanup() {
	if !tx.done {
		if _, err := os.Stat(tx.journal()); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(tx.stage)
		}
	}
}

func (i *Instance) replay(id string, ops []txOp) error {
	stage := i.Path(txDir, id)
	trash := i.Path(txDir, id+".trash")
	changed := map[string]bool{}
	for n, op := range ops {
		if err := applyOp(i, stage, trash, n, op); err != nil {
			return err
		}
		// applyOp may have created the target's parents too.
		for d := filepath.Dir(i.Path(op.Target)); !changed[d] && strings.HasPrefix(d, i.Dir); d = filepath.Dir(d) {
			changed[d] = true
		}
		crashpoint.Hit(fmt.Sprintf("after-op-%d", n))
	}
	dirs := make([]string, 0, len(changed))
	for d := range changed {
		dirs = append(dirs, d)
	}
	if err := fsutil.SyncPaths(dirs...); err != nil {
		return err
	}
	if err := os.Remove(i.Path(txDir, id+".journal")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.RemoveAll(trash)
	os.RemoveAll(stage)
	return nil
}

func applyOp(i *Instance, stage, trash string, n int, op txOp) error {
	target := i.Path(op.Target)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	switch op.Kind {
	case "file":
		return moveIfPresent(filepath.Join(stage, op.Staged), target)
	case "dir":
		staged := filepath.Join(stage, op.Staged)
		if _, err := os.Stat(staged); errors.Is(err, os.ErrNotExist) {
			return nil // already moved in by an earlier run
		}
		if err := moveAside(target, trash, n); err != nil {
			return err
		}
		return moveIfPresent(staged, target)
	case "remove":
		return moveAside(target, trash, n)
	}
	return fmt.Errorf("unknown journal op %q", op.Kind)
}

func moveIfPresent(from, to string) error {
	err := os.Rename(from, to)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func moveAside(target, trash string, n int) error {
	if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(trash, 0o755); err != nil {
		return err
	}
	return os.Rename(target, filepath.Join(trash, fmt.Sprint(n)))
}

// rollForward replays every journal left by a crash and drops staging
// areas that never reached their journal. Callers hold the locks.
func (i *Instance) rollForward() error {
	entries, err := os.ReadDir(i.Path(txDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var journals []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".journal") {
			journals = append(journals, strings.TrimSuffix(e.Name(), ".journal"))
		}
	}
	sort.Strings(journals)
	for _, id := range journals {
		b, err := os.ReadFile(i.Path(txDir, id+".journal"))
		if err != nil {
			return err
		}
		ops, err := decodeJournal(b)
		if errors.Is(err, errTornJournal) {
			if err := os.Remove(i.Path(txDir, id+".journal")); err != nil {
				return err
			}
			continue // its stage goes with the other strays below
		}
		if err == nil {
			err = i.checkJournal(ops)
		}
		if err != nil {
			return i.quarantine(id, err)
		}
		if err := i.replay(id, ops); err != nil {
			return err
		}
	}
	return removeStrayStages(i, entries)
}

// quarantine moves a journal that fails its checks (and its staging
// area) out of the way, so it is never replayed, and says where it went.
func (i *Instance) quarantine(id string, cause error) error {
	dst := i.Path(quarantineDir, id+"-"+newID()[:8])
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	for _, name := range []string{id + ".journal", id, id + ".trash"} {
		if err := os.Rename(i.Path(txDir, name), filepath.Join(dst, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("refused transaction journal %s: %v; nothing of it was applied, it was moved to %s (inspect it, then delete it)", id, cause, dst)
}

func removeStrayStages(i *Instance, entries []os.DirEntry) error {
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".journal") {
			continue
		}
		base := strings.TrimSuffix(name, ".trash")
		if _, err := os.Stat(i.Path(txDir, base+".journal")); err == nil {
			continue
		}
		if err := os.RemoveAll(i.Path(txDir, name)); err != nil {
			return err
		}
	}
	return nil
}

func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
