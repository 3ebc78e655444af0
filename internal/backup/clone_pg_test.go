package backup

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCloneLoadsADumpUnderTheTargetsOwner runs the clone's own scripts
// (owner, prepare, load) against this machine's real PostgreSQL: a dump
// made while the source's role owned and was granted the table loads into
// the target's database after that role is gone, everything owned by the
// target's role, with the same rows; the target's old content is replaced.
func TestCloneLoadsADumpUnderTheTargetsOwner(t *testing.T) {
	sfx := fmt.Sprint(os.Getpid())
	src, dst, roleA, roleB, reader := "clone_src_"+sfx, "clone_dst_"+sfx, "clone_a_"+sfx, "clone_b_"+sfx, "clone_r_"+sfx
	run := func(script string, stdin []byte, args ...string) ([]byte, error) {
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.Env = append(os.Environ(), "POSTGRES_USER=postgres", "POSTGRES_PASSWORD=")
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		return out, err
	}
	sh := func(script string, stdin []byte, args ...string) []byte {
		t.Helper()
		out, err := run(script, stdin, args...)
		if err != nil {
			t.Fatalf("%.80s: %v", script, err)
		}
		return out
	}
	psql := func(db, sql string) string {
		t.Helper()
		return strings.TrimSpace(string(sh(pgEnv+`psql -d "$1" -v ON_ERROR_STOP=1 -Atqc "$2"`, nil, db, sql)))
	}
	t.Cleanup(func() {
		for _, q := range []string{"drop database if exists " + src, "drop database if exists " + dst, "drop role if exists " + roleA, "drop role if exists " + roleB, "drop role if exists " + reader} {
			_ = exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", q).Run()
		}
	})
	for _, q := range []string{"create role " + roleA + " login", "create role " + roleB + " login", "create role " + reader,
		"create database " + src + " owner " + roleA, "create database " + dst + " owner " + roleB} {
		psql("postgres", q)
	}
	psql(src, "create table t (id int primary key, v text); alter table t owner to "+roleA+"; grant select on t to "+roleA+
		"; grant select on t to "+reader+"; insert into t select g, 'v' || g from generate_series(1, 500) g")
	psql(dst, "create table stale (x int)")
	want := psql(src, "select count(*) || ' ' || md5(string_agg(id || v, ',' order by id)) from t")
	dump := sh(postgres.dump, nil, src)
	psql("postgres", "drop database "+src)
	psql("postgres", "drop role "+roleA)
	psql("postgres", "drop role "+reader)

	owner := strings.TrimSpace(string(sh(postgres.owner, nil, dst)))
	if owner != roleB {
		t.Fatalf("owner of %s: %q", dst, owner)
	}
	// A restore's own load keeps the grants, which name roles the
	// target does not have.
	sh(postgres.prepare, nil, dst, dst, owner)
	if _, err := run(postgres.load, dump, dst, dst, owner); err == nil || !strings.Contains(err.Error(), reader) {
		t.Fatalf("the plain load of a dump granting to a missing role: %v", err)
	}
	sh(postgres.prepare, nil, dst, dst, owner)
	sh(cloneLoad["postgres"], dump, dst, dst, owner)
	if got := psql(dst, "select count(*) || ' ' || md5(string_agg(id || v, ',' order by id)) from t"); got != want {
		t.Errorf("cloned rows %q, want %q", got, want)
	}
	if got := psql(dst, "select tableowner from pg_tables where tablename = 't'"); got != roleB {
		t.Errorf("the cloned table belongs to %q, want the target's %s", got, roleB)
	}
	if got := psql(dst, "select count(*) from pg_tables where tablename = 'stale'"); got != "0" {
		t.Error("the target's old content survived the clone")
	}
}
