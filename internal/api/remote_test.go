package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/catalogtest"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/wire"
)

// cliT runs the real wild binary on one data dir, locally or through a
// `wild serve` it starts as a separate process.
type cliT struct {
	t      *testing.T
	bin    string
	data   string
	server string
	token  string
	serve  *exec.Cmd
	// catalog is the Wild Directory both sides use.
	catalog string
}

func newCLI(t *testing.T) *cliT {
	return &cliT{t: t, bin: clustertest.WildBinary(), data: t.TempDir()}
}

func (c *cliT) run(remote bool, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "WILD_CENTRAL_DATA="+c.data, "WILD_INSTANCE=", "WILD_DIRECTORY="+c.catalog, "WILD_SERVER=", "WILD_TOKEN=")
	if remote {
		cmd.Env = append(cmd.Env, "WILD_SERVER="+c.server, "WILD_TOKEN="+c.token)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func (c *cliT) ok(remote bool, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(remote, args...)
	if code != 0 {
		c.t.Fatalf("wild %s (remote=%v): exit %d\n%s%s", strings.Join(args, " "), remote, code, out, errOut)
	}
	return out
}

var listening = regexp.MustCompile(`running at (http://\S+)`)

// startServe runs `wild serve` as its own process and waits for its URL.
func (c *cliT) startServe() {
	c.t.Helper()
	cmd := exec.Command(c.bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "WILD_CENTRAL_DATA="+c.data, "WILD_DIRECTORY="+c.catalog)
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.serve = cmd
	c.t.Cleanup(func() {
		if c.serve != nil {
			c.serve.Process.Kill()
			c.serve.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			c.server = m[1]
			go func() {
				for sc.Scan() {
				}
			}()
			return
		}
	}
	c.t.Fatalf("wild serve printed no URL; log:\n%s", logs.String())
}

func (c *cliT) kill() {
	c.serve.Process.Signal(syscall.SIGKILL)
	c.serve.Wait()
	c.serve = nil
}

// Commands give the same output, -o json and exit codes locally and
// through Wild Central.
func TestCLIParityThroughServer(t *testing.T) {
	c := newCLI(t)
	catDir, _ := catalogtest.Copy(t)
	c.catalog = catDir
	c.ok(false, "instance", "create", "home", "--domain", "cloud.example.com", "--kubeconfig", clustertest.Kubeconfig(t))
	c.startServe()
	var tok struct{ Token string }
	json.Unmarshal([]byte(c.ok(false, "token", "create", "cli", "--scope", "operate", "-o", "json")), &tok)
	c.token = tok.Token

	// Without a token the CLI says how to sign in.
	tokenSave := c.token
	c.token = ""
	if _, errOut, code := c.run(true, "app", "list"); code == 0 || !strings.Contains(errOut, "wild login") {
		t.Fatalf("remote without a token: %d %q", code, errOut)
	}
	c.token = tokenSave

	c.ok(true, "app", "add", "hello")
	c.ok(true, "app", "deploy", "hello")
	for _, args := range [][]string{
		{"app", "list", "-o", "json"},
		{"app", "list"},
		{"app", "show", "hello", "-o", "json"},
		{"app", "status", "hello", "-o", "json"},
		{"app", "diff", "hello", "-o", "json"},
		{"config", "get", "apps.hello.port"},
		{"config", "get", "apps.hello", "-o", "yaml"},
		{"instance", "list", "-o", "json"},
		{"operation", "list", "-o", "json"},
		{"operation", "list", "hello"},
	} {
		local, remote := c.ok(false, args...), c.ok(true, args...)
		if local != remote {
			t.Errorf("wild %s differs:\nlocal:\n%s\nremote:\n%s", strings.Join(args, " "), local, remote)
		}
	}

	// Drift: exit 1 both ways, same report.
	kcl := clustertest.Client(t)
	ctx := context.Background()
	scale, _ := kcl.AppsV1().Deployments("hello").GetScale(ctx, "hello", metav1.GetOptions{})
	scale.Spec.Replicas = 3
	if _, err := kcl.AppsV1().Deployments("hello").UpdateScale(ctx, "hello", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	lo, _, lc := c.run(false, "app", "diff", "hello", "-o", "json")
	ro, _, rc := c.run(true, "app", "diff", "hello", "-o", "json")
	if lc != 1 || rc != 1 || lo != ro {
		t.Fatalf("drift: local %d, remote %d\n%s\n%s", lc, rc, lo, ro)
	}

	// Errors: same message, hint and exit code.
	for _, args := range [][]string{{"app", "deploy", "nope"}, {"app", "status", "Bad_Name"}, {"config", "get", "apps.nope.x"}} {
		_, le, lcode := c.run(false, args...)
		_, re, rcode := c.run(true, args...)
		if lcode == 0 || lcode != rcode || le != re {
			t.Errorf("wild %s: local %d %q, remote %d %q", strings.Join(args, " "), lcode, le, rcode, re)
		}
	}
	// A command that only makes sense on local files says so.
	if _, errOut, code := c.run(true, "instance", "git", "init"); code == 0 || !strings.Contains(errOut, "runs only locally") {
		t.Fatalf("local-only command remotely: %d %q", code, errOut)
	}

	// Config set and redeploy through the server reach the cluster.
	c.ok(true, "config", "set", "apps.hello.replicas", "2")
	c.ok(true, "app", "deploy", "hello")
	dep, _ := kcl.AppsV1().Deployments("hello").Get(ctx, "hello", metav1.GetOptions{})
	if *dep.Spec.Replicas != 2 {
		t.Fatalf("replicas after a remote config set + deploy: %d", *dep.Spec.Replicas)
	}
	// A catalog update: outdated, update and rollback through the server.
	catalogtest.Edit(t, filepath.Join(catDir, "hello", "manifest.yaml"), "version: 1.10.3", "version: 1.11.0")
	if lo, ro := c.ok(false, "app", "outdated", "-o", "json"), c.ok(true, "app", "outdated", "-o", "json"); lo != ro || !strings.Contains(ro, "1.11.0") {
		t.Fatalf("outdated differs or misses the update:\nlocal:\n%s\nremote:\n%s", lo, ro)
	}
	c.ok(true, "app", "update", "hello", "--yes")
	if out := c.ok(false, "app", "show", "hello", "-o", "json"); !strings.Contains(out, `"installedVersion": "1.11.0"`) {
		t.Fatalf("after a remote update:\n%s", out)
	}
	c.ok(true, "app", "rollback", "hello")
	if out := c.ok(false, "app", "show", "hello", "-o", "json"); !strings.Contains(out, `"installedVersion": "1.10.3"`) {
		t.Fatalf("after a remote rollback:\n%s", out)
	}
	c.ok(true, "app", "delete", "hello", "--yes")
	if out := c.ok(false, "app", "list", "-o", "json"); strings.Contains(out, `"deployed"`) {
		t.Fatalf("hello still deployed after a remote delete:\n%s", out)
	}

	// Several apps are one transaction both ways: all or none, in
	// dependency order whatever the order given.
	for _, bad := range []string{"nope", "Bad_Name", "../x"} {
		_, le, lcode := c.run(false, "app", "add", "redis", bad)
		_, re, rcode := c.run(true, "app", "add", "redis", bad)
		if lcode == 0 || lcode != rcode || le != re {
			t.Fatalf("adding redis and %s: local %d %q, remote %d %q", bad, lcode, le, rcode, re)
		}
		if added := addedApps(t, c); len(added) != 0 {
			t.Fatalf("a refused multi-add (redis %s) through the server left %v added", bad, added)
		}
	}
	for _, bad := range [][]string{{"--set", "port=1"}, {"--set", "redis:port=1"}, {"--set", "gitea:a..b=1"}} {
		args := append([]string{"app", "add", "gitea", "postgres"}, bad...)
		_, le, lcode := c.run(false, args...)
		_, re, rcode := c.run(true, args...)
		if lcode == 0 || lcode != rcode || le != re {
			t.Fatalf("wild %s: local %d %q, remote %d %q", strings.Join(args, " "), lcode, le, rcode, re)
		}
	}
	if added := addedApps(t, c); len(added) != 0 {
		t.Fatalf("refused values through the server left %v added", added)
	}
	c.ok(true, "app", "add", "gitea", "postgres", "--set", "gitea:domain=git.example.org", "--dep", "gitea:db=postgres")
	if added := addedApps(t, c); strings.Join(added, ",") != "gitea,postgres" {
		t.Fatalf("after adding gitea and postgres through the server: %v added", added)
	}
	if out := c.ok(false, "config", "get", "apps.gitea"); !strings.Contains(out, "postgres") || !strings.Contains(out, "git.example.org") {
		t.Fatalf("gitea's dependency on postgres, added with it, or its own --set did not arrive:\n%s", out)
	}
}

// addedApps is the apps `wild app list` shows added (any state but
// available), sorted.
func addedApps(t *testing.T, c *cliT) []string {
	t.Helper()
	var list []struct{ Name, State string }
	if err := json.Unmarshal([]byte(c.ok(false, "app", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range list {
		if a.State != "available" {
			out = append(out, a.Name)
		}
	}
	return out
}

// A daemon killed mid-operation leaves the truth on restart, and running
// the operation again converges.
func TestDaemonKilledMidOperation(t *testing.T) {
	c := newCLI(t)
	c.ok(false, "instance", "create", "home", "--domain", "cloud.example.com", "--kubeconfig", clustertest.Kubeconfig(t))
	c.ok(false, "app", "add", "redis")
	c.startServe()
	var tok struct{ Token string }
	json.Unmarshal([]byte(c.ok(false, "token", "create", "ops", "--scope", "operate", "-o", "json")), &tok)
	d := &daemonT{t: t, base: c.server, data: c.data, log: &syncBuffer{}}
	id := accepted(t, d.do("POST", "/api/v1/instances/home/apps/redis/deploy", tok.Token, map[string]any{}))
	c.kill()

	c.startServe()
	d.base = c.server
	ri := d.wait(tok.Token, id)
	if ri.Status != wire.Interrupted {
		t.Fatalf("after the daemon died mid-deploy: %s", ri.Status)
	}
	if ri.Error == nil || !strings.Contains(ri.Error.Message, "run it again") {
		t.Fatalf("interrupted without advice: %+v", ri.Error)
	}
	id2 := accepted(t, d.do("POST", "/api/v1/instances/home/apps/redis/deploy", tok.Token, map[string]any{}))
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if ri = d.wait(tok.Token, id2); ri.Terminal() {
			break
		}
	}
	if ri.Status != wire.Succeeded {
		t.Fatalf("re-run after the crash: %s %+v", ri.Status, ri.Error)
	}
}
