package backup

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/lazyre"
)

// heldSnapshot is a transaction held open in the database pod, whose
// snapshot other sessions (pg_dump --snapshot, the table sums) import:
// they then read the same rows, whatever is written meanwhile.
type heldSnapshot struct {
	id     string
	stdin  *io.PipeWriter
	done   chan error
	cancel context.CancelFunc
	once   sync.Once
}

// snapshotID is what pg_export_snapshot returns (e.g. 00000003-0000001B-1);
// it is checked before it reaches a command line.
var snapshotID = lazyre.New(`^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$`)

// exportWait bounds waiting for the snapshot's id: the session only runs
// one statement, so a longer wait means a stuck exec.
const exportWait = 2 * time.Minute

// exportSnapshot starts script (a session of database db reading SQL on
// stdin), begins a repeatable-read transaction in it, and returns once
// the transaction's exported snapshot id arrived. The transaction is
// held until release, or until ctx ends.
func (p podExec) exportSnapshot(ctx context.Context, script, db string) (*heldSnapshot, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	h := &heldSnapshot{stdin: pw, done: make(chan error, 1), cancel: cancel}
	first := &firstLine{got: make(chan string, 1)}
	var errb tailBuffer
	go func() {
		err := p.kube.Exec(ctx, kube.ExecOptions{Namespace: p.namespace, Pod: p.pod, Container: p.container,
			Command: []string{"sh", "-c", p.env + script, "sh", db}, Stdin: pr, Stdout: first, Stderr: &errb})
		if err != nil {
			err = p.unavailable(fmt.Errorf("%w: %s", err, lastLines(errb.String(), 5)))
		}
		pr.CloseWithError(io.ErrClosedPipe) // unblocks a write nobody reads
		h.done <- err
	}()
	go func() {
		_, _ = io.WriteString(pw, "begin transaction isolation level repeatable read read only;\nselect pg_export_snapshot();\n")
	}()
	timeout := time.NewTimer(exportWait)
	defer timeout.Stop()
	select {
	case id := <-first.got:
		if !snapshotID().MatchString(id) {
			h.release()
			return nil, fmt.Errorf("the server exported the snapshot %q, which is not a snapshot id", id)
		}
		h.id = id
		return h, nil
	case err := <-h.done:
		cancel()
		if err == nil {
			err = fmt.Errorf("the session ended before it exported a snapshot: %s", lastLines(errb.String(), 5))
		}
		return nil, err
	case <-timeout.C:
		h.release()
		return nil, p.unavailable(fmt.Errorf("no snapshot id from pod %s/%s within %s", p.namespace, p.pod, exportWait))
	case <-ctx.Done():
		h.release()
		return nil, ctx.Err()
	}
}

// release ends the session (its transaction, read-only, ends with it);
// a session that does not end within a while is cut.
func (h *heldSnapshot) release() {
	h.once.Do(func() {
		_ = h.stdin.Close()
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
		}
		h.cancel()
	})
}

// firstLine hands on the first line written to it, and discards the rest.
type firstLine struct {
	mu   sync.Mutex
	buf  strings.Builder
	got  chan string
	sent bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent {
		return len(p), nil
	}
	f.buf.Write(p)
	if line, _, ok := strings.Cut(f.buf.String(), "\n"); ok {
		f.sent = true
		f.got <- strings.TrimSpace(line)
	}
	return len(p), nil
}
