package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runIn is run with stdin.
func (e *wildEnv) runIn(stdin string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = append(os.Environ(), "WILD_CENTRAL_DATA="+e.data, "WILD_INSTANCE=", "WILD_DIRECTORY=")
	cmd.Stdin = strings.NewReader(stdin)
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return o.String(), eb.String(), code
}

func (e *wildEnv) instDir() string { return filepath.Join(e.data, "instances", "home") }

func (e *wildEnv) appendConfig(s string) {
	e.t.Helper()
	f, err := os.OpenFile(filepath.Join(e.instDir(), "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(s)
}

// Issue 10 item 1: a set on an anchored key never leaves config.yaml
// unparseable.
func TestConfigSetOnAnchorKeepsConfigReadable(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.appendConfig("common: &common {tz: UTC}\nextra: {<<: *common}\n")
	before := e.snapshot()
	if !strings.Contains(e.fails("config", "set", "common", "none"), "--force") {
		t.Fatal("replacing a mapping without --force should say how")
	}
	if after := e.snapshot(); len(after) != len(before) {
		t.Fatal("a refused set wrote files")
	}
	e.ok("config", "set", "common", "none", "--force")
	if got := strings.TrimSpace(e.ok("config", "get", "extra.tz")); got != "UTC" {
		t.Fatalf("extra.tz = %q", got)
	}
	e.ok("app", "add", "redis")
}

// Items 2, 5, 6: values round-trip exactly; tags are never interpreted.
func TestValuesRoundTripExactly(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{`x\`, `\x41@b.c`, "a\n@b.c", "me@example.com\n"} {
		e.fails("instance", "create", "home", "--domain", "cloud.example.com", "--email", bad)
	}
	if _, err := os.Stat(e.instDir()); err == nil {
		t.Fatal("a refused create left an instance")
	}
	e.ok("instance", "create", "home", "--domain", "cloud.example.com", "--email", "me+x@example.com")
	for _, v := range []string{"a\nb", "  two\n\n lines \n", `x\`, `\x41`, "!!int abc", "*alias", "&a x", "tab\tin"} {
		e.ok("config", "set", "apps.k.v", v)
		if got := e.ok("config", "get", "apps.k.v"); got != v+"\n" {
			t.Errorf("config set %q read back %q", v, got)
		}
		e.ok("secret", "set", "apps.k.v", v)
		if got := e.ok("secret", "get", "apps.k.v"); got != v+"\n" {
			t.Errorf("secret set %q read back %q", v, got)
		}
	}
	e.ok("config", "set", "apps.k.multi", "a\nb")
	b, _ := os.ReadFile(filepath.Join(e.instDir(), "config.yaml"))
	if !strings.Contains(string(b), "multi: |") {
		t.Fatalf("multi-line value not a literal block:\n%s", b)
	}
	e.ok("config", "set", "cloud.smtp.port", "!!int abc")
	e.ok("app", "add", "redis")
	// A hand-edited tag that cannot hold: the error names file and key.
	e.appendConfig("broken: !!int abc\n")
	msg := e.fails("app", "add", "memcached")
	if !strings.Contains(msg, "config.yaml:") || !strings.Contains(msg, "broken") {
		t.Fatalf("decode error does not name file and key: %s", msg)
	}
}

// Item 7: one command cannot wipe a section by accident.
func TestSetRefusesToReplaceAMappingWithoutForce(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.ok("app", "add", "postgres")
	before := e.snapshot()
	e.fails("secret", "set", "apps.postgres", "x")
	e.fails("config", "set", "apps", "x")
	e.fails("config", "set", "apps", "x", "--force")
	if after := e.snapshot(); len(after) != len(before) {
		t.Fatal("refused sets wrote files")
	}
	_, stderr, code := e.run("secret", "set", "apps.postgres", "x", "--force")
	if code != 0 || !strings.Contains(stderr, "To undo") || !strings.Contains(stderr, ".snapshots") {
		t.Fatalf("forced set: exit %d, %s", code, stderr)
	}
	_, stderr, code = e.run("config", "set", "apps.postgres", "x", "--force")
	if code != 0 || !strings.Contains(stderr, "wild config set apps.postgres") {
		t.Fatalf("forced config set: exit %d, %s", code, stderr)
	}
	undo := stderr[strings.Index(stderr, "$(cat ")+6 : strings.LastIndex(stderr, ")")]
	snap, _ := os.ReadFile(undo)
	e.ok("config", "set", "apps.postgres", strings.TrimSpace(string(snap)))
	if got := e.ok("config", "get", "apps.postgres"); !strings.Contains(got, "namespace") {
		t.Fatalf("undo did not restore apps.postgres: %s", got)
	}
}

// Item 12: secret values can come from stdin, never needing argv.
func TestSecretSetFromStdin(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	if _, stderr, code := e.runIn("s3cret-from-stdin\n", "secret", "set", "apps.x.pw", "-"); code != 0 {
		t.Fatal(stderr)
	}
	if got := e.ok("secret", "get", "apps.x.pw"); got != "s3cret-from-stdin\n" {
		t.Fatalf("stdin value read back %q", got)
	}
	e.runIn("multi\nline\n", "secret", "set", "apps.x.pw", "-")
	if got := e.ok("secret", "get", "apps.x.pw"); got != "multi\nline\n" {
		t.Fatalf("stdin value read back %q", got)
	}
	// No value and no terminal: a clear error, not a hang.
	_, stderr, code := e.runIn("", "secret", "set", "apps.x.pw")
	if code == 0 || !strings.Contains(stderr, "no terminal") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// Item 9 (first bullet): a named instance that does not exist is an error.
func TestAppListReportsAMissingInstance(t *testing.T) {
	e := newEnv(t)
	e.ok("app", "list") // no instance at all: the catalog is still listed
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.ok("app", "add", "redis")
	if msg := e.fails("--instance", "nope", "app", "list"); !strings.Contains(msg, "nope") {
		t.Fatalf("error does not name the instance: %s", msg)
	}
}

// writePkgs writes packages (name -> file -> content) into a fresh
// catalog directory; each also gets hello's resources so it compiles.
func writePkgs(t *testing.T, pkgs map[string]map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, files := range pkgs {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		for f, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name, f), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func leakyManifest(name, tmpl string) map[string]string {
	return map[string]string{
		"manifest.yaml": "name: " + name + "\nis: " + name + "\ndescription: leaks\nversion: 1.0.0\n" +
			"defaultConfig:\n  namespace: " + name + "\n" +
			"defaultSecrets:\n  - key: password\n  - key: derived\n    default: '" + tmpl + "'\n",
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
	}
}

// Issue 10 item 4: after a run of failing templates, no secret value is in
// any output, error or operation record, and records are 0600.
func TestSecretsNeverLeakThroughFailingTemplates(t *testing.T) {
	e := newEnv(t)
	cat := writePkgs(t, map[string]map[string]string{
		"leakrange": leakyManifest("leakrange", "{{ range .secrets.password }}{{ end }}"),
		"leakindex": leakyManifest("leakindex", "{{ index .secrets .secrets.password }}"),
		"leakdate":  leakyManifest("leakdate", `{{ mustToDate "2006-01-02" .secrets.password }}`),
		"leakint":   leakyManifest("leakint", "{{ .secrets.password | int | add 1 }}{{ .secrets.password.x }}"),
		"leakfail":  leakyManifest("leakfail", "{{ fail .secrets.password }}"),
		"leaktag":   leakyManifest("leaktag", "x"),
	})
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	secrets := map[string]string{}
	var outputs []string
	for _, app := range []string{"leakrange", "leakindex", "leakdate", "leakint", "leakfail"} {
		v := "Sec-" + app + "-Value-7f3a9"
		secrets[app] = v
		e.runIn(v+"\n", "secret", "set", "apps."+app+".password", "-")
		out, errOut, code := e.run("--directory", cat, "app", "add", app)
		if code == 0 {
			t.Errorf("app add %s succeeded; the template should fail", app)
		}
		outputs = append(outputs, out, errOut)
		out, errOut, _ = e.run("--directory", cat, "app", "add", app, "-o", "json")
		outputs = append(outputs, out, errOut)
	}
	// A hand-edited secret whose tag does not hold.
	secrets["leaktag"] = "Sec-leaktag-Value-c0ffee"
	f, _ := os.OpenFile(filepath.Join(e.instDir(), "secrets.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("  leaktag:\n    password: !!int " + secrets["leaktag"] + "\n")
	f.Close()
	for _, args := range [][]string{
		{"--directory", cat, "app", "add", "leaktag"}, {"secret", "list"}, {"app", "add", "redis"},
		{"secret", "get", "apps.leaktag"}, {"operation", "list", "-o", "json"}, {"operation", "list"},
	} {
		out, errOut, _ := e.run(args...)
		outputs = append(outputs, out, errOut)
	}
	records, _ := filepath.Glob(filepath.Join(e.instDir(), "operations", "*.json"))
	if len(records) < 5 {
		t.Fatalf("want a record per failed add, got %d", len(records))
	}
	for _, r := range records {
		st, _ := os.Stat(r)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", r, st.Mode().Perm())
		}
		b, _ := os.ReadFile(r)
		outputs = append(outputs, string(b))
	}
	for _, file := range []string{"config.yaml"} {
		b, _ := os.ReadFile(filepath.Join(e.instDir(), file))
		outputs = append(outputs, string(b))
	}
	failed := 0
	for _, o := range outputs {
		if strings.Contains(o, "failed") || strings.Contains(o, "error") {
			failed++
		}
		for app, v := range secrets {
			if strings.Contains(o, v) {
				t.Errorf("secret of %s leaked:\n%s", app, o)
			}
		}
	}
	if failed < 6 {
		t.Fatalf("expected failing runs to report errors, got %d outputs with errors", failed)
	}
}

// Issue 10 item 12: the namespace is checked when the app is added.
func TestAddValidatesNamespace(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.ok("app", "add", "redis")
	before := e.snapshot()
	for _, ns := range []string{"kube-system", "default", "kube-public", "Bad_NS", "redis"} {
		if msg := e.fails("app", "add", "memcached", "--set", "namespace="+ns); !strings.Contains(msg, "namespace") {
			t.Errorf("namespace %s: %s", ns, msg)
		}
	}
	after := e.snapshot()
	for p, v := range before {
		if after[p] != v {
			t.Fatalf("a refused add changed %s", p)
		}
	}
	if countNew(before, after) > 5 {
		t.Fatalf("refused adds wrote files besides their operation records")
	}
	e.ok("app", "add", "memcached", "--set", "namespace=cache")
}

// countNew counts files in after that are not in before (operation records
// of the refused adds are expected).
func countNew(before, after map[string]string) int {
	n := 0
	for p := range after {
		if _, ok := before[p]; !ok {
			if !strings.Contains(p, "operations") {
				return 1000
			}
			n++
		}
	}
	return n
}

// Issue 10 item 12: secrets regenerated for an added app are announced.
func TestRegeneratedSecretsWarnLoudly(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	e.ok("app", "add", "postgres")
	// A truncated secrets.yaml that still parses.
	os.WriteFile(filepath.Join(e.instDir(), "secrets.yaml"), []byte("apps:\n"), 0o600)
	out := e.ok("app", "add", "postgres")
	if !strings.Contains(out, "SECRETS REGENERATED") || !strings.Contains(out, "apps.postgres.password") {
		t.Fatalf("no loud warning:\n%s", out)
	}
	e2 := newEnv(t)
	e2.ok("instance", "create", "home", "--domain", "cloud.example.com")
	if out := e2.ok("app", "add", "postgres"); strings.Contains(out, "REGENERATED") {
		t.Fatalf("a first add warns:\n%s", out)
	}
}

// Issue 10 item 11: catalog text cannot drive the terminal, and a package
// linked from outside the catalog is refused by name.
func TestCatalogTextIsEscapedAndOutsideLinksRefused(t *testing.T) {
	e := newEnv(t)
	cat := writePkgs(t, map[string]map[string]string{
		"term": {
			"manifest.yaml":      "name: term\nversion: \"1.0\\e[31m\"\ndescription: \"clears\\e[2J\\athe screen\"\ndefaultConfig:\n  namespace: term\n",
			"kustomization.yaml": "resources: []\n",
		},
	})
	out, errOut, _ := e.run("--directory", cat, "app", "list")
	if strings.ContainsAny(out+errOut, "\x1b\x07") {
		t.Fatalf("raw control characters printed:\n%q\n%q", out, errOut)
	}
	if !strings.Contains(out+errOut, `\x1b[2J`) {
		t.Fatalf("escaped description missing:\n%s%s", out, errOut)
	}
	outside := writePkgs(t, map[string]map[string]string{"evil": {"manifest.yaml": "name: evil\nversion: 1.0.0\n"}})
	os.Symlink(filepath.Join(outside, "evil"), filepath.Join(cat, "evil"))
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	if msg := e.fails("--directory", cat, "app", "add", "evil"); !strings.Contains(msg, "outside the Wild Directory") {
		t.Fatalf("add of a package linked from outside: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(e.instDir(), "apps", "evil")); err == nil {
		t.Fatal("files from outside the catalog were copied in")
	}
}

// Issue 10 item 8: a runaway template fails with a clear error (and
// releases the locks), it does not run forever.
func TestRunawayTemplateFailsAndReleasesLocks(t *testing.T) {
	e := newEnv(t)
	cat := writePkgs(t, map[string]map[string]string{
		"loop": {
			"manifest.yaml":      "name: loop\nversion: 1.0.0\ndescription: x\ndefaultConfig:\n  namespace: loop\n",
			"kustomization.yaml": "resources:\n  - cm.yaml\n",
			"cm.yaml":            "{{ range until 1048576 }}{{ range until 1048576 }}{{ end }}{{ end }}\n",
		},
	})
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	msg := e.fails("--directory", cat, "app", "add", "loop")
	if !strings.Contains(msg, "loop/cm.yaml") || !strings.Contains(msg, "runs too long") {
		t.Fatalf("runaway template: %s", msg)
	}
	e.ok("config", "set", "apps.other.x", "1") // the locks were released
}
