package central

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wild-cloud/wild/internal/fsutil"
)

// AuditEntry records a sensitive action: who did what to which target. It
// never holds a secret value.
type AuditEntry struct {
	Time     time.Time `json:"time"`
	Who      string    `json:"who"`
	Action   string    `json:"action"`
	Instance string    `json:"instance,omitempty"`
	Target   string    `json:"target,omitempty"`
	Remote   string    `json:"remote,omitempty"`
}

// Audit is an append-only log of sensitive actions (secret reveals, token
// changes, failed sign-ins), 0600 beside the daemon's other state.
type Audit struct {
	mu   sync.Mutex
	path string
}

// OpenAudit returns the audit log at path.
func OpenAudit(path string) *Audit { return &Audit{path: path} }

// Record appends one entry, synced, so a reveal is never unrecorded.
func (a *Audit) Record(e AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(a.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(a.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	return fsutil.WriteSyncClose(f, append(line, '\n'))
}

// Entries reads the whole log, oldest first.
func (a *Audit) Entries() ([]AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, err := os.ReadFile(a.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	for _, l := range bytes.Split(b, []byte("\n")) {
		var e AuditEntry
		if json.Unmarshal(l, &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}
