package roundtrip_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/operation"
)

// BenchmarkBackupVsRawDump is issue 14's benchmark, on the real node: a
// generated table of at least BENCH_DB_MB (default 1024) MB of dump text
// in gitea's database, then ROUNDS (default 3) rounds of, side by side:
//
//	raw      pg_dump > file, plain format, through the same exec
//	         transport the backup uses (the pod's pg_dump, this
//	         process writing the file)
//	raw-Fc   the same with -Fc -Z0, the dump the backup stores
//	backup   `wild app backup gitea --skip volume` into a fresh
//	         repository: the whole process, with its peak RSS
//	second   the same again, nothing changed: its time and new bytes
//	local    pg_dump > file against this machine's PostgreSQL
//	         (127.0.0.1:5432) holding the same table, once generated
//	         (BENCH_LOCAL=0 leaves it out): the transport's cost
//
// It prints min/median/max of backup throughput / raw throughput. The
// data is generated inside the pod with SQL, once per run.
//
//	make bench-backup
func BenchmarkBackupVsRawDump(b *testing.B) {
	mb := envInt("BENCH_DB_MB", 1024)
	rounds := envInt("ROUNDS", 3)
	f := newFixture(b, "postgres", "postgres", "gitea")
	rows := mb << 20 / benchRowBytes
	start := time.Now()
	pgKind.run(f, "gitea", benchTable(rows))
	b.Logf("generated %d rows in the pod in %s; gitea's database is %s", rows, time.Since(start).Round(time.Second),
		strings.TrimSuffix(pgKind.run(f, "gitea", "select pg_size_pretty(pg_database_size('gitea'))"), "\nok"))
	local := os.Getenv("BENCH_LOCAL") != "0"
	if local {
		localTable(b, rows)
	}
	dir := b.TempDir()
	pod := clustertest.ReadyPod(b, "postgres", "component=db")
	var res benchResults
	for r := 1; r <= rounds; r++ {
		raw, size := rawDump(b, f, pod.Name, pod.Spec.Containers[0].Name, "pg_dump -d gitea", filepath.Join(dir, "raw.sql"))
		rawFc, sizeFc := rawDump(b, f, pod.Name, pod.Spec.Containers[0].Name, "pg_dump -Fc -Z0 -d gitea", filepath.Join(dir, "raw.dump"))
		repo := filepath.Join(dir, fmt.Sprintf("repo-%d", r))
		must(b, f.inst.SetConfig("backup.destination.path", repo))
		first := benchBackup(b, f)
		second := benchBackup(b, f)
		must(b, os.RemoveAll(repo))
		line := fmt.Sprintf("round %d: raw %s (%s, %s) raw-Fc %s (%s) backup %s [dump+store %s, checksums %s, rss %s, %s stored] second %s [rss %s, %s new] ratio raw/backup %.2f raw-Fc/backup %.2f",
			r, raw, mbs(size, raw), mib(size), rawFc, mib(sizeFc), first.wall, first.steps["backup"], first.steps["checksum tables"], mib(first.rss), mib(first.newBytes),
			second.wall, mib(second.rss), mib(second.newBytes), raw.Seconds()/first.wall.Seconds(), rawFc.Seconds()/first.wall.Seconds())
		if local {
			l, _ := timed(b, exec.Command("sh", "-c", "pg_dump -h 127.0.0.1 -U postgres -d wild_bench > "+filepath.Join(dir, "local.sql")))
			line += fmt.Sprintf(" local %s", l)
			res.local = append(res.local, l.Seconds())
		}
		b.Log(line)
		fmt.Fprintln(os.Stderr, line)
		res.ratio = append(res.ratio, raw.Seconds()/first.wall.Seconds())
		res.ratioFc = append(res.ratioFc, rawFc.Seconds()/first.wall.Seconds())
		res.store = append(res.store, raw.Seconds()/first.steps["backup"].Seconds())
		res.second = append(res.second, second.wall.Seconds())
		res.rss = append(res.rss, float64(max(first.rss, second.rss)))
		res.raw = append(res.raw, raw.Seconds())
		res.dump = append(res.dump, float64(size))
	}
	res.print(b, local)
}

// benchRowBytes is about one generated row's length in the plain dump.
const benchRowBytes = 104

// benchTable makes gitea's table bench: an id and 96 hex characters of
// md5 per row, which compress about as much as typical text columns.
func benchTable(rows int) string {
	return fmt.Sprintf(`drop table if exists bench; create table bench (id bigint, a text, b text);
insert into bench select g, md5(g::text), md5((-g)::text) || md5((g * 7)::text) from generate_series(1, %d) g; analyze bench`, rows)
}

// localTable makes the same table in this machine's PostgreSQL.
func localTable(b *testing.B, rows int) {
	b.Helper()
	for _, sql := range []string{"drop database if exists wild_bench", "create database wild_bench"} {
		if out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql).CombinedOutput(); err != nil {
			b.Fatalf("local PostgreSQL: %v: %s", err, out)
		}
	}
	b.Cleanup(func() {
		_ = exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "drop database if exists wild_bench").Run()
	})
	if out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "wild_bench", "-v", "ON_ERROR_STOP=1", "-qc", benchTable(rows)).CombinedOutput(); err != nil {
		b.Fatalf("local PostgreSQL: %v: %s", err, out)
	}
}

// rawDump runs cmd in the pod through the exec transport into file and
// returns its time and size, then removes the file.
func rawDump(b *testing.B, f *fixture, pod, container, cmd, file string) (time.Duration, int64) {
	b.Helper()
	out, err := os.Create(file)
	must(b, err)
	defer os.Remove(file)
	start := time.Now()
	var errb strings.Builder
	err = f.kube.Exec(bg, kube.ExecOptions{Namespace: "postgres", Pod: pod, Container: container,
		Command: []string{"sh", "-c", `export PGPASSWORD="$POSTGRES_PASSWORD"; ` + cmd + ` -h 127.0.0.1 -U "$POSTGRES_USER"`},
		Stdout:  out, Stderr: &errb})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s: %v: %s", cmd, err, errb.String())
	}
	st, err := os.Stat(file)
	must(b, err)
	return d, st.Size()
}

type backupRun struct {
	wall     time.Duration
	rss      int64 // bytes
	newBytes int64
	steps    map[string]time.Duration
}

// benchBackup runs `wild app backup gitea` as its own process.
func benchBackup(b *testing.B, f *fixture) backupRun {
	b.Helper()
	cmd := f.wildCmd("app", "backup", "gitea", "--skip", "volume", "-o", "json")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	wall, st := timed(b, cmd)
	var res backup.BackupResult
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		b.Fatalf("wild app backup -o json: %v: %s", err, stdout.String())
	}
	if len(res.Warnings) > 0 {
		b.Fatalf("the backup warned: %v", res.Warnings)
	}
	rec, err := operation.Get(f.inst.Path(instance.OperationsDir), res.Operation)
	must(b, err)
	steps := map[string]time.Duration{}
	for _, s := range rec.Steps {
		steps[s.Name] = time.Duration(s.DurationMs) * time.Millisecond
	}
	return backupRun{wall: wall, rss: st.Maxrss << 10, newBytes: res.Stats.NewBytes, steps: steps}
}

// timed runs cmd and returns its wall time and resource usage.
func timed(b *testing.B, cmd *exec.Cmd) (time.Duration, *syscall.Rusage) {
	b.Helper()
	var errb strings.Builder
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, errb.String())
	}
	return d, cmd.ProcessState.SysUsage().(*syscall.Rusage)
}

type benchResults struct {
	ratio, ratioFc, store, second, rss, raw, dump, local []float64
}

func (r benchResults) print(b *testing.B, local bool) {
	load, _ := os.ReadFile("/proc/loadavg")
	lines := []string{
		fmt.Sprintf("backup throughput / raw `pg_dump > file` (same exec transport): %s", mmm(r.ratio, "%.2f")),
		fmt.Sprintf("backup throughput / raw `pg_dump -Fc -Z0 > file`:               %s", mmm(r.ratioFc, "%.2f")),
		fmt.Sprintf("dump+store step alone / raw:                                    %s", mmm(r.store, "%.2f")),
		fmt.Sprintf("raw pg_dump through exec, seconds:                               %s (dump %s)", mmm(r.raw, "%.1f"), mib(int64(median(r.dump)))),
		fmt.Sprintf("second, unchanged backup, seconds:                               %s", mmm(r.second, "%.1f")),
		fmt.Sprintf("backup process peak RSS, MiB:                                    %s", mmm(scale(r.rss, 1<<20), "%.0f")),
	}
	if local {
		lines = append(lines, fmt.Sprintf("raw pg_dump > file on local PostgreSQL, seconds:                %s", mmm(r.local, "%.1f")))
	}
	lines = append(lines, "load: "+strings.TrimSpace(string(load)))
	for _, l := range lines {
		b.Log(l)
		fmt.Fprintln(os.Stderr, l)
	}
	b.ReportMetric(median(r.ratio), "ratio-median")
	b.ReportMetric(median(r.rss)/(1<<20), "rss-MiB")
}

func mmm(v []float64, f string) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf("min "+f+" median "+f+" max "+f, s[0], median(s), s[len(s)-1])
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func scale(v []float64, by float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / by
	}
	return out
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func mbs(n int64, d time.Duration) string {
	return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
