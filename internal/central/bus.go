package central

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/wild-cloud/wild/internal/wire"
)

// Topic filters envelopes; empty fields match anything.
type Topic struct {
	Op       string
	Instance string
	App      string
}

func (t Topic) matches(e wire.Envelope) bool {
	return (t.Op == "" || t.Op == e.Op) && (t.Instance == "" || t.Instance == e.Instance) && (t.App == "" || t.App == e.App)
}

// Bus persists envelopes in order and fans them out. Replay and follow are
// one step under one lock, so a subscriber sees no gap and no duplicate.
type Bus struct {
	mu     sync.Mutex
	file   *os.File
	w      *bufio.Writer
	log    []wire.Envelope
	next   int64
	subs   map[*sub]struct{}
	maxLog int
}

type sub struct {
	topic Topic
	ch    chan wire.Envelope
}

// subBuffer is how far a slow client may fall behind before it is cut off;
// it then reconnects with Last-Event-ID and replays, losing nothing.
const subBuffer = 1024

// OpenBus opens (or creates) the journal at path and loads what it holds.
func OpenBus(path string, maxLog int) (*Bus, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	b := &Bus{subs: map[*sub]struct{}{}, maxLog: maxLog, next: 1}
	if err := b.load(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	b.file, b.w = f, bufio.NewWriter(f)
	return b, nil
}

// load reads the journal; a torn last line (a crash mid-write) is skipped.
func (b *Bus) load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e wire.Envelope
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID < b.next {
			continue
		}
		b.append(e)
	}
	return sc.Err()
}

func (b *Bus) append(e wire.Envelope) {
	b.log = append(b.log, e)
	b.next = e.ID + 1
	if over := len(b.log) - b.maxLog; over > 0 {
		b.log = append([]wire.Envelope(nil), b.log[over:]...)
	}
}

// Publish assigns the next id, persists the envelope and delivers it.
func (b *Bus) Publish(e wire.Envelope) wire.Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.ID = b.next
	b.append(e)
	if line, err := json.Marshal(e); err == nil && b.w != nil {
		_, _ = b.w.Write(append(line, '\n'))
		_ = b.w.Flush()
	}
	for s := range b.subs {
		if !s.topic.matches(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			delete(b.subs, s)
			close(s.ch)
		}
	}
	return e
}

// Subscribe returns what matches topic after id `after`, and a channel that
// follows from there. The channel is closed when the subscriber falls too
// far behind or cancel is called.
func (b *Bus) Subscribe(topic Topic, after int64) ([]wire.Envelope, <-chan wire.Envelope, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	replay := b.since(topic, after)
	s := &sub{topic: topic, ch: make(chan wire.Envelope, subBuffer)}
	b.subs[s] = struct{}{}
	cancel := func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[s]; ok {
			delete(b.subs, s)
			close(s.ch)
		}
	}
	return replay, s.ch, cancel
}

// Since returns the stored envelopes matching topic after id `after`.
func (b *Bus) Since(topic Topic, after int64) []wire.Envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.since(topic, after)
}

func (b *Bus) since(topic Topic, after int64) []wire.Envelope {
	var out []wire.Envelope
	for _, e := range b.log {
		if e.ID > after && topic.matches(e) {
			out = append(out, e)
		}
	}
	return out
}

// Subscribers counts the live subscriptions.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close flushes and closes the journal and ends every subscription.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		delete(b.subs, s)
		close(s.ch)
	}
	if b.file == nil {
		return nil
	}
	_ = b.w.Flush()
	err := b.file.Sync()
	if cerr := b.file.Close(); err == nil {
		err = cerr
	}
	b.file, b.w = nil, nil
	return err
}
