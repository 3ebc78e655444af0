package backup

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/lazyre"
	"github.com/wild-cloud/wild/internal/problem"
)

// dialect is what differs between the postgres and mysql strategies:
// the commands, run inside the database server's pod, where the server's
// own client tools match its version. Credentials come from the pod's
// environment (the image's POSTGRES_PASSWORD / MYSQL_ROOT_PASSWORD), so
// no secret passes through a command line or this process.
type dialect struct {
	name string
	ext  string
	// owner prints the role or users the database belongs to ($1 db).
	owner string
	// dump writes the database $1 to stdout.
	dump string
	// prepare (re)creates the standby database $2 for the owner $3 of
	// the source $1.
	prepare string
	// load reads a dump on stdin into $2.
	load string
	// drop removes database $1.
	drop string
	// tables prints one line per table of database $1: "NAME COUNT SUM",
	// computed by the server, so a restore drill compares what the
	// restored database holds with what the backed-up one held.
	tables string
	// sumVersion names the formula of tables, recorded with the sums: a
	// drill refuses to compare sums of different formulas.
	sumVersion string
	// export, when the server can share a snapshot, is a session that
	// reads "BEGIN; SELECT pg_export_snapshot()" and "COMMIT" on stdin.
	export string
}

const pgEnv = `export PGPASSWORD="$POSTGRES_PASSWORD" PGHOST=127.0.0.1 PGUSER="${POSTGRES_USER:-postgres}"; `

var postgres = dialect{
	name:  "postgres",
	ext:   "dump",
	owner: pgEnv + `psql -d postgres -Atc "select pg_get_userbyid(datdba) from pg_database where datname = '$1'"`,
	// Custom format, so pg_restore can check and reorder it, but not
	// compressed: zlib in the pod's one pg_dump process made the backup
	// run at 1/6 of a plain pg_dump (BenchmarkBackupVsRawDump), while the
	// repository compresses in parallel here, and only uncompressed
	// bytes deduplicate across backups. $2, when set, is the snapshot.
	dump: pgEnv + `pg_dump -Fc -Z0 -d "$1" ${2:+--snapshot="$2"}`,
	prepare: pgEnv + `psql -d postgres -v ON_ERROR_STOP=1 -q -c "drop database if exists \"$2\" with (force)" ` +
		`-c "create database \"$2\" owner \"$3\""`,
	load: pgEnv + `pg_restore -d "$2" --no-owner --role="$3" --exit-on-error`,
	drop: pgEnv + `psql -d postgres -v ON_ERROR_STOP=1 -q -c "drop database if exists \"$1\" with (force)"`,
	// Each row's 64-bit hash of its text form (hashtextextended, the
	// hash of hash partitioning, stable for a server version), summed:
	// the sum does not depend on the physical order pg_restore wrote the
	// rows in, and it streams (no sort, no string the size of the table,
	// which PostgreSQL caps at 1 GB). $2, when set, is an exported
	// snapshot: the sums are then of exactly the rows the dump read.
	tables: pgEnv + `psql -d "$1" -v ON_ERROR_STOP=1 -Atq -F ' ' -v snap="$2" <<'EOF'
select :'snap' <> '' as has_snap \gset
begin transaction isolation level repeatable read read only;
\if :has_snap
set transaction snapshot :'snap';
\endif
select format('select %L, count(*), coalesce(sum(hashtextextended(x::text, 0)), 0) from %I.%I x',
  schemaname || '.' || tablename, schemaname, tablename)
from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1
\gexec
commit;
EOF
`,
	sumVersion: "2",
	// A transaction whose snapshot the dump and the sums share: it
	// prints the snapshot's id, then holds it until its stdin ends.
	export: pgEnv + `exec psql -d "$1" -v ON_ERROR_STOP=1 -Atq`,
}

// The mysql image may be MySQL (mysqldump, mysql) or MariaDB
// (mariadb-dump, mariadb); whichever the server ships is used. The port
// comes from the server app's config as WILD_DB_PORT (podExec.env).
const myEnv = `export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"; ` +
	`dumpcmd=$(command -v mariadb-dump || command -v mysqldump); clientcmd=$(command -v mariadb || command -v mysql); ` +
	`my() { "$clientcmd" -h127.0.0.1 -P"${WILD_DB_PORT:-3306}" -uroot "$@"; }; `

// bq is a backquoted identifier inside a double-quoted shell word.
func bq(v string) string { return "\\`" + v + "\\`" }

var mysql = dialect{
	name:  "mysql",
	ext:   "sql",
	owner: myEnv + `my -N -B -e "select schema_name from information_schema.schemata where schema_name = '$1'"`,
	dump:  myEnv + `"$dumpcmd" -h127.0.0.1 -P"${WILD_DB_PORT:-3306}" -uroot --single-transaction --routines --triggers --events "$1"`,
	// The grants of the source's users are repeated on the standby, so
	// the app's own user can use it after a switch.
	prepare: myEnv + `my -e "drop database if exists ` + bq("$2") + `; create database ` + bq("$2") + `" && ` +
		`my -N -B -e "select concat('grant all privileges on ` + bq("$2") + `.* to ', quote(User), '@', quote(Host), ';') from mysql.db where Db = '$1'" | my`,
	load: myEnv + `my "$2"`,
	drop: myEnv + `my -e "drop database if exists ` + bq("$1") + `"`,
	// CHECKSUM TABLE reads every row; the drill restores into the same
	// server, so the row format (which the sum depends on) is the same.
	tables: myEnv + `for t in $(my -N -B -e "select table_name from information_schema.tables where table_schema = '$1' and table_type = 'BASE TABLE' order by 1"); do
  n=$(my -N -B -e "select count(*) from ` + bq("$1") + `.` + bq("$t") + `") || exit 1
  c=$(my -N -B -e "checksum table ` + bq("$1") + `.` + bq("$t") + `" | cut -f2) || exit 1
  echo "$t $n $c"
done
`,
}

// dbName is what a database may be called here: it is spliced into SQL,
// so nothing outside this set is accepted.
var portRE = lazyre.New(`^[0-9]{1,5}$`)

var dbName = lazyre.New(`^[A-Za-z0-9_]{1,63}$`)

// dbStrategy backs up one database of the app by a logical dump streamed
// from the server's pod, and restores it into `{db}_{color}`.
type dbStrategy struct {
	dialect   dialect
	server    string // the added app serving the database
	configKey string
	// held is the transaction, from Backup until release, whose
	// snapshot the dump reads and the table sums are taken in.
	held *heldSnapshot
	// sums delivers those sums, taken while the dump runs.
	sums chan tableSumsResult
}

type tableSumsResult struct {
	sums map[string]string
	err  error
}

func (s *dbStrategy) Name() string { return s.dialect.name }

func (s *dbStrategy) file(db string) string { return s.dialect.name + "/" + db + "." + s.dialect.ext }

// baseDB is the database name config gives (the original side's).
func (s *dbStrategy) baseDB(a *App) (string, error) {
	db, ok := a.configString(s.configKey)
	if !ok {
		return "", fmt.Errorf("%s: config apps.%s.%s (restore.databases.configKey) is not set; set it or fix the manifest", a.Name, a.Name, s.configKey)
	}
	if !dbName().MatchString(db) || !dbName().MatchString(db+"_green") {
		return "", fmt.Errorf("%s: database name %q (apps.%s.%s) is not a plain name of letters, digits and _", a.Name, db, a.Name, s.configKey)
	}
	return db, nil
}

func (s *dbStrategy) Backup(ctx context.Context, a *App) ([]Stream, map[string]string, error) {
	base, err := s.baseDB(a)
	if err != nil {
		return nil, nil, err
	}
	// After a switch the active side is a colored copy.
	db := a.liveName(base, "_")
	px, err := serverPod(ctx, a, s.server)
	if err != nil {
		return nil, nil, err
	}
	owner, err := px.run(ctx, s.dialect.owner, db)
	if err != nil {
		return nil, nil, fmt.Errorf("find database %s on %s: %w", db, s.server, err)
	}
	owner = strings.TrimSpace(owner)
	if owner == "" {
		return nil, nil, fmt.Errorf("database %s does not exist on %s (pod %s/%s); is %s deployed?", db, s.server, px.namespace, px.pod, a.Name)
	}
	snap := ""
	if s.dialect.export != "" {
		if s.held, err = px.exportSnapshot(ctx, s.dialect.export, db); err != nil {
			return nil, nil, fmt.Errorf("hold a snapshot of database %s on %s: %w", db, s.server, err)
		}
		snap = s.held.id
		// The sums read the table while the dump does: in the same
		// snapshot, they need not wait for it.
		s.sums = make(chan tableSumsResult, 1)
		go func() {
			sums, err := s.tableSums(ctx, a, db, snap)
			s.sums <- tableSumsResult{sums, err}
		}()
	}
	name := s.file(db)
	params := map[string]string{"dbName": db, "baseName": base, "configKey": s.configKey, "server": s.server, "owner": owner, "file": name}
	open := func(ctx context.Context) (io.ReadCloser, error) {
		r := px.streamOut(ctx, "dump "+db, s.dialect.dump, func(n int64) { a.progress(name, n) }, db, snap)
		crashpoint.Hit("backup.dump-started")
		return r, nil
	}
	return []Stream{{Name: name, Open: open}}, params, nil
}

func (s *dbStrategy) Restore(ctx context.Context, a *App, in Reader, e *StrategyEntry) error {
	src := e.Params["dbName"]
	target := orName(e.Params["baseName"], src) + "_" + a.Color
	if !dbName().MatchString(src) || !dbName().MatchString(target) {
		return fmt.Errorf("plan names database %q, which is not a plain name", src)
	}
	// The standby database is dropped and made afresh: never the live one.
	if live := a.liveName(orName(e.Params["baseName"], src), "_"); target == live {
		return fmt.Errorf("the standby database %s is the live one; nothing was changed", target)
	}
	px, err := serverPod(ctx, a, s.server)
	if err != nil {
		return err
	}
	if _, err := px.run(ctx, s.dialect.prepare, src, target, e.Params["owner"]); err != nil {
		return fmt.Errorf("create database %s: %w", target, err)
	}
	r, err := in(ctx, e.Params["file"])
	if err != nil {
		return err
	}
	defer r.Close()
	if err := px.streamIn(ctx, "restore "+target, s.dialect.load, r, func(n int64) { a.progress(e.Params["file"], n) }, src, target, e.Params["owner"]); err != nil {
		return err
	}
	e.Restore = map[string]string{"dbName": target}
	return nil
}

func (s *dbStrategy) Remove(ctx context.Context, a *App, e *StrategyEntry) (string, error) {
	old := e.Params["dbName"]
	if old == "" || old == e.Restore["dbName"] || old == a.liveName(orName(e.Params["baseName"], old), "_") {
		return "", nil // never the side that serves
	}
	if !dbName().MatchString(old) {
		return "", fmt.Errorf("plan names database %q, which is not a plain name", old)
	}
	px, err := serverPod(ctx, a, s.server)
	if err != nil {
		return "", err
	}
	if _, err := px.run(ctx, s.dialect.drop, old); err != nil {
		return "", fmt.Errorf("drop the retired database %s: %w", old, err)
	}
	return "database " + old, nil
}

func orName(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// serverPod finds the Ready pod of a database app: its namespace from
// config, its pod by the component=db label the bundled apps use.
func serverPod(ctx context.Context, a *App, server string) (podExec, error) {
	ns := server
	if v, err := a.Instance.GetConfig("apps." + server + ".namespace"); err == nil && fmt.Sprint(v) != "" {
		ns = fmt.Sprint(v)
	}
	pods, err := a.Kube.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "component=db"})
	if err != nil {
		return podExec{}, fmt.Errorf("find the %s pod in namespace %s: %w", server, ns, err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && podReady(p) && len(p.Spec.Containers) > 0 {
			px := podExec{kube: a.Kube, namespace: ns, pod: p.Name, container: p.Spec.Containers[0].Name, app: server}
			if port, err := a.Instance.GetConfig("apps." + server + ".port"); err == nil && portRE().MatchString(fmt.Sprint(port)) {
				px.env = "export WILD_DB_PORT=" + fmt.Sprint(port) + "; "
			}
			return px, nil
		}
	}
	return podExec{}, problem.New(problem.PreconditionFailed, fmt.Sprintf("no Ready %s pod (label component=db) in namespace %s", server, ns)).
		With("app.deploy", "deploy it first", "app", server)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// tablePrefix marks a table's "COUNT SUM" in a database entry's Backup
// map; tablesKey holds how many tables were recorded, so a backup with
// none recorded is told from an empty database.
const (
	tablePrefix = "table:"
	tablesKey   = "tables"
	// sumsKey names the formula of the sums (dialect.sumVersion).
	sumsKey = "sums"
)

// release ends the transaction Backup held, if any.
func (s *dbStrategy) release() {
	if s.held != nil {
		s.held.release()
		s.held = nil
	}
}

// tableSums asks the server for each table's row count and checksum in
// db, in the exported snapshot snap when it is not "".
func (s *dbStrategy) tableSums(ctx context.Context, a *App, db, snap string) (map[string]string, error) {
	if !dbName().MatchString(db) {
		return nil, fmt.Errorf("database %q is not a plain name", db)
	}
	px, err := serverPod(ctx, a, s.server)
	if err != nil {
		return nil, err
	}
	out, err := px.run(ctx, s.dialect.tables, db, snap)
	if err != nil {
		return nil, fmt.Errorf("checksum the tables of %s: %w", db, err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		n := len(f)
		sums[strings.Join(f[:n-2], " ")] = f[n-2] + " " + f[n-1]
	}
	return sums, nil
}

// recordTables stores each database's per-table count and checksum in its
// plan entry. used[i] is the strategy that wrote plan.Strategies[i].
// PostgreSQL's sums are taken in the snapshot the dump read, while it
// runs, so rows written meanwhile make no difference. MySQL/MariaDB cannot share a
// snapshot between sessions: its sums are taken right after the dump, and
// writes landing in between make a later drill report a difference (back
// up quiet apps, or read such a report against the app's write rate).
func recordTables(ctx context.Context, a *App, plan *RecoveryPlan, used []Strategy) {
	for i := range plan.Strategies {
		e := &plan.Strategies[i]
		s, ok := used[i].(*dbStrategy)
		if !ok {
			continue
		}
		var sums map[string]string
		var err error
		if s.sums != nil {
			r := <-s.sums
			sums, err = r.sums, r.err
		} else {
			sums, err = s.tableSums(ctx, a, e.Params["dbName"], "")
		}
		s.release()
		if err != nil {
			a.warn("%s: the table checksums were not recorded, so a restore drill cannot check this backup: %v", e.Params["dbName"], err)
			continue
		}
		e.Backup = map[string]string{tablesKey: strconv.Itoa(len(sums))}
		if s.dialect.sumVersion != "" {
			e.Backup[sumsKey] = s.dialect.sumVersion
		}
		for t, v := range sums {
			e.Backup[tablePrefix+t] = v
		}
	}
}

// releaseAll ends every transaction the strategies still hold.
func releaseAll(used []Strategy) {
	for _, s := range used {
		if db, ok := s.(*dbStrategy); ok {
			db.release()
		}
	}
}

// dbFor is the database strategy of a plan entry, if it is one.
func dbFor(e *StrategyEntry) (*dbStrategy, bool) {
	if e.Name != "postgres" && e.Name != "mysql" {
		return nil, false
	}
	s, err := strategyFor(e)
	if err != nil {
		return nil, false
	}
	db, ok := s.(*dbStrategy)
	return db, ok
}
