package lifecycle

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/operation"
)

// An app and the dependency it needs, named in the wrong order in one
// AddMany: the dependency is staged first, the app maps to it, and the
// instance ends as two Adds in a row leave it.
func TestAddManyResolvesDependenciesAddedWithIt(t *testing.T) {
	env := testEnv(t)
	res, err := (&AddMany{Env: env, Apps: []string{"blog", "pg", "blog"}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].App != "pg" || res[1].App != "blog" {
		t.Fatalf("results %v, want pg then blog, once each", appsOf(res))
	}
	if res[1].InstalledAs["db"] != "pg" {
		t.Fatalf("blog's db = %v, want pg", res[1].InstalledAs)
	}
	pw, _ := env.Instance.GetSecret("apps.pg.password")
	if copied, _ := env.Instance.GetSecret("apps.blog.db.password"); copied != pw || pw == nil {
		t.Fatalf("blog's db.password %v, pg's %v: not copied from the dependency added with it", copied, pw)
	}
	m, err := ReadInstalledManifest(env.Instance, "blog")
	if err != nil || m.InstalledAs["db"] != "pg" {
		t.Fatalf("blog's instance manifest: %v %v", m, err)
	}

	// The same two, added one by one into another instance, give the same
	// files (secrets differ: they are generated).
	one := testEnv(t)
	add(t, one, "pg", nil)
	add(t, one, "blog", nil)
	for _, rel := range []string{"apps/blog/deployment.yaml", "apps/blog/manifest.yaml", "apps/pg/svc.yaml", "config.yaml"} {
		a, _ := os.ReadFile(env.Instance.Path(rel))
		b, _ := os.ReadFile(one.Instance.Path(rel))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s differs from two single adds:\n%s\n---\n%s", rel, a, b)
		}
	}

	// Each app has its own record, and neither holds a secret value.
	for _, r := range res {
		b, err := os.ReadFile(env.Instance.Path(instance.OperationsDir, r.Operation+".json"))
		var rec operation.Record
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.Status != "succeeded" || rec.App != r.App {
			t.Fatalf("record of %s: %s %v", r.App, b, err)
		}
		if strings.Contains(string(b), pw.(string)) {
			t.Fatal("an operation record contains a secret value")
		}
	}

	again, err := (&AddMany{Env: env, Apps: []string{"pg", "blog"}}).Run(context.Background())
	if err != nil || again[0].Changed() || again[1].Changed() {
		t.Fatalf("a second AddMany changed something: %v", err)
	}
}

// One app that fails to add stops them all: nothing is written, and every
// record says why.
func TestAddManyIsAllOrNothing(t *testing.T) {
	env := testEnv(t)
	before := instanceFiles(t, env.Instance)
	res, err := (&AddMany{Env: env, Apps: []string{"pg", "badtpl"}}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `missing key "missing"`) {
		t.Fatalf("err = %v, want badtpl's template error", err)
	}
	if after := instanceFiles(t, env.Instance); after != before {
		t.Fatalf("a failed AddMany changed the instance:\n%s\n---\n%s", before, after)
	}
	for _, r := range res {
		var rec operation.Record
		b, _ := os.ReadFile(env.Instance.Path(instance.OperationsDir, r.Operation+".json"))
		if json.Unmarshal(b, &rec) != nil || rec.Status != "failed" {
			t.Fatalf("record of %s: %s", r.App, b)
		}
		if r.App == "pg" && !strings.Contains(rec.Error, "the add of badtpl failed") {
			t.Errorf("pg's record does not say why it was not added: %q", rec.Error)
		}
	}
}

func TestAddManyBadInputChangesNothing(t *testing.T) {
	env := testEnv(t)
	before := instanceFiles(t, env.Instance)
	for _, apps := range [][]string{{}, {"pg", "../x"}, {"pg", "nothere"}, {"blog"}} {
		if _, err := (&AddMany{Env: env, Apps: apps}).Run(context.Background()); err == nil {
			t.Errorf("AddMany %v: no error", apps)
		}
	}
	if after := instanceFiles(t, env.Instance); after != before {
		t.Fatal("bad input changed the instance")
	}
}

// An app's own --dep and --set go with it into an AddMany (the UI's form
// for an app and the dependency it adds too), and values that are bad, or
// given for an app not added, change nothing.
func TestAddManyTakesAnAppsOwnValues(t *testing.T) {
	env := testEnv(t)
	before := instanceFiles(t, env.Instance)
	for _, vals := range []map[string]AddValues{
		{"nothere": {}},
		{"blog": {Set: map[string]string{"a..b": "x"}}},
		{"blog": {Deps: map[string]string{"db": "../x"}}},
		{"blog": {Deps: map[string]string{"db": "pg3"}}},
	} {
		if _, err := (&AddMany{Env: env, Apps: []string{"blog", "pg", "pg2"}, Values: vals}).Run(context.Background()); err == nil {
			t.Errorf("values %v: no error", vals)
		}
	}
	if after := instanceFiles(t, env.Instance); after != before {
		t.Fatal("bad values changed the instance")
	}
	vals := map[string]AddValues{"blog": {Deps: map[string]string{"db": "pg2"}, Set: map[string]string{"domain": "news.example.org"}}}
	res, err := (&AddMany{Env: env, Apps: []string{"blog", "pg", "pg2"}, Values: vals}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if blog := res[len(res)-1]; blog.App != "blog" || blog.InstalledAs["db"] != "pg2" {
		t.Fatalf("blog's dependency: %v %v, want db -> pg2 (two postgres added, the value picks)", appsOf(res), blog.InstalledAs)
	}
	if v, _ := env.Instance.GetConfig("apps.blog.domain"); v != "news.example.org" {
		t.Fatalf("blog's domain = %v, want the value given for it", v)
	}
	if v, _ := env.Instance.GetConfig("apps.pg.port"); v != "5432" {
		t.Fatalf("pg's port = %v: another app's values reached it", v)
	}
}

func appsOf(res []*AddResult) []string {
	var out []string
	for _, r := range res {
		out = append(out, r.App)
	}
	return out
}

// instanceFiles is every instance file but records and locks, with content.
func instanceFiles(t *testing.T, inst *instance.Instance) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(inst.Dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.Contains(p, instance.OperationsDir) || strings.HasSuffix(p, ".lock") {
			return err
		}
		c, err := os.ReadFile(p)
		b.WriteString(p + "\n" + string(c))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// An add's final record is written by the commit of the change it
// records: a crash after the commit point leaves, once roll-forward has
// finished the commit, the app added and its record saying so.
func TestAddRecordLandsWithTheCommit(t *testing.T) {
	env := testEnv(t)
	func() {
		restore := crashpoint.Set(func(p string) {
			if p == "after-journal" {
				panic("crash")
			}
		})
		defer func() { restore(); recover() }()
		(&Add{Env: env, App: "pg"}).Run(context.Background())
		t.Fatal("the crash point was not reached")
	}()
	// Any instance write rolls the journal forward first.
	if err := env.Instance.Update(func(*instance.Edit) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadInstalledManifest(env.Instance, "pg"); err != nil || m == nil {
		t.Fatalf("pg not added after roll-forward: %v", err)
	}
	recs, err := operation.List(env.Instance.Path(instance.OperationsDir), "pg")
	if err != nil || len(recs) != 1 || recs[0].Status != operation.Succeeded || recs[0].FinishedAt.IsZero() {
		t.Fatalf("records after roll-forward: %+v %v", recs, err)
	}

	// A re-add that changes nothing commits nothing: its record is
	// written on its own, and says so.
	res := add(t, env, "pg", nil)
	b, err := os.ReadFile(env.Instance.Path(instance.OperationsDir, res.Operation+".json"))
	if err != nil || !strings.Contains(string(b), "no changes") || !strings.Contains(string(b), `"succeeded"`) {
		t.Fatalf("record of an unchanged add: %s %v", b, err)
	}
}
