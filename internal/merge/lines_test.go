package merge

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	base := "a\nb\nc\nd\ne\n"
	cases := []struct {
		name, ours, theirs, want string
		conflict                 bool
	}{
		{"only theirs", base, "a\nB\nc\nd\ne\n", "a\nB\nc\nd\ne\n", false},
		{"only ours", "a\nb\nc\nD\ne\n", base, "a\nb\nc\nD\ne\n", false},
		{"both, apart", "a\nb\nc\nD\ne\n", "A\nb\nc\nd\ne\n", "A\nb\nc\nD\ne\n", false},
		{"same change", "a\nX\nc\nd\ne\n", "a\nX\nc\nd\ne\n", "a\nX\nc\nd\ne\n", false},
		{"insert both ends", "start\n" + base, base + "end\n", "start\n" + base + "end\n", false},
		{"delete vs edit elsewhere", "a\nc\nd\ne\n", "a\nb\nc\nd\nE\n", "a\nc\nd\nE\n", false},
		{"conflict", "a\nOURS\nc\nd\ne\n", "a\nTHEIRS\nc\nd\ne\n",
			"a\n<<<<<<< ours\nOURS\n=======\nTHEIRS\n>>>>>>> theirs\nc\nd\ne\n", true},
		{"no trailing newline", "a\nb\nc\nd\nx", "a\nb\nc\nd\ny", "a\nb\nc\nd\n<<<<<<< ours\nx\n=======\ny\n>>>>>>> theirs\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := base
			if c.name == "no trailing newline" {
				b = "a\nb\nc\nd\ne"
			}
			got, conflict := Lines([]byte(b), []byte(c.ours), []byte(c.theirs))
			if string(got) != c.want || conflict != c.conflict {
				t.Errorf("got conflict=%v\n%s\nwant conflict=%v\n%s", conflict, got, c.conflict, c.want)
			}
		})
	}
}

func TestMerge3LargeFileFallsBackSafely(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString("line ")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString("\n")
	}
	base := b.String()
	ours := "top\n" + base
	theirs := base + "bottom\n"
	got, conflict := Lines([]byte(base), []byte(ours), []byte(theirs))
	if conflict || string(got) != "top\n"+base+"bottom\n" {
		t.Fatalf("conflict=%v len=%d", conflict, len(got))
	}
}
