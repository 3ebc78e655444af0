package instance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A set on an anchored key, done the way config set does it, must leave a
// config.yaml that every later command can read.
func TestSetAnchoredKeyKeepsConfigReadable(t *testing.T) {
	s, inst := newInstance(t)
	cfg := inst.Path(ConfigFile)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, "common: &common {tz: UTC}\nextra: {<<: *common}\n"...), 0o644)
	if _, err := inst.SetConfigWith("common", "none", SetOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	inst2, _ := s.Open("home")
	if v, err := inst2.GetConfig("extra.tz"); err != nil || v != "UTC" {
		t.Fatalf("extra.tz = %v, %v", v, err)
	}
}

func TestCreateRefusesBadEmailAndKeepsGoodOnesExact(t *testing.T) {
	s := NewStore(t.TempDir())
	for _, e := range []string{`x\`, `a b@c.d`, "x@y.z\n", `"q"@x.y`, `Me <me@x.y>`, `\x41@b.c`} {
		if _, err := s.Create(CreateOptions{Name: "home", Domain: "cloud.example.com", Email: e}); err == nil {
			t.Errorf("email %q accepted", e)
		}
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "instances", "home")); err == nil {
		t.Fatal("a refused create left an instance")
	}
	for _, e := range []string{"me+tag@example.com", "o'brien@example.com"[0:0] + "first.last@sub.example.com"} {
		s := NewStore(t.TempDir())
		inst, err := s.Create(CreateOptions{Name: "home", Domain: "cloud.example.com", Email: e})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := inst.GetConfig("operator.email"); v != e {
			t.Fatalf("email %q read back as %v (%v)", e, v, err)
		}
	}
}

func TestReplacingAMappingNeedsForceAndIsSaved(t *testing.T) {
	_, inst := newInstance(t)
	for _, k := range []string{"a", "b"} {
		if err := inst.SetSecret("apps.postgres."+k, "pw-"+k); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(inst.Path(SecretsFile))
	err := inst.SetSecret("apps.postgres", "x")
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("replacing a mapping: %v", err)
	}
	if _, err := inst.SetConfigWith("apps", "x", SetOptions{Force: true}); err == nil || !strings.Contains(err.Error(), "apps must be a mapping") {
		t.Fatalf("apps set to a value: %v", err)
	}
	after, _ := os.ReadFile(inst.Path(SecretsFile))
	if string(before) != string(after) {
		t.Fatal("a refused set changed secrets.yaml")
	}
	res, err := inst.SetSecretWith("apps.postgres", "x", SetOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(res.Snapshot)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot %s: %v %v", res.Snapshot, st, err)
	}
	b, _ := os.ReadFile(res.Snapshot)
	var saved map[string]string
	if json.Unmarshal(b, &saved) != nil || saved["a"] != "pw-a" || saved["b"] != "pw-b" || res.Undo == "" {
		t.Fatalf("snapshot holds %s, undo %q", b, res.Undo)
	}
	// The config undo hint is a command that works.
	inst.SetConfig("apps.ghost.port", "2368")
	inst.SetConfig("apps.ghost.host", "a\nb")
	res, err = inst.SetConfigWith("apps.ghost", "gone", SetOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(res.Snapshot)
	if err := inst.SetConfig("apps.ghost", strings.TrimSpace(string(b))); err != nil {
		t.Fatal(err)
	}
	if v, _ := inst.GetConfig("apps.ghost.host"); v != "a\nb" {
		t.Fatalf("undo restored host %q", v)
	}
}

func TestSectionThatIsAValueNamesTheFile(t *testing.T) {
	_, inst := newInstance(t)
	os.WriteFile(inst.Path(SecretsFile), []byte("apps: \"str\"\n"), 0o600)
	err := inst.SetSecret("apps.x.y", "z")
	if err == nil || !strings.Contains(err.Error(), SecretsFile+":1: apps must be a mapping") {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(inst.Path(ConfigFile), []byte("apps: string\n"), 0o644)
	if _, err := inst.ReadConfig(); err == nil || !strings.Contains(err.Error(), ConfigFile) {
		t.Fatalf("err = %v", err)
	}
}

// A crafted journal must never touch anything outside the instance: it is
// refused before any op runs, quarantined, and not replayed again.
func TestJournalReplayRefusesEscapes(t *testing.T) {
	for name, ops := range map[string]string{
		"remove":  `[{"kind":"remove","target":"../../../victim"}]`,
		"file":    `[{"kind":"file","staged":"f0","target":"../../victim/x"}]`,
		"abs":     `[{"kind":"file","staged":"f0","target":"/tmp/x"}]`,
		"staged":  `[{"kind":"file","staged":"../../../victim/secret","target":"apps/stolen"}]`,
		"symlink": `[{"kind":"remove","target":"link/x"}]`,
		"mixed":   `[{"kind":"remove","target":"apps"},{"kind":"remove","target":"../victim"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			s, inst := newInstance(t)
			victim := filepath.Join(s.DataDir, "..", filepath.Base(s.DataDir)+"-victim")
			os.MkdirAll(victim, 0o755)
			t.Cleanup(func() { os.RemoveAll(victim) })
			os.WriteFile(filepath.Join(victim, "x"), []byte("keep"), 0o644)
			os.WriteFile(filepath.Join(victim, "secret"), []byte("keep"), 0o644)
			os.Symlink(victim, inst.Path("link"))
			ops = strings.ReplaceAll(ops, "../../../victim", relTo(inst.Dir, victim))
			os.MkdirAll(inst.Path(txDir, "abc", "f0"), 0o755)
			os.WriteFile(inst.Path(txDir, "abc.journal"), []byte(ops), 0o600)
			_, err := s.Open("home")
			if err == nil || !strings.Contains(err.Error(), "quarantine") {
				t.Fatalf("open with a crafted journal: %v", err)
			}
			for _, f := range []string{"x", "secret"} {
				if b, err := os.ReadFile(filepath.Join(victim, f)); err != nil || string(b) != "keep" {
					t.Fatalf("victim/%s touched: %q %v", f, b, err)
				}
			}
			if _, err := os.Stat(inst.AppDir("")); err != nil {
				t.Fatal("a refused journal was partly applied")
			}
			if _, err := s.Open("home"); err != nil {
				t.Fatalf("the quarantined journal is replayed again: %v", err)
			}
		})
	}
}

func relTo(base, target string) string {
	r, _ := filepath.Rel(base, target)
	return r
}

// FuzzSetters: any text set through SetSecret reads back byte for byte,
// any text through SetConfig either is refused with an error or leaves a
// config.yaml that reads back, holding the text when it is a string.
func FuzzSetters(f *testing.F) {
	for _, s := range []string{"a\nb", `x\`, `\x41`, "!!int abc", "*a", "&a x", "a: b", "- x", "  x\n y ", "\t", "{a: [1]}", "\u2028"} {
		f.Add("apps.ghost.v", s)
	}
	s := NewStore(f.TempDir())
	inst, err := s.Create(CreateOptions{Name: "home", Domain: "cloud.example.com"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path, value string) {
		if err := inst.SetSecret(path, value); err == nil {
			got, err := inst.GetSecret(path)
			if err != nil || got != value {
				t.Fatalf("secret %s=%q read back %#v (%v)", path, value, got, err)
			}
		}
		if err := inst.SetConfig(path, value); err == nil {
			got, err := inst.GetConfig(path)
			if err != nil {
				t.Fatalf("config %s=%q does not read back: %v", path, value, err)
			}
			if s, ok := got.(string); ok && s != value && !strings.HasPrefix(strings.TrimSpace(value), `"`) && !strings.HasPrefix(strings.TrimSpace(value), `'`) {
				t.Fatalf("config %s=%q read back %q", path, value, s)
			}
		}
		if _, err := inst.ReadConfig(); err != nil {
			t.Fatal(err)
		}
		// Keep the documents small across iterations.
		os.WriteFile(inst.Path(SecretsFile), []byte("apps: {}\n"), 0o600)
		b := fmt.Sprintf("cloud: {domain: cloud.example.com}\napps: {}\n")
		os.WriteFile(inst.Path(ConfigFile), []byte(b), 0o644)
	})
}

// FuzzJournalReplay: whatever a journal says, replay touches nothing
// outside the instance directory and never panics.
func FuzzJournalReplay(f *testing.F) {
	f.Add(`[{"kind":"remove","target":"../victim"}]`)
	f.Add(`[{"kind":"file","staged":"f0","target":"config.yaml"}]`)
	f.Add(`[{"kind":"dir","staged":"d0","target":"apps/x"}]`)
	f.Add(`[{"kind":"remove","target":"apps/../../victim"}]`)
	f.Fuzz(func(t *testing.T, journal string) {
		root := t.TempDir()
		victim := filepath.Join(root, "victim")
		os.MkdirAll(victim, 0o755)
		os.WriteFile(filepath.Join(victim, "x"), []byte("keep"), 0o644)
		s := NewStore(filepath.Join(root, "data"))
		inst, err := s.Create(CreateOptions{Name: "home", Domain: "cloud.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		os.Symlink(victim, inst.Path("apps", "link"))
		os.MkdirAll(inst.Path(txDir, "j", "d0"), 0o755)
		os.WriteFile(inst.Path(txDir, "j", "f0"), []byte("apps: {}\n"), 0o600)
		os.WriteFile(inst.Path(txDir, "j.journal"), []byte(journal), 0o600)
		_, _ = s.Open("home")
		entries, _ := os.ReadDir(root)
		if len(entries) != 2 {
			t.Fatalf("replay created or removed something next to the data dir: %v", entries)
		}
		if b, err := os.ReadFile(filepath.Join(victim, "x")); err != nil || string(b) != "keep" {
			t.Fatalf("victim touched: %q %v", b, err)
		}
		if des, _ := os.ReadDir(victim); len(des) != 1 {
			t.Fatalf("victim dir changed: %v", des)
		}
	})
}

// FuzzCreateEmail: instance create either refuses an email with an error
// or writes a config.yaml that reads it back byte for byte.
func FuzzCreateEmail(f *testing.F) {
	for _, s := range []string{`x\`, `\x41@b.c`, "a\n@b.c", "me@example.com", `"a"@b.c`, "a@b.c#x", "a@b.c: d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		s := NewStore(t.TempDir())
		inst, err := s.Create(CreateOptions{Name: "home", Domain: "cloud.example.com", Email: email})
		if err != nil {
			return
		}
		got, err := inst.GetConfig("operator.email")
		if email != "" && (err != nil || got != email) {
			t.Fatalf("email %q read back %#v (%v)", email, got, err)
		}
	})
}

func TestWritesWorkBesideAHandWrittenNaN(t *testing.T) {
	_, inst := newInstance(t)
	b, _ := os.ReadFile(inst.Path(ConfigFile))
	os.WriteFile(inst.Path(ConfigFile), append(b, "ratio: .nan\n"...), 0o644)
	if err := inst.SetConfig("cloud.x", "1"); err != nil {
		t.Fatal(err)
	}
}
