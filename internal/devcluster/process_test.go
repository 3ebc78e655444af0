package devcluster

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HogEnv makes the test binary a helper process that holds a large,
// touched address space: tearing it down on exit takes long enough that
// the process sits in the table with an empty command line for a while.
const HogEnv = "WILD_TEST_HOG_MEMORY"

// HogMemory is exported for the external test package's TestMain.
func HogMemory() {
	mem, err := syscall.Mmap(-1, 0, 2<<30, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_POPULATE)
	if err != nil {
		fmt.Println("mmap:", err)
		os.Exit(1)
	}
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
}

// stop must return only once the process has really exited, not as soon
// as its command line turns empty at the start of its exit (which made
// `down` return while the API server still held its port).
func TestStopWaitsForExitingProcess(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		t.Setenv(HogEnv, "1")
		rec, err := startProcess(dir, "hog", exe, []string{"-test.run=^$"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(rec.PID, syscall.SIGKILL) })
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, _ := os.ReadFile(logPath(dir, "hog"))
			if strings.Count(string(b), "ready") > round {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("helper never got ready:\n%s", b)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := rec.stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", rec.PID)); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Fatalf("round %d: stop returned while pid %d still runs: %s", round, rec.PID, b)
		}
	}
}
