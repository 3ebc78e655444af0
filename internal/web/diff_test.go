package web

import (
	"reflect"
	"testing"
)

// A unified diff pairs its removed and added lines side by side; an
// uneven hunk leaves the other side empty.
func TestSideBySide(t *testing.T) {
	unified := "--- a/x\n+++ b/x\n@@ -1,4 +1,4 @@\n keep\n-old1\n-old2\n+new1\n tail\n+extra\n"
	want := []diffRow{
		{Left: "@@ -1,4 +1,4 @@", Kind: "hunk"},
		{Left: "keep", Right: "keep", Kind: "same"},
		{Left: "old1", Right: "new1", Kind: "change"},
		{Left: "old2", Kind: "del"},
		{Left: "tail", Right: "tail", Kind: "same"},
		{Right: "extra", Kind: "add"},
	}
	if got := sideBySide(unified); !reflect.DeepEqual(got, want) {
		t.Fatalf("sideBySide:\n got %+v\nwant %+v", got, want)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
