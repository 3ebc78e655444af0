package render_test

import (
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/render"
)

func TestFields(t *testing.T) {
	text := "a: {{ .x }}\nb: {{ .y.z | default \"q\" }}\n{{ range .list }}{{ .inner }}{{ $.root }}{{ end }}\n{{ with .w }}{{ .moved }}{{ else }}{{ .kept }}{{ end }}\n{{ if eq .c \"1\" }}{{ (.p).q }}{{ end }}\n"
	fields, err := render.Fields("f.yaml", 10, text)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		s := strings.Join(f.Path, ".")
		if f.Guarded {
			s += "?"
		}
		got = append(got, s+"@"+string(rune('0'+f.Line-10)))
	}
	want := "x@0 y.z?@1 list@2 root@2 w@3 kept@3 c@4 p@4"
	if strings.Join(got, " ") != want {
		t.Errorf("fields = %s, want %s", strings.Join(got, " "), want)
	}
	if _, err := render.Fields("f.yaml", 3, "ok\n{{ .x "); err == nil || !strings.Contains(err.Error(), "f.yaml:4:") {
		t.Errorf("syntax error: %v", err)
	}
}
