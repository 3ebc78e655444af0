package kopiastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kopia/kopia/fs"
	"github.com/kopia/kopia/fs/virtualfs"
	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/snapshot"
	"github.com/kopia/kopia/snapshot/policy"
	"github.com/kopia/kopia/snapshot/snapshotfs"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/names"
)

const (
	// Labels of a snapshot manifest. User tags carry kopia's "tag:" prefix
	// so that the kopia CLI shows them; newBytesLabel is ours.
	tagPrefix     = "tag:"
	newBytesLabel = tagPrefix + "wild-new-bytes"

	compressor = "zstd-fastest"

	// progressStep bounds how often Save reports progress.
	progressStep = 1 << 20
)

// uploadPolicy is fixed here rather than read from the repository, so that
// compression and error handling do not depend on what someone set with
// the kopia CLI.
func uploadPolicy() *policy.Tree {
	p := *policy.DefaultPolicy
	p.CompressionPolicy = policy.CompressionPolicy{CompressorName: compressor}
	never := policy.OptionalBool(false)
	p.ErrorHandlingPolicy = policy.ErrorHandlingPolicy{
		IgnoreFileErrors:      &never,
		IgnoreDirectoryErrors: &never,
		IgnoreUnknownTypes:    &never,
	}
	return policy.BuildTree(nil, &p)
}

// Save streams each of streams into one snapshot of src. Nothing is
// recorded unless every stream ends cleanly: a producer error, a read
// error or ctx's cancellation fails Save and leaves no snapshot (the data
// already written is garbage that maintenance collects).
func (s *Store) Save(ctx context.Context, src backup.Source, tags map[string]string, streams []backup.Stream, progress func(backup.Progress)) (backup.Snapshot, error) {
	if err := validateSource(src); err != nil {
		return backup.Snapshot{}, err
	}
	if err := validateTags(tags); err != nil {
		return backup.Snapshot{}, err
	}
	start := time.Now()
	root, err := streamTree(streams, start)
	if err != nil {
		return backup.Snapshot{}, err
	}

	var uploaded atomic.Int64
	var id string
	err = repo.WriteSession(ctx, s.rep, repo.WriteSessionOptions{
		Purpose:  "wild backup " + src.Instance + "/" + src.App,
		OnUpload: func(n int64) { uploaded.Add(n) },
	}, func(ctx context.Context, w repo.RepositoryWriter) error {
		man, err := upload(ctx, w, root, sourceInfo(src), progress)
		if err != nil {
			return err
		}
		// Flush before recording the size, so that NewBytes counts every
		// pack this snapshot wrote; the manifest itself is written after.
		if err := w.Flush(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		man.Tags = labels(tags, uploaded.Load())
		mid, err := snapshot.SaveSnapshot(ctx, w, man)
		if err != nil {
			return fmt.Errorf("save snapshot manifest: %w", err)
		}
		id = string(mid)
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return backup.Snapshot{}, fmt.Errorf("backup of %s/%s canceled: %w", src.Instance, src.App, ctx.Err())
		}
		return backup.Snapshot{}, fmt.Errorf("backup of %s/%s to %s: %w", src.Instance, src.App, s.dest, err)
	}
	return s.Get(ctx, id)
}

func upload(ctx context.Context, w repo.RepositoryWriter, root fs.Directory, si snapshot.SourceInfo, progress func(backup.Progress)) (*snapshot.Manifest, error) {
	u := snapshotfs.NewUploader(w)
	u.FailFast = true
	// One stream at a time: each is a live producer (a pg_dump in a pod),
	// and running them side by side would only multiply their load.
	u.ParallelUploads = 1
	// A zero interval never ticks: no checkpoint manifests, which would
	// show up as snapshots and apply kopia's own retention policy.
	u.CheckpointInterval = 0
	p := &uploadProgress{report: progress}
	u.Progress = p

	stop := context.AfterFunc(ctx, u.Cancel)
	defer stop()

	man, err := u.Upload(ctx, root, uploadPolicy(), si)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	if perr := p.firstError(); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	if man.IncompleteReason != "" {
		return nil, fmt.Errorf("upload incomplete: %s", man.IncompleteReason)
	}
	p.finish()
	return man, nil
}

func labels(tags map[string]string, newBytes int64) map[string]string {
	out := map[string]string{newBytesLabel: strconv.FormatInt(newBytes, 10)}
	for k, v := range tags {
		out[tagPrefix+k] = v
	}
	return out
}

func validateSource(src backup.Source) error {
	if err := names.Validate("instance", src.Instance); err != nil {
		return err
	}
	return names.Validate("app", src.App)
}

func validateTags(tags map[string]string) error {
	for k := range tags {
		if k == "" || strings.ContainsAny(k, ":\x00") || tagPrefix+k == newBytesLabel {
			return fmt.Errorf("backup tag %q: tag names must be non-empty, without ':', and not %q", k, strings.TrimPrefix(newBytesLabel, tagPrefix))
		}
	}
	return nil
}

// streamTree lays the streams out as a directory tree: "postgres/x.dump"
// becomes file x.dump in directory postgres.
func streamTree(streams []backup.Stream, modTime time.Time) (fs.Directory, error) {
	if len(streams) == 0 {
		return nil, errors.New("backup has no streams")
	}
	root := &dirNode{children: map[string]*dirNode{}}
	for _, st := range streams {
		if err := root.add(st, modTime); err != nil {
			return nil, err
		}
	}
	return root.build("root"), nil
}

type dirNode struct {
	children map[string]*dirNode
	files    map[string]fs.Entry
}

func (d *dirNode) add(st backup.Stream, modTime time.Time) error {
	parts, err := splitName(st.Name)
	if err != nil {
		return err
	}
	if st.Open == nil {
		return fmt.Errorf("backup stream %q has no producer", st.Name)
	}
	for _, dir := range parts[:len(parts)-1] {
		if _, isFile := d.files[dir]; isFile {
			return fmt.Errorf("backup stream %q: %q is also a file", st.Name, dir)
		}
		next, ok := d.children[dir]
		if !ok {
			next = &dirNode{children: map[string]*dirNode{}}
			d.children[dir] = next
		}
		d = next
	}
	base := parts[len(parts)-1]
	if _, dup := d.files[base]; dup {
		return fmt.Errorf("backup stream %q appears twice", st.Name)
	}
	if _, isDir := d.children[base]; isDir {
		return fmt.Errorf("backup stream %q is also a directory", st.Name)
	}
	if d.files == nil {
		d.files = map[string]fs.Entry{}
	}
	d.files[base] = &streamFile{name: base, modTime: modTime, open: st.Open}
	return nil
}

func (d *dirNode) build(name string) fs.Directory {
	var entries []fs.Entry
	for n, c := range d.children {
		entries = append(entries, c.build(n))
	}
	for _, f := range d.files {
		entries = append(entries, f)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return virtualfs.NewStaticDirectory(name, entries)
}

// splitName checks a stream name: slash-separated, relative, no empty,
// "." or ".." element, since it becomes a path when restored.
func splitName(name string) ([]string, error) {
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\\\x00") {
			return nil, fmt.Errorf("backup stream name %q: use a relative slash-separated path without empty, '.' or '..' parts", name)
		}
	}
	return parts, nil
}

// streamFile is a kopia streaming file that starts its producer only when
// the uploader reads it, so that one stream runs at a time and nothing is
// buffered ahead.
type streamFile struct {
	name    string
	modTime time.Time
	open    func(context.Context) (io.ReadCloser, error)
}

func (f *streamFile) Name() string                { return f.name }
func (f *streamFile) IsDir() bool                 { return false }
func (f *streamFile) Mode() os.FileMode           { return 0o600 }
func (f *streamFile) ModTime() time.Time          { return f.modTime }
func (f *streamFile) Size() int64                 { return 0 }
func (f *streamFile) Sys() any                    { return nil }
func (f *streamFile) Owner() fs.OwnerInfo         { return fs.OwnerInfo{} }
func (f *streamFile) Device() fs.DeviceInfo       { return fs.DeviceInfo{} }
func (f *streamFile) LocalFilesystemPath() string { return "" }
func (f *streamFile) Close()                      {}

func (f *streamFile) GetReader(ctx context.Context) (io.ReadCloser, error) {
	rc, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	return &ctxReader{ctx: ctx, rc: rc}, nil
}

// ctxReader stops at ctx's cancellation even if the producer does not, and
// turns the producer's Close error into a read error at EOF: kopia ignores
// errors from Close, and a dump that failed at the end must fail the
// snapshot.
type ctxReader struct {
	ctx    context.Context
	rc     io.ReadCloser
	closed bool
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.rc.Read(p)
	if errors.Is(err, io.EOF) {
		if cerr := r.Close(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func (r *ctxReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.rc.Close()
}

// uploadProgress forwards kopia's upload events to the caller's callback,
// at most every progressStep bytes and at each file's start, and keeps the
// first error, which kopia otherwise only counts.
type uploadProgress struct {
	snapshotfs.NullUploadProgress
	report func(backup.Progress)

	mu       sync.Mutex
	file     string
	bytes    int64
	reported int64
	err      error
}

func (p *uploadProgress) HashingFile(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.file = name
	p.emit()
}

func (p *uploadProgress) HashedBytes(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if p.bytes-p.reported >= progressStep {
		p.emit()
	}
}

func (p *uploadProgress) Error(path string, err error, isIgnored bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = fmt.Errorf("stream %s: %w", path, err)
	}
}

func (p *uploadProgress) firstError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *uploadProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emit()
}

func (p *uploadProgress) emit() {
	p.reported = p.bytes
	if p.report != nil {
		p.report(backup.Progress{File: p.file, Bytes: p.bytes})
	}
}
