// Package merge is the pure merging and diffing of Wild Cloud: the
// line-by-line three-way merge of compiled files (git mode's updates) and
// the one unified diff every review and dry run shows. It touches no
// files and no cluster.
package merge

import "bytes"

// Conflict markers, as git writes them, so any git tool can resolve a
// conflict this package leaves.
const (
	MarkerOurs   = "<<<<<<< ours"
	MarkerSep    = "======="
	MarkerTheirs = ">>>>>>> theirs"
)

// Lines merges two edits of base line by line (diff3): a region changed
// on one side only takes that side; a region changed identically on both
// takes it once; a region changed differently on both is a conflict,
// written between standard markers so any git tool can resolve it. It
// reports whether there were conflicts.
func Lines(base, ours, theirs []byte) ([]byte, bool) {
	o, a, b := splitLines(base), splitLines(ours), splitLines(theirs)
	ma, mb := matchLines(o, a), matchLines(o, b)
	var out bytes.Buffer
	conflict := false
	io, ia, ib := 0, 0, 0
	for {
		// Stable run: base lines matched, in step, on both sides.
		k := 0
		for io+k < len(o) && ma[io+k] == ia+k && mb[io+k] == ib+k {
			k++
		}
		if k > 0 {
			writeLines(&out, o[io:io+k])
			io, ia, ib = io+k, ia+k, ib+k
			continue
		}
		// Unstable chunk: up to the next base line both sides still have.
		next := io
		for next < len(o) && (ma[next] < 0 || mb[next] < 0) {
			next++
		}
		ea, eb := len(a), len(b)
		if next < len(o) {
			ea, eb = ma[next], mb[next]
		}
		if next == io && ea == ia && eb == ib {
			break // everything consumed
		}
		c := mergeChunk(&out, o[io:next], a[ia:ea], b[ib:eb])
		conflict = conflict || c
		io, ia, ib = next, ea, eb
	}
	return out.Bytes(), conflict
}

func mergeChunk(out *bytes.Buffer, o, a, b [][]byte) bool {
	switch {
	case equalLines(a, o):
		writeLines(out, b)
	case equalLines(b, o), equalLines(a, b):
		writeLines(out, a)
	default:
		out.WriteString(MarkerOurs + "\n")
		writeLines(out, ensureNL(a))
		out.WriteString(MarkerSep + "\n")
		writeLines(out, ensureNL(b))
		out.WriteString(MarkerTheirs + "\n")
		return true
	}
	return false
}

// ensureNL keeps a marker from gluing onto a last line without newline.
func ensureNL(lines [][]byte) [][]byte {
	if n := len(lines); n > 0 && !bytes.HasSuffix(lines[n-1], []byte("\n")) {
		c := append([][]byte{}, lines...)
		c[n-1] = append(append([]byte{}, lines[n-1]...), '\n')
		return c
	}
	return lines
}

// splitLines keeps each line's newline so the merge reproduces the input
// byte for byte where nothing changed.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
	return out
}

func writeLines(out *bytes.Buffer, lines [][]byte) {
	for _, l := range lines {
		out.Write(l)
	}
}

func equalLines(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// maxLCSCells bounds the quadratic LCS table. Past it, the middle of the
// two files is treated as wholly different: the merge stays correct, it
// only reports a larger conflict.
const maxLCSCells = 4 << 20

// matchLines maps each line of o to the line of x it is matched with in a
// longest common subsequence, or -1. Compiled manifests differ in a few
// lines, so the common prefix and suffix are stripped before the
// quadratic part.
func matchLines(o, x [][]byte) []int {
	m := make([]int, len(o))
	for i := range m {
		m[i] = -1
	}
	pre := 0
	for pre < len(o) && pre < len(x) && bytes.Equal(o[pre], x[pre]) {
		m[pre] = pre
		pre++
	}
	suf := 0
	for suf < len(o)-pre && suf < len(x)-pre && bytes.Equal(o[len(o)-1-suf], x[len(x)-1-suf]) {
		m[len(o)-1-suf] = len(x) - 1 - suf
		suf++
	}
	om, xm := o[pre:len(o)-suf], x[pre:len(x)-suf]
	n, k := len(om), len(xm)
	if n == 0 || k == 0 || n*k > maxLCSCells {
		return m
	}
	// dp[i][j] = LCS length of om[i:], xm[j:]
	dp := make([][]int32, n+1)
	for i := range dp {
		dp[i] = make([]int32, k+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := k - 1; j >= 0; j-- {
			switch {
			case bytes.Equal(om[i], xm[j]):
				dp[i][j] = dp[i+1][j+1] + 1
			case dp[i+1][j] >= dp[i][j+1]:
				dp[i][j] = dp[i+1][j]
			default:
				dp[i][j] = dp[i][j+1]
			}
		}
	}
	for i, j := 0, 0; i < n && j < k; {
		switch {
		case bytes.Equal(om[i], xm[j]):
			m[pre+i] = pre + j
			i, j = i+1, j+1
		case dp[i+1][j] >= dp[i][j+1]:
			i++
		default:
			j++
		}
	}
	return m
}
