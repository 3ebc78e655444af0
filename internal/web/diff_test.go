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
