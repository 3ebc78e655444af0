package clustertest_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/devcluster"
)

// The tests here run this test binary again as a child that starts its
// own cluster (helper mode) and then ends badly; the parent checks that
// nothing is left behind. The parent itself needs no cluster.
const helperEnv = "CLUSTERTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		clustertest.Main(m)
	}
	os.Exit(m.Run())
}

// TestHelperChild is the child's body; it does nothing in a normal run.
func TestHelperChild(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	clustertest.Namespace(t) // the cluster works
	if err := os.WriteFile(os.Getenv("CLUSTERTEST_DIR_FILE"), []byte(clustertest.Dir()), 0o644); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "panic":
		panic("deliberate panic in a test")
	case "wait":
		time.Sleep(5 * time.Minute) // the parent signals us
	}
}

func child(t *testing.T, mode string, extraEnv ...string) (*exec.Cmd, *bytes.Buffer, string) {
	t.Helper()
	dirFile := filepath.Join(t.TempDir(), "dir")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChild$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "CLUSTERTEST_DIR_FILE="+dirFile)
	cmd.Env = append(cmd.Env, extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, dirFile
}

func waitDirFile(t *testing.T, path string, out *bytes.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("child never reported its cluster; output:\n%s", out)
	return ""
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z")) {
			continue
		}
		found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

// assertCleanedUp waits for the reaper or the signal handler: no process
// may mention the cluster dir, and the dir itself must be gone.
func assertCleanedUp(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		left := processesMentioning(dir)
		_, statErr := os.Stat(dir)
		if len(left) == 0 && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: processes left %v; dir stat: %v", left, statErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestClusterStoppedWhenTestPanics(t *testing.T) {
	cmd, out, dirFile := child(t, "panic")
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("panicking child exited 0; output:\n%s", out)
	}
	if !strings.Contains(out.String(), "deliberate panic") {
		t.Fatalf("child did not reach the panic; output:\n%s", out)
	}
	assertCleanedUp(t, waitDirFile(t, dirFile, out))
}

func TestClusterStoppedWhenTestBinaryKilled(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, out, dirFile := child(t, "wait")
			dir := waitDirFile(t, dirFile, out)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			assertCleanedUp(t, dir)
		})
	}
}

func TestMissingBinariesFailNamingBuildCommand(t *testing.T) {
	cmd, out, _ := child(t, "panic", "WILD_DEVCLUSTER_BIN="+t.TempDir())
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("child passed without binaries; output:\n%s", out)
	}
	if !strings.Contains(out.String(), devcluster.BuildCommand) {
		t.Fatalf("output does not name %q:\n%s", devcluster.BuildCommand, out)
	}
	if strings.Contains(out.String(), "SKIP") {
		t.Fatalf("missing binaries must fail, not skip:\n%s", out)
	}
}
