// Package backup backs up an app's data (config, databases, volumes) into
// an encrypted, deduplicated repository and restores it blue-green: to a
// standby color first, then a switch, then cleanup of the old side. See
// ../shared/seeds 004 for the model.
package backup

import (
	"context"
	"io"
	"time"
)

// Source names whose backups a snapshot holds: one app of one instance.
type Source struct {
	Instance string `json:"instance"`
	App      string `json:"app"`
}

// Stream is one named file of a backup (e.g. "postgres/listmonk.dump",
// "config/secrets.yaml"), produced only when the store reads it, so that a
// database dump streams from the pod into the repository without being
// held on disk or in memory. The reader's Close (or a read error) reports
// the producer's failure, which fails the snapshot.
type Stream struct {
	Name string
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// File is one stored stream of a snapshot.
type File struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Stats says what a snapshot cost: Bytes read from the sources and
// NewBytes the repository actually stored after deduplication and
// compression.
type Stats struct {
	Bytes    int64 `json:"bytes"`
	NewBytes int64 `json:"newBytes"`
}

// Snapshot is one stored backup.
type Snapshot struct {
	ID     string            `json:"id"`
	Source Source            `json:"source"`
	Time   time.Time         `json:"time"`
	Tags   map[string]string `json:"tags,omitempty"`
	Files  []File            `json:"files"`
	Stats  Stats             `json:"stats"`
}

// Progress is reported while a snapshot is written or read.
type Progress struct {
	File  string
	Bytes int64 // bytes of all files so far
}

// Store is a backup repository. The kopia-backed one (package kopiastore)
// is the product's; the interface keeps strategies independent of it.
type Store interface {
	// Save writes the streams as one snapshot of src, tagged.
	Save(ctx context.Context, src Source, tags map[string]string, streams []Stream, progress func(Progress)) (Snapshot, error)
	// List returns src's snapshots, newest first.
	List(ctx context.Context, src Source) ([]Snapshot, error)
	Get(ctx context.Context, id string) (Snapshot, error)
	// Open reads one file of a snapshot.
	Open(ctx context.Context, id, name string) (io.ReadCloser, error)
	Delete(ctx context.Context, id string) error
	Close(ctx context.Context) error
}
