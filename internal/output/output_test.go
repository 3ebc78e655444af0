package output

import (
	"bytes"
	"strings"
	"testing"
)

func TestTablesEscapeControlCharacters(t *testing.T) {
	var b bytes.Buffer
	err := New(&b, "table").Print(nil, func(tb *Table) {
		tb.Row("name\x1b[2J", "desc\ttab\nline\x07", "ok é")
		tb.Line("multi\nline \x1b]0;title\x07 \xff")
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"\x1b", "\x07", "\xff"} {
		if strings.Contains(out, bad) {
			t.Fatalf("raw control character %q in:\n%q", bad, out)
		}
	}
	for _, want := range []string{`name\x1b[2J`, `desc\ttab\nline\a`, "ok é", "multi\nline ", `\xff`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
