package shortlived

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary report, as a child process, the GOGC its
// package initialisation left, under an environment the test chooses.
func TestMain(m *testing.M) {
	if os.Getenv("SHORTLIVED_REPORT") != "" {
		os.Stdout.WriteString(strconv.Itoa(debug.SetGCPercent(100)))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func percentWith(t *testing.T, gogc string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SHORTLIVED_REPORT=1")
	cmd.Env = append(cmd.Env, "GOGC="+gogc) // the last value wins; empty counts as unset
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("child printed %q", out)
	}
	return n
}

func TestPercentFromInitialisation(t *testing.T) {
	if got := percentWith(t, ""); got != Percent {
		t.Errorf("GOGC unset: percent %d after initialisation, want %d", got, Percent)
	}
}

func TestUserGOGCWins(t *testing.T) {
	if got := percentWith(t, "150"); got != 150 {
		t.Errorf("GOGC=150: percent %d after initialisation, want the user's 150", got)
	}
}
