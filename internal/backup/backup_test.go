package backup

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/problem"
)

// The pod side of a stream is plain sh: run it here, with the same tools
// (sha256sum, mkfifo, tee, wc) the database images have, and check that
// both ends agree, and that a difference is caught.
func TestStreamScriptsReportWhatCrossed(t *testing.T) {
	payload := bytes.Repeat([]byte("row of data\n"), 100000)
	var out, errb bytes.Buffer
	cmd := exec.Command("sh", "-c", outScript(`cat "$1"`), "sh", writeTemp(t, payload))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	seen := newCounter(nil)
	seen.Write(out.Bytes())
	if err := checkStream("dump", nil, errb.String(), seen.tally()); err != nil {
		t.Fatalf("intact stream reported as damaged: %v", err)
	}
	short := newCounter(nil)
	short.Write(out.Bytes()[:len(payload)/2])
	var se *StreamError
	if err := checkStream("dump", nil, errb.String(), short.tally()); !errors.As(err, &se) || se.Pod.Bytes != int64(len(payload)) {
		t.Fatalf("truncated stream: %v", err)
	}
	if err := checkStream("dump", nil, "", seen.tally()); err == nil || !strings.Contains(err.Error(), "never arrived") {
		t.Fatalf("missing report: %v", err)
	}

	errb.Reset()
	cmd = exec.Command("sh", "-c", inScript(`wc -c > /dev/null; exit 3`))
	cmd.Stdin, cmd.Stderr = bytes.NewReader(payload), &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("the command's exit status must come through: %v", err)
	}
	if got, ok := podTally(errb.String()); !ok || got.Bytes != int64(len(payload)) {
		t.Fatalf("stdin tally: %+v %v (%s)", got, ok, errb.String())
	}
}

func TestEndMark(t *testing.T) {
	out, err := exec.Command("sh", "-c", withEndMark(`echo "$1"`), "sh", "gitea").Output()
	if body, ok := strings.CutSuffix(string(out), endMark); err != nil || !ok || body != "gitea\n" {
		t.Errorf("marked output %q: %v", out, err)
	}
	out, err = exec.Command("sh", "-c", withEndMark(`echo partial; exit 4`)).Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || strings.Contains(string(out), "wild-end") {
		t.Errorf("a failed script must keep its status and get no end mark: %q %v", out, err)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newInstance(t *testing.T) *instance.Instance {
	t.Helper()
	inst, err := instance.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "home", Domain: "wild.test"})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestPlanIsSavedAtomicallyAndTellsAStaleOwner(t *testing.T) {
	inst := newInstance(t)
	p := &RecoveryPlan{App: "gitea", Instance: "home", Timestamp: "20260308T231537Z", Status: StatusBackingUp, Owner: owner(),
		Strategies: []StrategyEntry{{Name: "postgres", Params: map[string]string{"dbName": "gitea"}}}}
	p.start("backup")
	if err := p.Save(inst); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(inst.Path(planPath("gitea", p.Timestamp)))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v %v", st, err)
	}
	got, err := LoadPlan(inst, "gitea", "")
	if err != nil || got.Strategies[0].Params["dbName"] != "gitea" || got.Phases["backup"] == nil {
		t.Fatalf("load: %+v %v", got, err)
	}
	if got.Stale(time.Now()) {
		t.Error("a plan owned by this live process is not stale")
	}
	got.Owner.Heartbeat = time.Now().Add(-2 * LockTTL)
	if !got.Stale(time.Now()) {
		t.Error("a silent owner past LockTTL is stale")
	}
	got.Owner = &Owner{PID: 1 << 30, Host: got.Owner.Host, Heartbeat: time.Now()}
	if !got.Stale(time.Now()) {
		t.Error("an owner process that is gone is stale")
	}
	if err := got.Save(inst); err != nil {
		t.Fatal(err)
	}
	if err := markInterrupted(Env{Instance: inst}, "gitea"); err != nil {
		t.Fatal(err)
	}
	if p, _ := LoadPlan(inst, "gitea", p.Timestamp); p.Status != StatusFailed || !strings.Contains(p.Error, "interrupted") {
		t.Errorf("an interrupted backup must say so: %s %q", p.Status, p.Error)
	}
}

func TestBadBackupIDs(t *testing.T) {
	inst := newInstance(t)
	for _, id := range []string{"../x", "latest", "2026"} {
		if _, err := LoadPlan(inst, "gitea", id); problem.CodeOf(err) != problem.Invalid {
			t.Errorf("LoadPlan(%q) = %v, want invalid", id, err)
		}
	}
	if _, err := LoadPlan(inst, "../etc", ""); err == nil {
		t.Error("an app name that escapes must be refused")
	}
	if _, err := LoadPlan(inst, "gitea", ""); problem.CodeOf(err) != problem.NotFound {
		t.Errorf("no backups: %v", err)
	}
}

func TestPasswordIsGeneratedOnceAndNeverDefaults(t *testing.T) {
	inst := newInstance(t)
	if _, err := ExportKey(inst); problem.CodeOf(err) != problem.NotFound {
		t.Fatalf("before any backup there is no password: %v", err)
	}
	pw, err := password(inst, true)
	if err != nil || len(pw) < 40 {
		t.Fatalf("generated %d chars: %v", len(pw), err)
	}
	again, err := password(inst, true)
	if err != nil || again != pw {
		t.Fatal("the password must not change once generated")
	}
	if got, _ := ExportKey(inst); got != pw {
		t.Error("export must print the stored password")
	}
	st, _ := os.Stat(inst.Path(instance.SecretsFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secrets.yaml mode %v", st.Mode().Perm())
	}
	other := newInstance(t)
	pw2, _ := password(other, true)
	if pw2 == pw {
		t.Error("two instances got the same password")
	}
}

func TestDestination(t *testing.T) {
	inst := newInstance(t)
	d, err := ReadDestination(inst)
	if err != nil || d.Path != filepath.Join(filepath.Dir(filepath.Dir(inst.Dir)), "backups", "home") {
		t.Fatalf("default destination %+v %v", d, err)
	}
	must(t, inst.SetConfig("backup.destination.s3.endpoint", "127.0.0.1:7070"))
	if _, err := ReadDestination(inst); problem.CodeOf(err) != problem.Invalid {
		t.Errorf("s3 without bucket: %v", err)
	}
	must(t, inst.SetConfig("backup.destination.s3.bucket", "wild"))
	must(t, inst.SetSecret("backup.s3.secretAccessKey", "sekret"))
	d, err = ReadDestination(inst)
	if err != nil || d.S3 == nil || d.S3.Bucket != "wild" || d.S3.SecretAccessKey != "sekret" {
		t.Fatalf("s3 destination %+v %v", d, err)
	}
	must(t, inst.SetConfig("backup.destination.typo", "x"))
	if _, err := ReadDestination(inst); problem.CodeOf(err) != problem.Invalid {
		t.Errorf("unknown key: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSelectStrategiesFromTheManifest(t *testing.T) {
	cases := map[string][]string{
		"gitea":    {"config", "postgres", "volume"},
		"ghost":    {"config", "mysql", "volume"},
		"postgres": {"config", "volume"},
	}
	for app, want := range cases {
		pkg, err := catalog.Bundled().Get(app)
		if err != nil {
			t.Fatal(err)
		}
		m := pkg.Manifest
		a := &App{Name: app, Manifest: m, Config: map[string]any{"dbName": app}}
		var got []string
		for _, s := range SelectStrategies(a) {
			got = append(got, s.Name())
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", app, got, want)
		}
	}
	// No restore: field: the heuristic, with a warning.
	var warned []string
	a := &App{Name: "x", Manifest: &catalog.Manifest{Requires: []catalog.Requirement{{Name: "postgres"}}},
		Config: map[string]any{"dbName": "x"}, Warn: func(f string, args ...any) { warned = append(warned, f) }}
	if s := SelectStrategies(a); len(s) != 2 || len(warned) != 1 {
		t.Errorf("heuristic fallback: %d strategies, warnings %v", len(s), warned)
	}
}

// A long run's heartbeat moves on its own, never undoes what the run
// saved meanwhile, stops when told, and leaves alone a plan that another
// process owns.
func TestHeartbeatKeepsALongRunAlive(t *testing.T) {
	inst := newInstance(t)
	old := time.Now().Add(-time.Hour).UTC()
	p := &RecoveryPlan{App: "gitea", Instance: "home", Timestamp: "20260308T231537Z", Status: StatusRestoring, Owner: owner()}
	if err := p.Save(inst); err != nil {
		t.Fatal(err)
	}
	stored := func() *RecoveryPlan {
		t.Helper()
		got, err := LoadPlan(inst, "gitea", p.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// The stored heartbeat is made old, as after a long silent dump.
	aged := stored()
	aged.Owner.Heartbeat = old
	writePlanRaw(t, inst, aged)

	stop := heartbeat(inst, "gitea", p.Timestamp, 10*time.Millisecond)
	waitFor(t, "a heartbeat", func() bool { return stored().Owner.Heartbeat.After(old.Add(time.Minute)) })
	// The run records progress meanwhile: the beats keep it.
	p.Status, p.Error = StatusRestoring, "step two"
	if err := p.Save(inst); err != nil {
		t.Fatal(err)
	}
	beatAfter := stored().Owner.Heartbeat
	waitFor(t, "a heartbeat after the run saved", func() bool { return stored().Owner.Heartbeat.After(beatAfter) })
	if got := stored(); got.Error != "step two" || got.Status != StatusRestoring || got.Stale(time.Now().Add(LockTTL/2)) {
		t.Errorf("after beats: %+v", got)
	}
	stop()
	last := stored().Owner.Heartbeat
	time.Sleep(50 * time.Millisecond)
	if got := stored().Owner.Heartbeat; !got.Equal(last) {
		t.Errorf("the heartbeat moved after stop: %s -> %s", last, got)
	}

	// Another process took the plan over: a beat of this one changes nothing.
	other := stored()
	other.Owner = &Owner{PID: os.Getpid() + 1, Host: "elsewhere", Heartbeat: old}
	writePlanRaw(t, inst, other)
	if err := beat(inst, "gitea", p.Timestamp); err != nil {
		t.Fatal(err)
	}
	if got := stored().Owner; got.Host != "elsewhere" || !got.Heartbeat.Equal(old) {
		t.Errorf("a beat changed another owner's plan: %+v", got)
	}
}

// writePlanRaw stores p as it is (Save would refresh the heartbeat).
func writePlanRaw(t *testing.T, inst *instance.Instance, p *RecoveryPlan) {
	t.Helper()
	b, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inst.Path(planPath(p.App, p.Timestamp)), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 10s (a bound for a loaded machine, not a
// timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s within 10s", what)
}
