package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wild-cloud/wild/internal/testutil"
)

// TestCollectorTunedBeforeHeavyInitialisation runs the real binary with the
// runtime's init and GC traces: the collector must be tuned before
// client-go's scheme (the largest allocation of initialisation) runs, and
// a command that does little (--help) must run no collection cycle at all.
// It fails if shortlived stops being imported, or if a package imported
// early starts to allocate enough to force a cycle.
func TestCollectorTunedBeforeHeavyInitialisation(t *testing.T) {
	bin, err := testutil.WildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--help")
	cmd.Env = append(withoutGOGC(os.Environ()), "GODEBUG=inittrace=1,gctrace=1")
	var trace strings.Builder
	cmd.Stderr = &trace
	if err := cmd.Run(); err != nil {
		t.Fatalf("wild --help: %v\n%s", err, trace.String())
	}
	tuned, scheme := -1, -1
	for i, line := range strings.Split(trace.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "init github.com/wild-cloud/wild/internal/shortlived "):
			tuned = i
		case strings.HasPrefix(line, "init k8s.io/client-go/kubernetes/scheme "):
			scheme = i
		case strings.HasPrefix(line, "gc "):
			t.Errorf("a collection cycle ran: %s", line)
		}
	}
	if tuned < 0 || scheme < 0 || tuned > scheme {
		t.Errorf("shortlived initialised at trace line %d, client-go's scheme at %d: the collector must be tuned first", tuned, scheme)
	}
}

func withoutGOGC(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOGC=") {
			out = append(out, kv)
		}
	}
	return out
}
