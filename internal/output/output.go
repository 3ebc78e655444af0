// Package output prints command results as a table, JSON or YAML.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// Validate checks an -o value.
func Validate(format string) error {
	switch format {
	case "table", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q; use -o table, -o json or -o yaml", format)
}

// Printer writes one result in the chosen format.
type Printer struct {
	w      io.Writer
	format string
}

// New returns a printer; an empty format means table.
func New(w io.Writer, format string) *Printer {
	if format == "" {
		format = "table"
	}
	return &Printer{w: w, format: format}
}

// Structured reports whether the output is machine-readable (json/yaml), in
// which case progress and prose should go to stderr or be left out.
func (p *Printer) Structured() bool { return p.format != "table" }

// Print writes v as JSON or YAML, or calls table for the human form.
func (p *Printer) Print(v any, table func(t *Table)) error {
	switch p.format {
	case "json":
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = p.w.Write(b)
		return err
	}
	t := &Table{tw: tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)}
	table(t)
	return t.tw.Flush()
}

// Table is an aligned, plain-text table.
type Table struct{ tw *tabwriter.Writer }

// Header writes the upper-cased column names.
func (t *Table) Header(cols ...string) {
	for i, c := range cols {
		cols[i] = strings.ToUpper(c)
	}
	t.Row(cols...)
}

// Row writes one row. Cells are escaped: text from a catalog or a file
// must not move the cursor, recolour the terminal or break the columns.
func (t *Table) Row(cols ...string) {
	for i, c := range cols {
		cols[i] = Escape(c, false)
	}
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

// Line writes free text (kept out of column alignment by its lack of
// tabs). Newlines stay; other control characters are escaped.
func (t *Table) Line(format string, args ...any) {
	fmt.Fprint(t.tw, Escape(fmt.Sprintf(format, args...), true)+"\n")
}

// Escape replaces terminal control characters (C0, DEL, C1, and invalid
// UTF-8) with Go-style escapes such as \x1b; keepNewlines leaves "\n"
// alone for multi-line text.
func Escape(s string, keepNewlines bool) string {
	if !needsEscape(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\n' && keepNewlines:
			b.WriteRune(r)
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case isControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(s string, keepNewlines bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if isControl(r) && !(r == '\n' && keepNewlines) {
			return true
		}
	}
	return false
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == 0x202e
}
