package render

import (
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func data() map[string]any {
	return map[string]any{
		"x":      "Hello World",
		"num":    8080,
		"empty":  "",
		"null":   nil,
		"yes":    true,
		"list":   []any{"a", "b"},
		"cloud":  map[string]any{"domain": "cloud.example.com", "smtp": map[string]any{"host": "smtp.example.com"}},
		"apps":   map[string]any{"db": map[string]any{"host": "postgres.postgres.svc.cluster.local", "port": "5432"}},
		"quoted": `say "hi"`,
	}
}

func TestFunctions(t *testing.T) {
	for _, tc := range []struct{ tpl, want string }{
		{`{{ .x }}`, "Hello World"},
		{`{{ .apps.db.host }}`, "postgres.postgres.svc.cluster.local"},
		{`{{ index .apps "db" "port" }}`, "5432"},
		{`{{ index .list 1 }}`, "b"},
		{`{{ if .yes }}on{{ else }}off{{ end }}`, "on"},
		{`{{ if not .yes }}on{{ else }}off{{ end }}`, "off"},
		{"a  {{- .num -}}  b", "a8080b"},
		{"{{ .num }}\n{{- /* comment */ -}}\n!", "8080!"},
		{`{{ .x | quote }}`, `"Hello World"`},
		{`{{ .quoted | quote }}`, `"say \"hi\""`},
		{`{{ quote .num }}`, `"8080"`},
		{`{{ .x | squote }}`, `'Hello World'`},
		{`{{ .null }}`, ""},
		// default
		{`{{ .missing | default "y" }}`, "y"},
		{`{{ default "y" .missing }}`, "y"},
		{`{{ default "y" .apps.nope.host }}`, "y"},
		{`{{ .apps.db.nope | default "y" }}`, "y"},
		{`{{ $.missing | default "y" }}`, "y"},
		{`{{ .empty | default "y" }}`, "y"},
		{`{{ .x | default "y" }}`, "Hello World"},
		{`{{ index .apps "nope" | default "y" }}`, "y"},
		{`{{ default "y" (.missing) }}`, "y"},
		{`{{ coalesce .missing .empty .x }}`, "Hello World"},
		{`{{ if empty .missing }}none{{ end }}`, "none"},
		{`{{ required "need x" .x }}`, "Hello World"},
		// strings.* (gomplate argument order: input last)
		{`{{ strings.ToUpper .x }}`, "HELLO WORLD"},
		{`{{ .x | strings.ToLower }}`, "hello world"},
		{`{{ strings.Title "hello wild-cloud" }}`, "Hello Wild-Cloud"},
		{`{{ strings.TrimPrefix "Hello " .x }}`, "World"},
		{`{{ .x | strings.TrimSuffix " World" }}`, "Hello"},
		{`{{ strings.Trim "xy" "xyhixy" }}`, "hi"},
		{`{{ strings.TrimSpace "  a  " }}`, "a"},
		{`{{ strings.ReplaceAll "o" "0" .x }}`, "Hell0 W0rld"},
		{`{{ strings.Replace "o" "0" .x }}`, "Hell0 W0rld"},
		{`{{ strings.Contains "World" .x }}`, "true"},
		{`{{ strings.HasPrefix "Hell" .x }}`, "true"},
		{`{{ strings.HasSuffix "x" .x }}`, "false"},
		{`{{ strings.Split "." "a.b.c" | len }}`, "3"},
		{`{{ index (strings.Split "." "a.b.c") 2 }}`, "c"},
		{`{{ strings.SplitN "." 2 "a.b.c" | len }}`, "2"},
		{`{{ strings.Quote .quoted }}`, `"say \"hi\""`},
		{`{{ strings.Squote "it's" }}`, `'it''s'`},
		{`{{ strings.Indent 2 "a\nb" }}`, "  a\n  b"},
		{`{{ strings.Indent 2 "-" "a" }}`, "--a"},
		{`{{ strings.Indent "a" }}`, " a"},
		{`{{ strings.Slug "Héllo, Wörld!" }}`, "hello-world"},
		{`{{ strings.Repeat 3 "ab" }}`, "ababab"},
		{`{{ strings.Abbrev 9 "foobarbazquxquux" }}`, "foobar..."},
		{`{{ strings.Trunc 3 "abcdef" }}`, "abc"},
		{`{{ strings.ToUpper .num }}`, "8080"},
		{`{{ strings.CamelCase "hello jello" }}`, "helloJello"},
		{`{{ strings.KebabCase "helloWorld" }}`, "hello-world"},
		{`{{ strings.SnakeCase "hello world" }}`, "hello_world"},
		{`{{ strings.ShellQuote "it's" }}`, `'it'"'"'s'`},
		{`{{ strings.RuneCount "héllo" }}`, "5"},
		// sprig
		{`{{ .x | lower | replace " " "-" }}`, "hello-world"},
		{`{{ add 1 2 }}`, "3"},
		{`{{ list 1 2 | join "," }}`, "1,2"},
		{`{{ .x | b64enc }}`, "SGVsbG8gV29ybGQ="},
		{`{{ "a\nb" | nindent 2 }}`, "\n  a\n  b"},
		// toYaml
		{`{{ .apps | toYaml }}`, "db:\n  host: postgres.postgres.svc.cluster.local\n  port: \"5432\""},
		{`{{ .list | toYAML }}`, "- a\n- b"},
		{"env:\n  {{- .cloud.smtp | toYaml | nindent 2 }}", "env:\n  host: smtp.example.com"},
		// range/with
		{`{{ range .list }}[{{ . }}]{{ end }}`, "[a][b]"},
		{`{{ with .apps.db }}{{ .host }}{{ end }}`, "postgres.postgres.svc.cluster.local"},
	} {
		got, err := New().String("t.yaml", 1, tc.tpl, data())
		if err != nil {
			t.Errorf("%s: %v", tc.tpl, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.tpl, got, tc.want)
		}
	}
}

func TestMissingKeyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, tpl string
		line      int // String is called with line 10
		key, msg  string
	}{
		{"top level", "a: 1\nb: {{ .dbHost }}", 11, "dbHost", `t.yaml:11: missing key "dbHost" (in .dbHost)`},
		{"nested leaf", "{{ .apps.db.hostname }}", 10, "apps.db.hostname", `missing key "apps.db.hostname"`},
		{"nested middle", "x\n\n  {{ .apps.database.host }}", 12, "apps.database", `missing key "apps.database" (in .apps.database.host)`},
		{"long chain", "{{ .apps.databaseservers.primary.hostname }}", 10, "apps.databaseservers", ""},
		{"repeated name", "{{ .apps.apps }}", 10, "apps.apps", ""},
		{"dollar", "{{ $.cloud.nope }}", 10, "cloud.nope", ""},
		{"index", `{{ index .apps "db" "user" }}`, 10, "apps.db.user", `missing key "apps.db.user"`},
		{"in if", "{{ if .flag }}x{{ end }}", 10, "flag", ""},
		{"in pipe", "{{ .nope | upper }}", 10, "nope", ""},
		{"in with", "{{ with .apps }}\n{{ .db.user }}{{ end }}", 11, "db.user", ""},
		{"in define", "{{ define \"x\" }}{{ .nope }}{{ end }}\n{{ template \"x\" . }}", 10, "nope", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := New().String("t.yaml", 10, tc.tpl, data())
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("want *render.Error, got %q, %v", out, err)
			}
			if re.File != "t.yaml" || re.Line != tc.line || re.Key != tc.key || !errors.Is(err, ErrMissingKey) {
				t.Errorf("got %+v (%q), want line %d key %q", *re, err, tc.line, tc.key)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestFileErrorsCountFromLineOne(t *testing.T) {
	_, err := New().File("ghost/deployment.yaml", []byte("a\nb\nc\n  image: {{ .image }}\n"), map[string]any{})
	if err == nil || err.Error() != `ghost/deployment.yaml:4: missing key "image" (in .image)` {
		t.Errorf("got %v", err)
	}
}

func TestOtherErrors(t *testing.T) {
	for _, tc := range []struct{ tpl, want string }{
		{"ok\n{{ .x", "t.yaml:2: template syntax error: unclosed action"},
		{"{{ nosuchfunc .x }}", `t.yaml:1: template syntax error: function "nosuchfunc" not defined`},
		{"{{ if }}", "t.yaml:1: template syntax error: missing value for if"},
		{"a\n{{ end }}", "t.yaml:2: template syntax error: unexpected {{end}}"},
		{`{{ required "set apps.x.token first" .token }}`, "t.yaml:1: set apps.x.token first"},
		{`{{ required .empty }}`, "t.yaml:1: a required value is missing or empty"},
		{"{{ .null.x }}", `t.yaml:1: cannot read key "null.x": a value on its path is null (in .null.x)`},
		{"{{ .x.y }}", `t.yaml:1: cannot read key "x.y"`},
		{`{{ index .list 5 }}`, "index 5 out of range"},
		{`{{ strings.Repeat 100000000 "ab" }}`, "too large"},
		{`{{ env "HOME" }}`, `function "env" not defined`},
	} {
		_, err := New().String("t.yaml", 1, tc.tpl, data())
		var re *Error
		if !errors.As(err, &re) {
			t.Errorf("%s: want *render.Error, got %v", tc.tpl, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %q, want %q", tc.tpl, err, tc.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", tc.tpl, err)
		}
	}
}

func TestNoTemplateFastPath(t *testing.T) {
	in := []byte("plain: text\n")
	out, err := New().File("f", in, nil)
	if err != nil || &out[0] != &in[0] {
		t.Errorf("text without {{ should be returned as is")
	}
	s, err := New().String("f", 1, "{ not: a template }", nil)
	if err != nil || s != "{ not: a template }" {
		t.Errorf("got %q %v", s, err)
	}
}

func TestCacheIsPerTextAndSafe(t *testing.T) {
	e := New()
	for i := range 3 {
		got, err := e.String("f", 1, "{{ .x }}", map[string]any{"x": i})
		if err != nil || got != string(rune('0'+i)) {
			t.Fatalf("run %d: %q %v", i, got, err)
		}
	}
	// the same text at another line reports that line
	_, err := e.String("f", 7, "{{ .nope }}", nil)
	var re *Error
	if !errors.As(err, &re) || re.Line != 7 {
		t.Errorf("got %v", err)
	}
	done := make(chan bool)
	for range 8 {
		go func() {
			for range 100 {
				if s, _ := e.String("f", 1, "{{ .x }}", map[string]any{"x": "y"}); s != "y" {
					t.Error("concurrent render")
				}
			}
			done <- true
		}()
	}
	for range 8 {
		<-done
	}
}

func TestNode(t *testing.T) {
	src := `defaultConfig:
  domain: app.{{ .cloud.domain }}
  port: 8080
  nested:
    host: "{{ .apps.db.host }}"
  list:
    - "{{ .x }}"
  block: |
    line one
    {{ .missing }}
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	cfg := doc.Content[0].Content[1]
	// render all but the broken block first
	cfg.Content = cfg.Content[:8]
	out, err := New().Node("m.yaml", cfg, data())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := out.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["domain"] != "app.cloud.example.com" || got["port"] != 8080 ||
		got["nested"].(map[string]any)["host"] != "postgres.postgres.svc.cluster.local" || got["list"].([]any)[0] != "Hello World" {
		t.Errorf("got %v", got)
	}
	if cfg.Content[1].Value != "app.{{ .cloud.domain }}" {
		t.Error("Node modified its input")
	}
	// a block scalar's text starts on the line after "block: |"
	var doc2 yaml.Node
	_ = yaml.Unmarshal([]byte(src), &doc2)
	_, err = New().Node("m.yaml", doc2.Content[0].Content[1], data())
	if err == nil || !strings.HasPrefix(err.Error(), `m.yaml:10: missing key "missing"`) {
		t.Errorf("got %v", err)
	}
}

func TestOutputLimit(t *testing.T) {
	_, err := New().String("f", 1, `{{ range until 1000000 }}{{ strings.Repeat 1000 "x" }}{{ end }}`, nil)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("got %v", err)
	}
}
