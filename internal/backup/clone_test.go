package backup_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/testutil"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// TestClonePolicy: the target keeps what derives from its instance
// (templated defaults, namespace, anything naming the source's domain)
// and its own secrets, except the manifest's dataSecrets; the settings
// the source's owner chose cross over with their types.
func TestClonePolicy(t *testing.T) {
	p, err := catalog.Bundled().Get("gitea")
	must(t, err)
	src := map[string]any{
		"namespace": "gitea-a", "domain": "git.a.test", "dbHost": "postgres.postgres.svc.cluster.local",
		"dbName": "gitea", "image": "gitea/gitea:1.23.4-rootless",
		"disableRegistration": "true", "appName": "Our Git", "storage": "20Gi",
		"smtp":    map[string]any{"host": "mail.a.test", "port": "587"},
		"webhook": "https://hooks.a.test/x", "retries": 3, "mirrors": []any{"a", "b"},
	}
	target := map[string]any{
		"namespace": "gitea", "domain": "gitea.b.test", "dbHost": "postgres.b-postgres.svc.cluster.local",
		"dbName": "gitea", "image": "gitea/gitea:1.23.4-rootless",
		"disableRegistration": "false", "appName": "Gitea", "storage": "10Gi",
		"smtp": map[string]any{"host": "", "port": "587"},
	}
	secrets := map[string]any{"dbPassword": "a-db-pw", "secretKey": "a-secret-key", "smtpPassword": "a-smtp"}

	pol := backup.ClonePolicy(p.Manifest, src, secrets, target, "a.test")
	want := map[string]string{"disableRegistration": `"true"`, "appName": `"Our Git"`, "storage": `"20Gi"`, "retries": "3"}
	if !maps.Equal(pol.Config, want) {
		t.Errorf("carried config %v, want %v", pol.Config, want)
	}
	if len(pol.Secrets) != 1 || pol.Secrets["secretKey"] != "a-secret-key" || len(pol.MissingSecrets) != 0 {
		t.Errorf("carried secrets: %d keys %v, missing %v", len(pol.Secrets), slices.Sorted(maps.Keys(pol.Secrets)), pol.MissingSecrets)
	}
	notes := strings.Join(pol.Notes, "\n")
	for _, key := range []string{"namespace:", "domain:", "dbHost:", "smtp.host:", "webhook:", "mirrors:"} {
		if !strings.Contains(notes, key) {
			t.Errorf("no note says why %s stays the target's:\n%s", key, notes)
		}
	}
	for _, s := range []string{"a-db-pw", "a-secret-key", "a-smtp"} {
		if strings.Contains(notes, s) {
			t.Errorf("a note shows a secret value")
		}
	}
	// What is carried reads back through --set with its type.
	for k, v := range pol.Config {
		n, err := yamldoc.ParseValue(v)
		must(t, err)
		var back any
		must(t, n.Decode(&back))
		if back != src[k] {
			t.Errorf("%s: %q reads back as %#v, want %#v", k, v, back, src[k])
		}
	}

	// Without dataSecrets nothing secret crosses; a declared key the
	// backup lacks is reported, not invented.
	m := *p.Manifest
	m.Restore = &catalog.Restore{DataSecrets: []string{"secretKey"}}
	if pol := backup.ClonePolicy(&m, src, map[string]any{}, target, "a.test"); len(pol.Secrets) != 0 || len(pol.MissingSecrets) != 1 {
		t.Errorf("missing data secret: %v %v", slices.Sorted(maps.Keys(pol.Secrets)), pol.MissingSecrets)
	}
	m.Restore = nil
	if pol := backup.ClonePolicy(&m, src, secrets, target, "a.test"); len(pol.Secrets) != 0 {
		t.Errorf("a manifest without dataSecrets carried %v", slices.Sorted(maps.Keys(pol.Secrets)))
	}
}

// TestCloneRefusesBadInput: each bad request fails with one line before
// anything is written to either instance.
func TestCloneRefusesBadInput(t *testing.T) {
	data := t.TempDir()
	store := instance.NewStore(data)
	a, err := store.Create(instance.CreateOptions{Name: "a", Domain: "a.test"})
	must(t, err)
	b, err := store.Create(instance.CreateOptions{Name: "b", Domain: "b.test"})
	must(t, err)
	cat := catalog.Bundled()
	_, err = (&lifecycle.Add{Env: lifecycle.Env{Instance: b, Catalog: cat}, App: "memcached"}).Run(context.Background())
	must(t, err)
	// A's completed backup of hello and of memcached (plans only: the
	// refusals come before the repository is opened).
	for _, app := range []string{"hello", "memcached"} {
		plan := "app: " + app + "\ninstance: a\ntimestamp: 20261201T000000Z\nstatus: backed-up\nsnapshot: k0123\nsource: {namespace: " + app + ", appDir: apps/" + app + "}\nstrategies: [{name: config, status: backed-up}]\n"
		p := a.Path(backup.BackupsDir, app, "20261201T000000Z", "plan.yaml")
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(plan), 0o600))
	}
	before := testutil.Tree(t, data)
	env := backup.Env{Instance: b, Open: kopiastore.Open}
	for _, c := range []struct {
		name string
		op   backup.Clone
		code problem.Code
		msg  string
	}{
		{"bad app name", backup.Clone{App: "../x", Source: a}, problem.Invalid, "app"},
		{"no source", backup.Clone{App: "hello"}, problem.Invalid, "the instance or the repository to clone from"},
		{"into itself", backup.Clone{App: "hello", Source: b}, problem.Invalid, "restore instead"},
		{"no backups", backup.Clone{App: "redis", Source: a}, problem.NotFound, "no completed backup in instance a"},
		{"unknown backup", backup.Clone{App: "hello", Source: a, From: "20261111T000000Z"}, problem.NotFound, "has no backup 20261111T000000Z"},
		{"bad backup id", backup.Clone{App: "hello", Source: a, From: "../../x"}, problem.Invalid, "not a backup id"},
		{"already added", backup.Clone{App: "memcached", Source: a}, problem.Conflict, "already added to instance b"},
		{"both sources", backup.Clone{App: "hello", Source: a, Repository: &backup.RepositorySource{Instance: "a"}}, problem.Invalid, "one source"},
		{"repository without its instance", backup.Clone{App: "hello", Repository: &backup.RepositorySource{Password: "pw"}}, problem.Invalid, "the repository's instance"},
		{"no repository there", backup.Clone{App: "hello", Repository: &backup.RepositorySource{Instance: "a", Password: "pw",
			Destination: backup.Destination{Path: filepath.Join(data, "nothing")}}}, problem.NotFound, "no backup repository there"},
	} {
		c.op.Env, c.op.Catalog = env, cat
		_, err := c.op.Run(context.Background())
		if err == nil || problem.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v (%s), want %s with %q on one line", c.name, err, problem.CodeOf(err), c.code, c.msg)
		}
	}
	if after := testutil.Tree(t, data); after != before {
		t.Errorf("a refused clone changed files:\n%s\nwas:\n%s", after, before)
	}
}
