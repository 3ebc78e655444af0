package kopiastore

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/backup"
)

// benchSize is one backup's worth of data per iteration.
const benchSize = 256 << 20

// rowGen is fast, never-repeating, dump-like text: increasing IDs, words
// from a small vocabulary and random tokens, so it compresses about as
// well as a real dump does. What the benchmark measures is the store's
// cost, not the generator's.
type rowGen struct {
	rng  *rand.ChaCha8
	left int64
	id   uint64
	row  []byte
	pend []byte
}

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " +
	"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu " +
	"enabled disabled pending active archived subscriber campaign list template bounce")

func newRowGen(seed uint64, size int64) *rowGen {
	var s [32]byte
	s[0], s[1], s[2] = byte(seed), byte(seed>>8), 0xb3
	return &rowGen{rng: rand.NewChaCha8(s), left: size}
}

func (g *rowGen) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	for n < len(p) {
		if len(g.pend) == 0 {
			g.pend = g.next()
		}
		c := copy(p[n:], g.pend)
		g.pend = g.pend[c:]
		n += c
	}
	g.left -= int64(n)
	return n, nil
}

func (g *rowGen) next() []byte {
	g.id++
	r := g.rng.Uint64()
	b := strconv.AppendUint(g.row[:0], g.id, 10)
	b = append(b, '\t')
	b = append(b, words[r%uint64(len(words))]...)
	b = append(b, '.')
	b = strconv.AppendUint(b, (r>>8)%100000, 10)
	b = append(b, "@example.org\t"...)
	b = strconv.AppendUint(b, g.rng.Uint64(), 36)
	b = append(b, '\t')
	b = append(b, words[(r>>32)%uint64(len(words))]...)
	b = append(b, "\t2026-03-"...)
	b = strconv.AppendUint(b, 10+(r>>40)%18, 10)
	b = append(b, '\n')
	g.row = b
	return b
}

// piped runs the generator in its own goroutine behind a pipe, as a dump
// runs in its own process: both sides of the benchmark then pay only for
// reading the stream, not for producing it.
func piped(seed uint64, size int64) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 1<<20)
		_, err := io.CopyBuffer(pw, newRowGen(seed, size), buf)
		pw.CloseWithError(err)
	}()
	return pr
}

// BenchmarkSave compares Save with a raw copy of the same stream into a
// file (the "pg_dump > file" baseline); the ratio of their MB/s is the
// store's throughput relative to raw.
func BenchmarkSave(b *testing.B) {
	b.Run("raw-copy", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(benchSize)
		for i := range b.N {
			f, err := os.Create(filepath.Join(dir, "dump"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(f, piped(uint64(i), benchSize)); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kopia-save", func(b *testing.B) {
		d := b.TempDir()
		s, err := Connect(b.Context(), Options{Path: filepath.Join(d, "repo"), ConfigDir: filepath.Join(d, "config"), Password: testPassword})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close(context.Background()) //nolint:errcheck
		b.SetBytes(benchSize)
		b.ResetTimer()
		for i := range b.N {
			seed := uint64(i)
			stream := backup.Stream{Name: "postgres/bench.dump", Open: func(context.Context) (io.ReadCloser, error) {
				return piped(seed, benchSize), nil
			}}
			snap, err := s.Save(b.Context(), src, nil, []backup.Stream{stream}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(snap.Stats.NewBytes)/benchSize, "stored/byte")
		}
	})
}
