package merge

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

func node(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestConfigMergeThreeWays(t *testing.T) {
	doc, err := yamldoc.Parse("config.yaml", []byte(`common: &tz {tz: UTC}
apps:
  ghost:
    image: ghost:5.0   # pinned by the package
    replicas: 3
    dbName: ghostdb
    extra: {<<: *tz}
`))
	if err != nil {
		t.Fatal(err)
	}
	base := node(t, "image: ghost:5.0\nreplicas: 1\ndbName: ghost\nold: x\n")
	theirs := node(t, "image: ghost:5.1\nreplicas: 2\ndatabaseName: ghost\nlogLevel: info\n")
	m := &ConfigMerge{Doc: doc, Section: []string{"apps", "ghost"}}
	res, err := m.Run(base, theirs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]change.Action{}
	for _, c := range res.Changes {
		got[c.Key] = c.Change
	}
	want := map[string]change.Action{"image": change.Configured, "replicas": change.Kept, "databaseName": change.Created, "logLevel": change.Created}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("change of %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(res.Removed) != 1 || res.Removed[0].Key != "dbName" || res.Removed[0].RenamedTo != "databaseName" {
		t.Errorf("removed = %+v, want dbName guessed renamed to databaseName", res.Removed)
	}
	out, err := doc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, w := range []string{"image: ghost:5.1 # pinned by the package", "replicas: 3", "dbName: ghostdb", "<<: *tz"} {
		if !strings.Contains(s, w) {
			t.Errorf("merged file lacks %q:\n%s", w, s)
		}
	}
	if _, err := yamldoc.Parse("config.yaml", out); err != nil {
		t.Errorf("merged file does not parse back: %v", err)
	}
}

func TestConfigMergeRenameAndAcceptRemoved(t *testing.T) {
	doc, err := yamldoc.Parse("config.yaml", []byte("apps:\n  ghost:\n    dbName: ghostdb\n    old: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	base := node(t, "dbName: ghost\nold: y\n")
	theirs := node(t, "databaseName: ghost\n")
	m := &ConfigMerge{Doc: doc, Section: []string{"apps", "ghost"}, Renames: map[string]string{"dbName": "databaseName"}, AcceptRemoved: true}
	res, err := m.Run(base, theirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 0 {
		t.Errorf("accepted removals still reported: %+v", res.Removed)
	}
	v, _, _ := doc.Value([]string{"apps", "ghost", "databaseName"})
	if v != "ghostdb" {
		t.Errorf("renamed value = %v, want the user's ghostdb carried over", v)
	}
	if _, ok := doc.Get([]string{"apps", "ghost", "old"}); ok {
		t.Error("accepted removed key is still there")
	}
	if _, err := (&ConfigMerge{Doc: doc, Section: []string{"apps", "ghost"}, Renames: map[string]string{"nope": "x"}}).Run(base, theirs); err == nil {
		t.Error("renaming a missing key succeeded")
	}
}
