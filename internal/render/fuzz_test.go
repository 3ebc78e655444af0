package render

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRender: whatever the template, rendering never panics, never
// prints "<no value>", and every failure is a *render.Error naming the
// file and a line inside the template.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"{{ .x }}", "{{ .apps.db.host }}", "{{ .missing }}", `{{ .m | default "y" }}`,
		`{{ default "y" .a.b.c }}`, "{{ if .yes }}a{{ else }}b{{ end }}", "{{- .x -}}",
		`{{ index .apps "db" "host" }}`, `{{ index .apps "nope" }}`, `{{ strings.ToUpper .x }}`,
		`{{ .apps | toYaml }}`, "{{ .null }}", `{{ required "r" .nope }}`, "{{ .x", "{{ end }}",
		"{{ range .list }}{{ . }}{{ end }}", "{{ with .apps }}{{ .db }}{{ end }}", "{{ .null.x }}",
		`{{ template "t" }}`, `{{ define "t" }}{{ .x }}{{ end }}{{ template "t" . }}`,
		"{{ $x := .x }}{{ $x }}", `{{ strings.Indent 2 "-" .x }}`, "{{ print .null }}",
	} {
		f.Add(s)
	}
	e := New()
	f.Fuzz(func(t *testing.T, tpl string) {
		// Unbounded loops are a property of the language, not of this
		// engine; output size is bounded (TestOutputLimit) but CPU is not.
		if strings.Contains(tpl, "range") || len(tpl) > 2000 {
			return
		}
		out, err := e.String("fuzz.yaml", 5, tpl, data())
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error is not *render.Error: %T %v", err, err)
			}
			if re.File != "fuzz.yaml" || re.Line < 5 || re.Line > 5+strings.Count(tpl, "\n") {
				t.Fatalf("error %q names line %d outside the template", err, re.Line)
			}
			return
		}
		if strings.Contains(out, "<no value>") && !strings.Contains(tpl, "no value") && !strings.Contains(tpl, "printf") {
			t.Fatalf("rendered <no value>: %q -> %q", tpl, out)
		}
	})
}
