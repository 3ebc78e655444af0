package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wild-cloud/wild/internal/testutil"
)

// wildEnv runs the real wild binary against a private data dir.
type wildEnv struct {
	t    *testing.T
	bin  string
	data string
	env  []string // more environment, winning over the test's own
	dir  string   // working directory, when not the test's
}

func newEnv(t *testing.T) *wildEnv {
	t.Helper()
	bin, err := testutil.WildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return &wildEnv{t: t, bin: bin, data: t.TempDir()}
}

func (e *wildEnv) run(args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(append(os.Environ(), "WILD_CENTRAL_DATA="+e.data, "WILD_INSTANCE=", "WILD_DIRECTORY="), e.env...)
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return o.String(), eb.String(), code
}

func (e *wildEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("wild %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *wildEnv) fails(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code == 0 {
		e.t.Fatalf("wild %s succeeded, want failure\n%s", strings.Join(args, " "), out)
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "error: ") {
		e.t.Errorf("wild %s: want one 'error:' line, got %q", strings.Join(args, " "), errOut)
	}
	return errOut
}

// snapshot returns every file's content under the data dir, for "nothing
// was written" checks.
func (e *wildEnv) snapshot() map[string]string {
	m := map[string]string{}
	filepath.Walk(e.data, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && !strings.HasSuffix(p, ".lock") {
			b, _ := os.ReadFile(p)
			m[p] = string(b)
		}
		return nil
	})
	return m
}

func TestInstanceAndConfigCommands(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	if got := strings.TrimSpace(e.ok("config", "get", "cloud.domain")); got != "cloud.example.com" {
		t.Fatalf("cloud.domain = %q", got)
	}
	e.ok("config", "set", "apps.ghost.port", "2368")
	if got := strings.TrimSpace(e.ok("config", "get", "apps.ghost.port", "-o", "json")); got != "2368" {
		t.Fatalf("json port = %q", got)
	}
	e.ok("secret", "set", "apps.ghost.password", "pa55-word-xyz")
	list := e.ok("secret", "list")
	if strings.Contains(list, "pa55-word-xyz") || !strings.Contains(list, "apps.ghost.password") {
		t.Fatalf("secret list: %s", list)
	}
	if got := strings.TrimSpace(e.ok("secret", "get", "apps.ghost.password")); got != "pa55-word-xyz" {
		t.Fatalf("secret get = %q", got)
	}
	if !strings.Contains(e.ok("instance", "list"), "home") {
		t.Fatal("instance list")
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	before := e.snapshot()
	e.fails("config", "set", "apps..ghost", "1")
	e.fails("config", "set", "cloud.domain.sub", "1")
	e.fails("config", "get", "apps.nothere")
	e.fails("instance", "create", "../evil", "--domain", "a.com")
	e.fails("instance", "create", "UPPER", "--domain", "a.com")
	e.fails("instance", "create", strings.Repeat("x", 64), "--domain", "a.com")
	e.fails("instance", "use", "nope")
	e.fails("config", "get", "cloud.domain", "-o", "xml")
	if after := e.snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("bad input changed files")
	}
}

// TestConcurrentConfigSetLosesNothing starts many processes that each set
// a different key at once; with the flock + atomic rename, every key must
// survive.
func TestConcurrentConfigSetLosesNothing(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if out, errOut, code := e.run("config", "set", fmt.Sprintf("apps.app%d.value", i), fmt.Sprint(i)); code != 0 {
				errs <- out + errOut
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	for i := 0; i < n; i++ {
		if got := strings.TrimSpace(e.ok("config", "get", fmt.Sprintf("apps.app%d.value", i))); got != fmt.Sprint(i) {
			t.Errorf("app%d = %q: an update was lost", i, got)
		}
	}
	if !strings.Contains(e.ok("config", "get", "cloud.domain"), "cloud.example.com") {
		t.Error("concurrent writes damaged other keys")
	}
}

// TestAddSeveralApps adds an app and its dependency in one command, named
// in the wrong order; bad input to a several-app add changes nothing.
// TestAppAddExamplesWork runs the examples of `wild app add --help`, in
// their order, in a new instance: help that teaches a command which fails
// teaches nothing (one said --dep mysql=..., where ghost's dependency is
// named db).
func TestAppAddExamplesWork(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	help := e.ok("app", "add", "--help")
	_, examples, ok := strings.Cut(help, "Examples:\n")
	if !ok {
		t.Fatalf("no examples in:\n%s", help)
	}
	examples, _, _ = strings.Cut(examples, "\n\n")
	ran := 0
	for _, line := range strings.Split(examples, "\n") {
		line, _, _ = strings.Cut(line, "#")
		args := strings.Fields(line)
		if len(args) < 3 || args[0] != "wild" {
			t.Fatalf("an example that is not a wild command: %q", line)
		}
		e.ok(args[1:]...)
		ran++
	}
	if ran < 3 {
		t.Fatalf("only %d examples ran:\n%s", ran, examples)
	}
	if got := strings.TrimSpace(e.ok("config", "get", "apps.ghost.domain")); got != "news.example.com" {
		t.Fatalf("after the examples ghost's domain = %q", got)
	}
}

func TestAddSeveralApps(t *testing.T) {
	e := newEnv(t)
	e.ok("instance", "create", "home", "--domain", "cloud.example.com")
	before := e.snapshot()
	e.fails("app", "add", "ghost", "../x")
	e.fails("app", "add", "ghost", "nothere")
	// With several apps a value names its app; a guess changes nothing.
	if msg := e.fails("app", "add", "ghost", "mysql", "--set", "domain=a.example.com"); !strings.Contains(msg, "--set APP:domain=a.example.com (APP one of ghost, mysql)") {
		t.Errorf("a --set without its app: %s", msg)
	}
	if msg := e.fails("app", "add", "ghost", "mysql", "--dep", "redis:db=mysql"); !strings.Contains(msg, "redis is not one of the apps being added") {
		t.Errorf("a --dep for an app not added: %s", msg)
	}
	e.fails("app", "add", "ghost", "mysql", "--set", "ghost:=x")
	e.fails("app", "add", "ghost", "mysql", "--set", "ghost:a..b=x")
	e.fails("app", "add", "ghost", "mysql", "--dep", "ghost:db=../x")
	if msg := e.fails("app", "add", "ghost", "gitea"); !strings.Contains(msg, "requires an app of type") {
		t.Errorf("a missing dependency: %s", msg)
	}
	for p, c := range e.snapshot() {
		if !strings.Contains(p, "/operations/") && before[p] != c {
			t.Errorf("a failed add changed %s", p)
		}
	}
	out := e.ok("app", "add", "ghost", "mysql", "--set", "ghost:domain=blog.example.com", "--dep", "ghost:db=mysql")
	if strings.Index(out, "added mysql") > strings.Index(out, "added ghost") || !strings.Contains(out, "dependency db -> mysql") ||
		!strings.Contains(out, "next: wild app deploy mysql ghost") {
		t.Fatalf("output:\n%s", out)
	}
	if got := strings.TrimSpace(e.ok("config", "get", "apps.ghost.dbHost")); !strings.Contains(got, "mysql") {
		t.Fatalf("ghost's dbHost = %q, want its mysql's host", got)
	}
	if got := strings.TrimSpace(e.ok("config", "get", "apps.ghost.domain")); got != "blog.example.com" {
		t.Fatalf("ghost's domain = %q, want the --set given for ghost", got)
	}
	if _, _, code := e.run("config", "get", "apps.mysql.domain"); code == 0 {
		t.Fatal("ghost's --set reached mysql")
	}
}
