package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wild-cloud/wild/internal/devcluster"
)

// TestNewcomerPath runs the README's first command and what follows it,
// with the real binary: wild up, add mysql and ghost, deploy, diff, list,
// delete, wild down. It starts its own local control plane.
func TestNewcomerPath(t *testing.T) {
	e := newEnv(t)
	clusterDir := filepath.Join(e.data, "devcluster")
	t.Cleanup(func() { devcluster.Down(clusterDir) })

	// The real node is left to internal/realnode, whose cluster needs it
	// (one per machine) while this package may run beside it.
	out := e.ok("up", "--nodes", "1", "--real-node", "off")
	if !strings.Contains(out, `instance "dev" is ready and selected`) || !strings.Contains(out, "wild app add ghost mysql") {
		t.Fatalf("wild up said:\n%s", out)
	}
	var info struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
	}
	if err := json.Unmarshal([]byte(e.ok("instance", "show", "-o", "json")), &info); err != nil || info.Name != "dev" || !info.Current {
		t.Fatalf("instance show: %+v %v", info, err)
	}
	errOut := e.fails("app", "add", "ghost")
	if !strings.Contains(errOut, "ghost requires an app of type mysql; add one first: wild app add mysql") {
		t.Fatalf("add without mysql: %s", errOut)
	}
	e.ok("app", "add", "ghost", "mysql") // as wild up's next step says
	errOut = e.fails("app", "deploy", "ghost")
	if !strings.Contains(errOut, "wild app deploy mysql") {
		t.Fatalf("deploy without mysql deployed: %s", errOut)
	}
	out = e.ok("app", "deploy", "ghost", "--with-deps", "--timeout", "2m")
	if !strings.Contains(out, "ghost is ready") || !strings.Contains(out, "dependency deployed: mysql") || strings.Contains(out, "warning") {
		t.Fatalf("deploy --with-deps said:\n%s", out)
	}
	if !strings.Contains(e.ok("app", "deploy", "ghost"), "unchanged: ghost") {
		t.Fatal("second deploy was not reported unchanged")
	}
	if _, _, code := e.run("app", "diff", "ghost"); code != 0 {
		t.Fatalf("diff right after deploy exited %d", code)
	}
	var apps []struct{ Name, State string }
	json.Unmarshal([]byte(e.ok("app", "list", "-o", "json")), &apps)
	states := map[string]string{}
	for _, a := range apps {
		states[a.Name] = a.State
	}
	if states["ghost"] != "deployed" || states["mysql"] != "deployed" || states["gitea"] != "available" {
		t.Fatalf("states: %v", states)
	}
	status := e.ok("app", "status", "ghost")
	for _, want := range []string{"ingress ghost: https://ghost.wild.test", "secret wildcard-wild-cloud-tls: present", "volume ghost-pvc: Bound"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if out := e.ok("app", "delete", "ghost", "--yes"); !strings.Contains(out, "cluster: namespace ghost") {
		t.Fatalf("delete said:\n%s", out)
	}
	st, err := devcluster.Status(clusterDir)
	if err != nil {
		t.Fatal(err)
	}
	e.ok("down")
	for _, c := range st.Components {
		if c.PID > 0 && syscall.Kill(c.PID, 0) == nil {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(c.PID) + "/stat"); !strings.Contains(string(b), ") Z ") {
				t.Errorf("%s (pid %d) still running after wild down", c.Name, c.PID)
			}
		}
	}
}
