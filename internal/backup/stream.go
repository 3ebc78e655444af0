package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/lazyre"
	"github.com/wild-cloud/wild/internal/problem"
)

// Every byte stream that crosses exec is counted and hashed on both ends:
// the pod's shell reports what it sent or received (bytes and sha256) on
// stderr, and the run compares it with what it saw, because exec has been
// seen to return empty or short output under load, and a dump that
// silently lost its tail would restore as a smaller database.
const streamPrelude = `d=$(mktemp -d) && mkfifo "$d/a" "$d/b" || exit 97
(sha256sum < "$d/a" | cut -d' ' -f1 > "$d/sum") &
(wc -c < "$d/b" | tr -d ' ' > "$d/n") &
`

const streamReport = `
wait
rc=$(cat "$d/rc" 2>/dev/null || echo 98)
echo "wild-stream bytes=$(cat "$d/n") sha256=$(cat "$d/sum") rc=$rc" >&2
rm -rf "$d"
exit "$rc"`

// outScript runs cmd with its stdout counted on the way out.
func outScript(cmd string) string {
	return streamPrelude + `{ (` + cmd + `); echo $? > "$d/rc"; } | tee "$d/a" "$d/b"` + streamReport
}

// inScript runs cmd with its stdin counted on the way in.
func inScript(cmd string) string {
	return streamPrelude + `tee "$d/a" "$d/b" | { (` + cmd + `); echo $? > "$d/rc"; }` + streamReport
}

var reportLine = lazyre.New(`wild-stream bytes=(\d*) sha256=([0-9a-f]*) rc=(\d+)`)

// tally is what one end of a stream saw.
type tally struct {
	Bytes  int64
	SHA256 string
}

// podTally parses the pod's report from its stderr.
func podTally(stderr string) (tally, bool) {
	m := reportLine().FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		return tally{}, false
	}
	last := m[len(m)-1]
	n, err := strconv.ParseInt(last[1], 10, 64)
	if err != nil {
		return tally{}, false
	}
	return tally{Bytes: n, SHA256: last[2]}, true
}

// StreamError says an exec stream arrived damaged: the pod and this
// process disagree on what crossed.
type StreamError struct {
	What      string
	Pod, Seen tally
	Reported  bool
}

func (e *StreamError) Error() string {
	if !e.Reported {
		return fmt.Sprintf("%s: the pod's byte count never arrived (exec ended early after %d bytes); nothing was kept from this stream, retry", e.What, e.Seen.Bytes)
	}
	return fmt.Sprintf("%s: the exec stream was damaged in transit: the pod sent %d bytes (sha256 %.12s), this side got %d (sha256 %.12s); nothing was kept from this stream, retry",
		e.What, e.Pod.Bytes, e.Pod.SHA256, e.Seen.Bytes, e.Seen.SHA256)
}

// counter hashes and counts what passes through it.
type counter struct {
	h        hash.Hash
	n        int64
	progress func(int64)
}

func newCounter(progress func(int64)) *counter { return &counter{h: sha256.New(), progress: progress} }

func (c *counter) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	if c.progress != nil {
		c.progress(c.n)
	}
	return len(p), nil
}

func (c *counter) tally() tally { return tally{Bytes: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))} }

// tailBuffer keeps the last part of a stream (a command's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const tailMax = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - tailMax; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// podExec is one container commands run in.
type podExec struct {
	kube                      *kube.Client
	namespace, pod, container string
	// env is shell prepended to every script (e.g. the server's port).
	env string
	// app is the added app the pod belongs to, for the advice of an
	// exec that could not run; "" for a helper pod.
	app string
}

// unavailable classifies an exec failure. A command that ran and exited
// non-zero is the command's failure, a cancelled run is the caller's, and
// a refused one is the credentials': they keep their error. Anything else (the pod gone, its container not
// running, the stream broken or damaged) means the pod could not be
// reached, which a retry cures once the pod runs again.
func (p podExec) unavailable(err error) error {
	var exit utilexec.ExitError
	if err == nil || errors.As(err, &exit) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return err
	}
	e := problem.Wrap(problem.Unavailable, err, "")
	if p.app != "" {
		return e.With("app.status", fmt.Sprintf("check that the %s pod %s/%s runs, then retry", p.app, p.namespace, p.pod), "app", p.app)
	}
	return e.With("", fmt.Sprintf("check that the pod %s/%s runs, then retry", p.namespace, p.pod))
}

// endMark closes the output of every short script, so an answer that
// exec cut off (or never delivered) is told from an empty one.
const endMark = "\nwild-end\n"

// run runs a short, idempotent shell script and returns its stdout; an
// answer without its end mark is asked again, a few times.
func (p podExec) run(ctx context.Context, script string, args ...string) (string, error) {
	var last error
	for try := 0; try < 3; try++ {
		out, err := p.runOnce(ctx, script, args...)
		if err != nil || ctx.Err() != nil {
			return "", err
		}
		if body, ok := strings.CutSuffix(out, endMark); ok {
			return body, nil
		}
		last = fmt.Errorf("exec in %s/%s returned %d bytes without the end of the answer (a damaged exec stream)", p.namespace, p.pod, len(out))
		time.Sleep(time.Duration(try+1) * 500 * time.Millisecond)
	}
	return "", last
}

// withEndMark prints endMark after script, when it succeeded.
func withEndMark(script string) string {
	return `(` + script + `) || exit $?; printf '` + strings.ReplaceAll(endMark, "\n", `\n`) + `'`
}

func (p podExec) runOnce(ctx context.Context, script string, args ...string) (string, error) {
	var out bytes.Buffer
	var errb tailBuffer
	err := p.kube.Exec(ctx, kube.ExecOptions{Namespace: p.namespace, Pod: p.pod, Container: p.container,
		Command: append([]string{"sh", "-c", withEndMark(p.env + script), "sh"}, args...), Stdout: &out, Stderr: &errb})
	if err != nil {
		return "", p.unavailable(fmt.Errorf("%w: %s", err, lastLines(errb.String(), 5)))
	}
	return out.String(), nil
}

// streamOut runs cmd and returns its stdout as a reader; reading it to the
// end (or Close) reports a failed command or a damaged stream.
func (p podExec) streamOut(ctx context.Context, what, cmd string, progress func(int64), args ...string) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	seen := newCounter(progress)
	done := make(chan error, 1)
	go func() {
		var errb tailBuffer
		err := p.kube.Exec(ctx, kube.ExecOptions{Namespace: p.namespace, Pod: p.pod, Container: p.container,
			Command: append([]string{"sh", "-c", outScript(p.env + cmd), "sh"}, args...),
			Stdout:  io.MultiWriter(pw, seen), Stderr: &errb})
		err = p.unavailable(checkStream(what, err, errb.String(), seen.tally()))
		pw.CloseWithError(err)
		done <- err
	}()
	return &execReader{PipeReader: pr, cancel: cancel, done: done}
}

// streamIn runs cmd with in as its stdin and checks the pod got all of it.
func (p podExec) streamIn(ctx context.Context, what, cmd string, in io.Reader, progress func(int64), args ...string) error {
	seen := newCounter(progress)
	var errb tailBuffer
	err := p.kube.Exec(ctx, kube.ExecOptions{Namespace: p.namespace, Pod: p.pod, Container: p.container,
		Command: append([]string{"sh", "-c", inScript(p.env + cmd), "sh"}, args...),
		Stdin:   io.TeeReader(in, seen), Stdout: io.Discard, Stderr: &errb})
	return p.unavailable(checkStream(what, err, errb.String(), seen.tally()))
}

func checkStream(what string, err error, stderr string, seen tally) error {
	if err != nil {
		return fmt.Errorf("%s: %w: %s", what, err, lastLines(stripReport(stderr), 5))
	}
	pod, ok := podTally(stderr)
	if !ok || pod != seen {
		return &StreamError{What: what, Pod: pod, Seen: seen, Reported: ok}
	}
	return nil
}

type execReader struct {
	*io.PipeReader
	cancel context.CancelFunc
	done   chan error
	err    error
	closed bool
}

// Close stops the command if it still runs and returns its failure.
func (r *execReader) Close() error {
	if r.closed {
		return r.err
	}
	r.closed = true
	r.PipeReader.CloseWithError(errors.New("reader closed"))
	r.cancel()
	r.err = <-r.done
	return r.err
}

func stripReport(s string) string { return reportLine().ReplaceAllString(s, "") }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
