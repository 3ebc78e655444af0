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

// TestWildLeavesOutTheEngines keeps wild lean: every package a program
// links initialises before main, and the backup engine (kopia and its
// storage clients) and Wild Central's daemon (huma, Prometheus) cost a
// no-op deploy about 4 ms of ~30 (README, Performance). wild-central links
// them, and wild hands it the commands that need them (cli.Engines).
func TestWildLeavesOutTheEngines(t *testing.T) {
	engines := []string{"github.com/kopia/kopia/", "github.com/minio/minio-go/", "github.com/Azure/", "google.golang.org/grpc",
		"github.com/danielgtaylor/huma/", "github.com/prometheus/client_golang/", "github.com/wild-cloud/wild/internal/daemon",
		"github.com/wild-cloud/wild/internal/central",
		"github.com/wild-cloud/wild/internal/backup/kopiastore", "github.com/wild-cloud/wild/internal/web"}
	linked := func(pkg string) string {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return string(out)
	}
	wild, central := linked("github.com/wild-cloud/wild/cmd/wild"), linked("github.com/wild-cloud/wild/cmd/wild-central")
	for _, e := range engines {
		if strings.Contains(wild, e) {
			t.Errorf("wild links %s", e)
		}
		if !strings.Contains(central, e) {
			t.Errorf("wild-central does not link %s", e)
		}
	}
}
