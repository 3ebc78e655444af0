package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/testutil"
)

// A small app, version 1 and 2, written to disk as a Wild Directory.
var crashCatalogV1 = map[string]string{
	"web/manifest.yaml":      "name: web\nis: web\nversion: 1.0.0\ndefaultConfig:\n  namespace: web\n  image: nginx:1.25\n  port: \"8080\"\ndefaultSecrets:\n  - key: password\n",
	"web/kustomization.yaml": "namespace: {{ .namespace }}\nresources:\n  - deployment.yaml\n  - configmap.yaml\n",
	"web/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {{ .image }}\n",
	"web/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  port: \"{{ .port }}\"\n",
}

var crashCatalogV2 = map[string]string{
	"web/manifest.yaml":      "name: web\nis: web\nversion: 1.1.0\ndefaultConfig:\n  namespace: web\n  image: nginx:1.27\n  port: \"8080\"\n  logLevel: info\ndefaultSecrets:\n  - key: password\n  - key: apiKey\n",
	"web/kustomization.yaml": "namespace: {{ .namespace }}\nresources:\n  - deployment.yaml\n",
	"web/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {{ .image }}\n          env:\n            - name: LOG_LEVEL\n              value: {{ .logLevel }}\n",
}

func writeCatalog(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	os.RemoveAll(dir)
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type crashRunner struct {
	t   *testing.T
	bin string
	cat string
}

// run executes wild against data; it returns the exit code, or -9 when
// the process died of SIGKILL.
func (r *crashRunner) run(data, crashAt string, args ...string) (string, int) {
	cmd := exec.Command(r.bin, append([]string{"--directory", r.cat}, args...)...)
	cmd.Env = append(os.Environ(), "WILD_CENTRAL_DATA="+data, "WILD_INSTANCE=", "WILD_DIRECTORY=", "WILD_TEST_CRASH_AT="+crashAt)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() && st.Signal() == syscall.SIGKILL {
			return out.String(), -9
		}
		return out.String(), ee.ExitCode()
	}
	r.t.Fatal(err)
	return "", 0
}

// appState fingerprints what an update may change: config.yaml, the app's
// compiled directory, and the app's secrets (decoded).
type appState struct {
	config   string
	apps     string
	password string
	apiKey   string
}

func readState(t *testing.T, data string) appState {
	t.Helper()
	inst := filepath.Join(data, "instances", "home")
	cfg, err := os.ReadFile(filepath.Join(inst, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sec struct {
		Apps map[string]map[string]string `yaml:"apps"`
	}
	b, _ := os.ReadFile(filepath.Join(inst, "secrets.yaml"))
	if err := yaml.Unmarshal(b, &sec); err != nil {
		t.Fatal(err)
	}
	return appState{config: string(cfg), apps: hashTree(t, filepath.Join(inst, "apps", "web")), password: sec.Apps["web"]["password"], apiKey: sec.Apps["web"]["apiKey"]}
}

func hashTree(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, _ := os.ReadFile(f)
		rel, _ := filepath.Rel(dir, f)
		h.Write([]byte(rel + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpdateCrashSafety kills `wild app update` with SIGKILL at each step
// and checks the instance is fully old or fully new, and that running the
// update again converges on the same new state.
func TestUpdateCrashSafety(t *testing.T) {
	bin, err := testutil.WildBinary()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	r := &crashRunner{t: t, bin: bin, cat: filepath.Join(tmp, "catalog")}
	golden := filepath.Join(tmp, "golden")
	writeCatalog(t, r.cat, crashCatalogV1)
	for _, args := range [][]string{
		{"instance", "create", "home", "--domain", "example.com"},
		{"app", "add", "web"},
		{"config", "set", "apps.web.port", "9090"},
	} {
		if out, code := r.run(golden, "", args...); code != 0 {
			t.Fatalf("wild %v: %d\n%s", args, code, out)
		}
	}
	writeCatalog(t, r.cat, crashCatalogV2)
	oldState := readState(t, golden)

	ref := filepath.Join(tmp, "ref")
	copyTree(t, golden, ref)
	if out, code := r.run(ref, "", "app", "update", "web", "--yes"); code != 0 {
		t.Fatalf("reference update: %d\n%s", code, out)
	}
	newState := readState(t, ref)
	if newState.config == oldState.config || newState.apps == oldState.apps || newState.apiKey == "" || newState.password != oldState.password {
		t.Fatal("test setup: the reference update did not change what it should")
	}
	if !strings.Contains(newState.config, "port: 9090") || !strings.Contains(newState.config, "image: nginx:1.27") {
		t.Fatalf("reference config:\n%s", newState.config)
	}

	points := []string{"after-snapshot", "before-journal", "after-journal", "after-op-0", "after-op-1", "after-op-2", "after-commit"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			data := filepath.Join(tmp, "crash-"+point)
			copyTree(t, golden, data)
			if out, code := r.run(data, point, "app", "update", "web", "--yes"); code != -9 {
				t.Fatalf("not killed at %s (exit %d):\n%s", point, code, out)
			}
			// Any command opening the instance finishes an interrupted
			// transaction first.
			if out, code := r.run(data, "", "app", "outdated"); code != 0 {
				t.Fatalf("after crash: %d\n%s", code, out)
			}
			got := readState(t, data)
			isOld := got == oldState
			isNew := got.config == newState.config && got.apps == newState.apps && got.password == oldState.password && len(got.apiKey) == 32
			if !isOld && !isNew {
				t.Fatalf("instance is a mix after a crash at %s:\nconfig:\n%s", point, got.config)
			}
			out, code := r.run(data, "", "app", "update", "web", "--yes")
			if code != 0 {
				t.Fatalf("re-run after crash: %d\n%s", code, out)
			}
			again := readState(t, data)
			if again.config != newState.config || again.apps != newState.apps || again.password != oldState.password || len(again.apiKey) != 32 {
				t.Fatalf("re-run did not converge:\n%s", out)
			}
			if isNew && again.apiKey != got.apiKey {
				t.Error("re-running a finished update regenerated a secret")
			}
			if out, _ := r.run(data, "", "app", "update", "web", "--yes"); !strings.Contains(out, "up to date") {
				t.Errorf("third run: %s", out)
			}
		})
	}
}

// TestGitModeCLI drives git mode through the binary: create --git, one
// commit per operation, and a conflicting update that exits non-zero.
func TestGitModeCLI(t *testing.T) {
	bin, err := testutil.WildBinary()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	r := &crashRunner{t: t, bin: bin, cat: filepath.Join(tmp, "catalog")}
	data := filepath.Join(tmp, "data")
	writeCatalog(t, r.cat, crashCatalogV1)
	for _, args := range [][]string{
		{"instance", "create", "home", "--domain", "example.com", "--git"},
		{"app", "add", "web"},
		{"config", "set", "apps.web.port", "9090"},
	} {
		if out, code := r.run(data, "", args...); code != 0 {
			t.Fatalf("wild %v: %d\n%s", args, code, out)
		}
	}
	out, _ := r.run(data, "", "instance", "log", "web")
	if !strings.Contains(out, "feat(web): add app") || !strings.Contains(out, "config(web): set apps.web.port") || strings.Contains(out, "initial") {
		t.Fatalf("instance log web:\n%s", out)
	}
	// A hand edit on the line the update changes, committed.
	dep := filepath.Join(data, "instances", "home", "apps", "web", "deployment.yaml")
	b, _ := os.ReadFile(dep)
	os.WriteFile(dep, bytes.Replace(b, []byte("image: nginx:1.25"), []byte("image: nginx:1.25-patched"), 1), 0o644)
	writeCatalog(t, r.cat, crashCatalogV2)
	if out, code := r.run(data, "", "app", "update", "web", "--yes"); code == 0 || !strings.Contains(out, "uncommitted changes") {
		t.Fatalf("update over uncommitted edits: %d\n%s", code, out)
	}
	if out, code := r.run(data, "", "instance", "git", "init"); code != 0 {
		t.Fatalf("git init on a repo: %d %s", code, out)
	}
	out, code := r.run(data, "", "app", "update", "web", "--yes")
	if code == 0 || !strings.Contains(out, "merge conflicts") || !strings.Contains(out, "--continue") {
		t.Fatalf("conflicting update: exit %d\n%s", code, out)
	}
	b, _ = os.ReadFile(dep)
	if !strings.Contains(string(b), "<<<<<<< ours\n") || !strings.Contains(string(b), ">>>>>>> theirs\n") {
		t.Fatalf("no markers:\n%s", b)
	}
}
