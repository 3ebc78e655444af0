package yamldoc

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const handEdited = `# Wild Cloud instance config
cloud:
  domain: example.com # the public domain
  internalDomain: internal.example.com
# apps go below
apps:
  ghost:
    port: "2368" # keep in sync with the ingress
    image: ghost:5
`

func TestSetKeepsCommentsAndOrder(t *testing.T) {
	d, err := Parse("config.yaml", []byte(handEdited))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ParseValue("8080")
	if err := d.Set([]string{"apps", "ghost", "port"}, v); err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]string{"apps", "redis", "port"}, StringNode("6379")); err != nil {
		t.Fatal(err)
	}
	out, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"# Wild Cloud instance config", "# the public domain", "# apps go below", "port: 8080 # keep in sync with the ingress", `port: "6379"`} {
		if !strings.Contains(s, want) {
			t.Errorf("output lost %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "cloud:") > strings.Index(s, "apps:") || strings.Index(s, "ghost:") > strings.Index(s, "redis:") {
		t.Errorf("key order changed:\n%s", s)
	}
}

func TestGetDeleteAndErrors(t *testing.T) {
	d, _ := Parse("config.yaml", []byte(handEdited))
	n, ok := d.Get([]string{"cloud", "domain"})
	if !ok || n.Value != "example.com" {
		t.Fatalf("get cloud.domain = %v %v", n, ok)
	}
	if _, ok := d.Get([]string{"cloud", "domain", "x"}); ok {
		t.Fatal("got a value under a scalar")
	}
	if err := d.Set([]string{"cloud", "domain", "x"}, StringNode("y")); err == nil || !strings.Contains(err.Error(), "cloud.domain holds a value") {
		t.Fatalf("setting under a scalar: %v", err)
	}
	if !d.Delete([]string{"apps", "ghost"}) || d.Delete([]string{"apps", "ghost"}) {
		t.Fatal("delete should report existence once")
	}
	if _, ok := d.Get([]string{"apps", "ghost"}); ok {
		t.Fatal("ghost still there")
	}
}

func TestParsePath(t *testing.T) {
	for _, bad := range []string{"", ".", "a..b", "a.", ".a", "a b", "a/b", "a.$x"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) accepted", bad)
		}
	}
	p, err := ParsePath("apps.ghost.db_host-1")
	if err != nil || len(p) != 3 {
		t.Fatalf("%v %v", p, err)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	_, err := Parse("config.yaml", []byte("cloud:\n  domain: x\n bad: [\n"))
	pe, ok := err.(*ParseError)
	if !ok || pe.Line == 0 || !strings.HasPrefix(err.Error(), "config.yaml:") {
		t.Fatalf("want a ParseError with a line, got %#v", err)
	}
	if _, err := Parse("c.yaml", []byte("- a\n- b\n")); err == nil {
		t.Fatal("a list at the top level was accepted")
	}
	d, err := Parse("c.yaml", nil)
	if err != nil || len(d.Root().Content) != 0 {
		t.Fatalf("empty file: %v", err)
	}
}

func TestMergeDefaultsNeverOverwrites(t *testing.T) {
	d, _ := Parse("config.yaml", []byte(handEdited))
	var defaults yaml.Node
	if err := yaml.Unmarshal([]byte("port: \"9999\"\nimage: ghost:6\nstorage: 10Gi\nsmtp:\n  host: mail\n"), &defaults); err != nil {
		t.Fatal(err)
	}
	added, err := d.MergeDefaults([]string{"apps", "ghost"}, defaults.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(added, ",") != "apps.ghost.smtp,apps.ghost.storage" {
		t.Fatalf("added = %v", added)
	}
	v, _, _ := d.Value([]string{"apps", "ghost", "port"})
	if v != "2368" {
		t.Fatalf("port overwritten: %v", v)
	}
	again, _ := d.MergeDefaults([]string{"apps", "ghost"}, defaults.Content[0])
	if len(again) != 0 {
		t.Fatalf("second merge added %v", again)
	}
}

func TestStringNodeQuotesAmbiguousValues(t *testing.T) {
	d := New("s.yaml")
	for _, s := range []string{"true", "123", "null", "a: b", "plain"} {
		_ = d.Set([]string{"k"}, StringNode(s))
		out, _ := d.Encode()
		back, err := Parse("s.yaml", out)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := back.Value([]string{"k"})
		if v != s {
			t.Errorf("%q round-tripped to %#v", s, v)
		}
	}
}

func TestSetKeepsAliasedDocumentsParseable(t *testing.T) {
	src := "common: &common {tz: UTC}\nextra: {<<: *common}\nlist: [*common]\n"
	for want, edit := range map[string]func(d *Doc) error{
		"UTC":  func(d *Doc) error { v, _ := ParseValue("none"); return d.Set([]string{"common"}, v) },
		"UTC ": func(d *Doc) error { d.Delete([]string{"common"}); return nil },
		"CET":  func(d *Doc) error { return d.Set([]string{"common", "tz"}, StringNode("CET")) },
	} {
		d, err := Parse("c.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := edit(d); err != nil {
			t.Fatal(err)
		}
		out, _ := d.Encode()
		back, err := Parse("c.yaml", out)
		if err != nil {
			t.Fatalf("edited document does not parse: %v\n%s", err, out)
		}
		m, err := back.Map()
		if err != nil {
			t.Fatalf("edited document does not decode: %v\n%s", err, out)
		}
		if tz := m["extra"].(map[string]any)["tz"]; tz != strings.TrimSpace(want) {
			t.Fatalf("extra.tz = %v after editing common\n%s", tz, out)
		}
	}
	// Setting under an alias changes only that path, not the anchor.
	d, _ := Parse("c.yaml", []byte("a: &x {k: 1}\nb: *x\n"))
	if err := d.Set([]string{"b", "k"}, StringNode("2")); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := d.Value([]string{"a", "k"}); v != 1 {
		t.Fatalf("a.k = %v after setting b.k", v)
	}
	// Defaults merged from another document carry no dangling alias.
	src2, _ := Parse("m.yaml", []byte("base: &b {x: 1}\ndefaults: {one: *b, two: {<<: *b}}\n"))
	def, _ := src2.Get([]string{"defaults"})
	dst := New("c.yaml")
	if _, err := dst.MergeDefaults([]string{"apps", "a"}, def); err != nil {
		t.Fatal(err)
	}
	out, _ := dst.Encode()
	if _, err := Parse("c.yaml", out); err != nil || strings.Contains(string(out), "*") {
		t.Fatalf("merged defaults: %v\n%s", err, out)
	}
}

func TestCommandLineValuesArePlain(t *testing.T) {
	cases := map[string]any{
		"8080": 8080, "true": true, "[1, 2]": []any{1, 2}, `"8080"`: "8080",
		"!!int abc": "!!int abc", "!!binary aGk=": "!!binary aGk=", "&a x": "&a x", "*a": "*a",
		"a\nb": "a\nb", "  lead\n\ttab\n\n": "  lead\n\ttab\n\n", "x # y": "x # y",
		"{<<: {a: 1}}": "{<<: {a: 1}}", "[!!int x]": "[!!int x]",
	}
	for in, want := range cases {
		n, err := ParseValue(in)
		if err != nil {
			t.Fatal(err)
		}
		d := New("c.yaml")
		_ = d.Set([]string{"k"}, n)
		out, _ := d.Encode()
		back, err := Parse("c.yaml", out)
		if err != nil {
			t.Fatalf("%q: %v\n%s", in, err, out)
		}
		got, _, err := back.Value([]string{"k"})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) {
			t.Errorf("%q read back as %#v (%v), want %#v\n%s", in, got, err, want, out)
		}
		if strings.Contains(in, "\n") && !strings.Contains(string(out), "|") {
			t.Errorf("%q not kept as a literal block:\n%s", in, out)
		}
	}
	if _, err := ParseValue("\xff"); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestDecodeErrorsNameFileAndKey(t *testing.T) {
	d, err := Parse("/i/secrets.yaml", []byte("apps:\n  db:\n    password: !!int hunter2-secret\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Map()
	if err == nil || !strings.Contains(err.Error(), "/i/secrets.yaml:3: apps.db.password") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("decode error = %v", err)
	}
	bomb := "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	d, _ = Parse("/i/config.yaml", []byte(bomb))
	if _, err := d.Map(); err == nil || !strings.Contains(err.Error(), "/i/config.yaml") || !strings.Contains(err.Error(), "aliasing") {
		t.Fatalf("alias bomb error = %v", err)
	}
	if err := New("/i/secrets.yaml").Set([]string{"apps"}, StringNode("s")); err != nil {
		t.Fatal(err)
	}
}

// FuzzStringRoundTrip: any text set as a string reads back byte for byte,
// through a document that parses, whatever the document already held.
func FuzzStringRoundTrip(f *testing.F) {
	for _, s := range []string{"a\nb", "x\\", "\\x41", " lead", "trail ", "\n", "a\n\n", "\t\n x", "#", "- a", "\u2028", "\ufeffa", "a\r\nb", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, n := range []func() (*yaml.Node, error){
			func() (*yaml.Node, error) { return StringNode(value), CheckText(value) },
			func() (*yaml.Node, error) { return ParseValue(value) },
		} {
			node, err := n()
			if err != nil {
				return
			}
			d, _ := Parse("f.yaml", []byte(handEdited))
			if err := d.Set([]string{"apps", "ghost", "v"}, node); err != nil {
				t.Fatal(err)
			}
			out, err := d.Encode()
			if err != nil {
				t.Fatalf("encode %q: %v", value, err)
			}
			back, err := Parse("f.yaml", out)
			if err != nil {
				t.Fatalf("output does not parse: %v\n%s", err, out)
			}
			got, _ := back.Get([]string{"apps", "ghost", "v"})
			if node.Kind == yaml.ScalarNode && node.Tag == "!!str" && (got.Value != node.Value || got.ShortTag() != "!!str") {
				t.Fatalf("set %q, read back %q (%s)\n%s", node.Value, got.Value, got.ShortTag(), out)
			}
			if _, err := back.Map(); err != nil {
				t.Fatalf("output does not decode: %v\n%s", err, out)
			}
		}
	})
}

// FuzzSetGet checks the setter and merger never panic, always produce
// YAML that parses again, and that a value set can be read back.
func FuzzSetGet(f *testing.F) {
	f.Add(handEdited, "apps.ghost.port", "8080")
	f.Add("", "a.b.c", "[1, 2]")
	f.Add("a: [1]\n", "a.b", "x")
	f.Add("a: &x {b: 1}\nc: *x\n", "c.b", "2")
	f.Fuzz(func(t *testing.T, doc, path, value string) {
		d, err := Parse("f.yaml", []byte(doc))
		if err != nil {
			return
		}
		p, err := ParsePath(path)
		if err != nil {
			return
		}
		if err := d.Set(p, StringNode(value)); err != nil {
			return
		}
		out, err := d.Encode()
		if err != nil {
			return // yaml.v3 refuses some exotic inputs (e.g. odd anchors); that is an error, not a panic
		}
		back, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		got, ok, err := back.Value(p)
		if err != nil || !ok || got != value {
			t.Fatalf("set %q=%q, read back %#v (%v, %v)\n%s", path, value, got, ok, err, out)
		}
		_, _ = back.MergeDefaults(p[:len(p)-1], back.Root())
	})
}
