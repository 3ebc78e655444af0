package instance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

func newInstance(t *testing.T) (*Store, *Instance) {
	t.Helper()
	s := NewStore(t.TempDir())
	inst, err := s.Create(CreateOptions{Name: "home", Domain: "cloud.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return s, inst
}

func TestCreateLayout(t *testing.T) {
	_, inst := newInstance(t)
	for _, p := range []string{ConfigFile, SecretsFile, AppsDir, OperationsDir} {
		if _, err := os.Stat(inst.Path(p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	st, _ := os.Stat(inst.Path(SecretsFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secrets.yaml mode %v", st.Mode().Perm())
	}
	for path, want := range map[string]any{"cloud.domain": "cloud.example.com", "cloud.internalDomain": "internal.cloud.example.com", "operator.email": "admin@cloud.example.com"} {
		got, err := inst.GetConfig(path)
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", path, got, err, want)
		}
	}
	if _, err := inst.GetConfig("apps"); err != nil {
		t.Errorf("apps missing: %v", err)
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	s := NewStore(t.TempDir())
	for _, o := range []CreateOptions{
		{Name: "../x", Domain: "a.com"}, {Name: "a/b", Domain: "a.com"}, {Name: "Home", Domain: "a.com"},
		{Name: strings.Repeat("a", 64), Domain: "a.com"}, {Name: "ok", Domain: ""}, {Name: "ok", Domain: "a..com"},
		{Name: "ok", Domain: "a.com", Kubeconfig: "/does/not/exist"},
	} {
		if _, err := s.Create(o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
	if all, _ := s.List(); len(all) != 0 {
		t.Errorf("bad input left instances behind: %v", all)
	}
	if _, err := s.Create(CreateOptions{Name: "ok", Domain: "a.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(CreateOptions{Name: "ok", Domain: "b.com"}); err == nil {
		t.Error("created over an existing instance")
	}
}

func TestResolve(t *testing.T) {
	s := NewStore(t.TempDir())
	if _, err := s.Resolve(""); err == nil || !strings.Contains(err.Error(), "wild instance create") {
		t.Fatalf("no instances: %v", err)
	}
	s.Create(CreateOptions{Name: "a", Domain: "a.com"})
	if inst, err := s.Resolve(""); err != nil || inst.Name != "a" {
		t.Fatalf("single instance: %v %v", inst, err)
	}
	s.Create(CreateOptions{Name: "b", Domain: "b.com"})
	if _, err := s.Resolve(""); err == nil || !strings.Contains(err.Error(), "wild instance use") {
		t.Fatalf("two instances, none chosen: %v", err)
	}
	if err := s.Use("b"); err != nil {
		t.Fatal(err)
	}
	if inst, _ := s.Resolve(""); inst.Name != "b" {
		t.Fatalf("current ignored: %v", inst.Name)
	}
	if inst, _ := s.Resolve("a"); inst.Name != "a" {
		t.Fatal("explicit ignored")
	}
	if _, err := s.Resolve("zzz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

func TestUnparsableConfigIsNeverOverwritten(t *testing.T) {
	_, inst := newInstance(t)
	broken := []byte("cloud:\n  domain: [oops\n")
	os.WriteFile(inst.Path(ConfigFile), broken, 0o644)
	err := inst.SetConfig("apps.x.y", "1")
	if err == nil || !strings.Contains(err.Error(), "config.yaml:") {
		t.Fatalf("want a parse error naming the file and line, got %v", err)
	}
	got, _ := os.ReadFile(inst.Path(ConfigFile))
	if string(got) != string(broken) {
		t.Fatal("broken config.yaml was overwritten")
	}
}

func TestSecretsStay0600AndListMasks(t *testing.T) {
	_, inst := newInstance(t)
	if err := inst.SetSecret("apps.ghost.password", "hunter2-very-secret"); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(inst.Path(SecretsFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	entries, err := inst.ListSecrets("apps")
	if err != nil || len(entries) != 1 || entries[0].Path != "apps.ghost.password" {
		t.Fatalf("%v %v", entries, err)
	}
	if strings.Contains(fmt.Sprintf("%+v", entries), "hunter2") {
		t.Fatal("listing leaked the value")
	}
}

// TestTornJournalIsNoCommit cuts a journal short at every length, as a
// crash during its write would: the journal is written in place, so such
// a journal must count as never written (old state, no leftovers), while
// the whole journal rolls forward to the new state.
func TestTornJournalIsNoCommit(t *testing.T) {
	s, inst := newInstance(t)
	var journal []byte
	func() {
		restore := crashpoint.Set(func(p string) {
			if p == "after-journal" {
				entries, _ := filepath.Glob(inst.Path(txDir, "*.journal"))
				journal, _ = os.ReadFile(entries[0])
				panic("crash")
			}
		})
		defer func() { restore(); recover() }()
		inst.Update(func(e *Edit) error {
			return e.Config.Set([]string{"apps", "ghost", "port"}, strNode("1"))
		})
	}()
	if len(journal) == 0 {
		t.Fatal("no journal captured")
	}
	stage, _ := filepath.Glob(inst.Path(txDir, "*.journal"))
	name := stage[0]
	for _, n := range []int{0, 1, 8, len(journal) / 2, len(journal) - 2, len(journal) - 1, len(journal)} {
		os.MkdirAll(strings.TrimSuffix(name, ".journal"), 0o755)
		os.WriteFile(strings.TrimSuffix(name, ".journal")+"/f0", []byte("apps: {ghost: {port: \"1\"}}\ncloud: {domain: cloud.example.com}\n"), 0o644)
		os.WriteFile(name, journal[:n], 0o600)
		inst2, err := s.Open("home")
		if err != nil {
			t.Fatalf("journal cut at %d of %d: %v", n, len(journal), err)
		}
		_, cfgErr := inst2.GetConfig("apps.ghost.port")
		if whole := n == len(journal); whole != (cfgErr == nil) {
			t.Fatalf("journal cut at %d of %d: applied=%v", n, len(journal), cfgErr == nil)
		}
		if entries, _ := os.ReadDir(inst2.Path(txDir)); len(entries) > 0 && !strings.HasSuffix(entries[0].Name(), ".lock") {
			t.Fatalf("journal cut at %d: leftover %s", n, entries[0].Name())
		}
	}
}

// TestTxRecoversFromEveryCrashPoint simulates a crash at each point of a
// commit (by panicking out of the hook) and checks that the next Open
// leaves the instance fully old or fully new, never a mix.
func TestTxRecoversFromEveryCrashPoint(t *testing.T) {
	points := []string{"before-journal", "after-journal", "after-op-0", "after-op-1", "after-op-2"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			s, inst := newInstance(t)
			os.MkdirAll(inst.AppDir("ghost"), 0o755)
			os.WriteFile(filepath.Join(inst.AppDir("ghost"), "old.yaml"), []byte("old"), 0o644)
			func() {
				restore := crashpoint.Set(func(p string) {
					if p == point {
						panic("crash")
					}
				})
				defer func() { restore(); recover() }()
				inst.Update(func(e *Edit) error {
					e.Config.Set([]string{"apps", "ghost", "port"}, strNode("1"))
					e.Secrets.Set([]string{"apps", "ghost", "pw"}, strNode("x"))
					return e.ReplaceDir("apps/ghost", func(dir string) error {
						return os.WriteFile(filepath.Join(dir, "new.yaml"), []byte("new"), 0o644)
					})
				})
			}()
			inst2, err := s.Open("home")
			if err != nil {
				t.Fatal(err)
			}
			_, cfgErr := inst2.GetConfig("apps.ghost.port")
			_, secErr := inst2.GetSecret("apps.ghost.pw")
			_, newErr := os.Stat(filepath.Join(inst2.AppDir("ghost"), "new.yaml"))
			_, oldErr := os.Stat(filepath.Join(inst2.AppDir("ghost"), "old.yaml"))
			isNew := cfgErr == nil && secErr == nil && newErr == nil && oldErr != nil
			isOld := cfgErr != nil && secErr != nil && newErr != nil && oldErr == nil
			if !isNew && !isOld {
				t.Fatalf("mixed state after crash at %s: cfg=%v sec=%v new=%v old=%v", point, cfgErr, secErr, newErr, oldErr)
			}
			if point == "before-journal" && !isOld {
				t.Fatal("a crash before the journal must leave the old state")
			}
			entries, _ := os.ReadDir(inst2.Path(txDir))
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".lock") {
					t.Errorf("leftover %s", e.Name())
				}
			}
		})
	}
}

// A file staged Alongside lands with the edit's other changes, and not at
// all (nor is it computed) when the edit changes nothing.
func TestAlongsideLandsOnlyWithChanges(t *testing.T) {
	_, inst := newInstance(t)
	os.MkdirAll(inst.Path("operations"), 0o700)
	calls := 0
	record := func() ([]byte, error) { calls++; return []byte("final"), nil }
	if err := inst.Update(func(e *Edit) error {
		e.Alongside("operations/op_1.json", 0o600, record)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inst.Path("operations", "op_1.json")); calls != 0 || err == nil {
		t.Fatalf("an edit that changed nothing wrote its alongside file (calls %d)", calls)
	}
	if err := inst.Update(func(e *Edit) error {
		e.Alongside("operations/op_2.json", 0o600, record)
		return e.Config.Set([]string{"apps", "ghost", "port"}, strNode("1"))
	}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(inst.Path("operations", "op_2.json"))
	st, _ := os.Stat(inst.Path("operations", "op_2.json"))
	if err != nil || string(b) != "final" || calls != 1 || st.Mode().Perm() != 0o600 {
		t.Fatalf("alongside file %q %v, calls %d", b, err, calls)
	}
}

// LockApps holds every named app's lock until released, duplicates
// included once.
func TestLockApps(t *testing.T) {
	_, inst := newInstance(t)
	unlock, err := inst.LockApps("ghost", "mysql", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"ghost", "mysql"} {
		if _, err := inst.TryLockApp(app); err == nil {
			t.Fatalf("%s was not locked", app)
		}
	}
	unlock()
	for _, app := range []string{"ghost", "mysql"} {
		u, err := inst.TryLockApp(app)
		if err != nil {
			t.Fatalf("%s still locked after unlock: %v", app, err)
		}
		u()
	}
}

// TestAppSecretData: an app's Secret holds its own leaves, keyed below the
// app, and nothing of an app whose name merely starts the same.
func TestAppSecretData(t *testing.T) {
	d, err := yamldoc.Parse("secrets.yaml", []byte("apps:\n  ghost:\n    apiKey: k1\n    db:\n      password: p1\n  ghostly:\n    apiKey: other\n  gitea:\n    token: t\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := AppSecretData(d, "ghost")
	if len(got) != 2 || string(got["apiKey"]) != "k1" || string(got["db.password"]) != "p1" {
		t.Fatalf("ghost's Secret data %q, want apiKey=k1 and db.password=p1 only", got)
	}
	if got := AppSecretData(d, "absent"); len(got) != 0 {
		t.Fatalf("an app with no secrets got %q", got)
	}
}
