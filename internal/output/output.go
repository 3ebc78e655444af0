// Package output prints command results as a table, JSON or YAML.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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

// Row writes one row.
func (t *Table) Row(cols ...string) {
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

// Line writes free text (kept out of column alignment by its lack of tabs).
func (t *Table) Line(format string, args ...any) {
	fmt.Fprintf(t.tw, format+"\n", args...)
}
