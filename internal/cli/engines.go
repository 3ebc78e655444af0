package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/shipbuild"
)

// Engines are the parts only the wild-central program links: the backup
// engine (kopia, with its storage clients) and Wild Central's daemon (the
// API, the web UI, metrics). A process initialises every package it
// links before main runs, and theirs cost a no-op `wild app deploy` about
// 13 % (README, Performance), so wild goes without them and hands the
// commands that need them to wild-central, which has the same commands
// (handOver).
type Engines struct {
	// OpenBackup opens an instance's backup repository (kopiastore.Open).
	OpenBackup backup.Opener
	// Serve runs Wild Central until ctx ends.
	Serve func(ctx context.Context, o ServeOptions) error
}

// ServeOptions are what `wild serve` passes to Wild Central's daemon.
type ServeOptions struct {
	DataDir string
	Listen  string // HOST:PORT
	TLSCert string
	TLSKey  string
	Catalog func() (*catalog.Catalog, error)
	Log     *slog.Logger
	// Ready is called once the daemon listens, with its base URL and, on
	// first start, the one-time setup link.
	Ready func(base, setupURL string)
}

// The engines a command may need (the value of its engineKey annotation).
const (
	engineKey    = "engine"
	waiversKey   = "engine-waived-by"
	engineBackup = "backup"
	engineServe  = "serve"
)

// CentralProgram is the program that has every engine.
const CentralProgram = "wild-central"

// buildEnv carries wild's build to the wild-central it hands a command to,
// which refuses to run for another build (handedOver).
const buildEnv = "WILD_HANDOVER_BUILD"

// needs marks cmd as needing engine when it runs locally, unless one of
// the waivers (boolean flags, e.g. --no-backup) is set.
func needs(cmd *cobra.Command, engine string, waivers ...string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[engineKey] = engine
	cmd.Annotations[waiversKey] = strings.Join(waivers, ",")
	long := cmd.Long
	if long == "" {
		long = cmd.Short // what --help shows when there is no Long
	}
	cmd.Long = strings.TrimRight(long, "\n") + "\n\n" + engineNote(engine, waivers)
	return cmd
}

// engineNote tells, in --help, where a command that needs an engine runs.
func engineNote(engine string, waivers []string) string {
	what := map[string]string{engineBackup: "the backup engine", engineServe: "Wild Central's daemon"}[engine]
	note := fmt.Sprintf("This command runs in %s, the companion program that links %s: wild hands it over "+
		"(found beside wild, on PATH, or built from the checkout wild runs from).", CentralProgram, what)
	if len(waivers) > 0 {
		note += " With --" + strings.Join(waivers, " or --") + " it runs in wild itself."
	}
	return fill(note, 80)
}

// fill breaks text into lines of at most width columns, between words.
func fill(text string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(text) {
		switch {
		case col == 0:
		case col+1+len(w) > width:
			b.WriteByte('\n')
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

func (e Engines) has(engine string) bool {
	switch engine {
	case engineBackup:
		return e.OpenBackup != nil
	case engineServe:
		return e.Serve != nil
	}
	return false
}

// handOverMissing makes every command that needs an engine this program
// lacks run in wild-central instead, before it does anything: same
// arguments, environment and terminal (exec replaces this process).
// Flags are still parsed here first, so bad input fails the same way.
func handOverMissing(root *cobra.Command, g *Globals) {
	walk(root, func(c *cobra.Command) {
		engine := c.Annotations[engineKey]
		if engine == "" || g.engines.has(engine) || c.RunE == nil {
			return
		}
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if waived(cmd) || (g.server() != "" && cmd.Annotations[remoteOK] != "") {
				return run(cmd, args) // the engine is not used, or Wild Central runs it
			}
			return handOver(cmd, g)
		}
	})
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

func waived(cmd *cobra.Command) bool {
	for _, name := range strings.Split(cmd.Annotations[waiversKey], ",") {
		if f := cmd.Flags().Lookup(name); name != "" && f != nil && f.Value.String() == "true" {
			return true
		}
	}
	return false
}

func handOver(cmd *cobra.Command, g *Globals) error {
	path, err := findCentral(g.ErrOut)
	if errors.Is(err, errNoCheckout) {
		return problem.New(problem.PreconditionFailed, fmt.Sprintf("'%s' runs in %s, Wild Central's program (backups and the daemon), which is neither next to wild nor on PATH; build both with: make build (or go install ./cmd/wild-central)", cmd.CommandPath(), CentralProgram))
	}
	if err != nil {
		return problem.Wrap(problem.PreconditionFailed, err, fmt.Sprintf("'%s' runs in %s, which could not be built; build it with: make build", cmd.CommandPath(), CentralProgram))
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, buildEnv+"=") })
	if b := buildID(); b != "" {
		env = append(env, buildEnv+"="+b)
	}
	err = syscall.Exec(path, append([]string{path}, g.args...), env)
	return fmt.Errorf("running %s: %w", path, err)
}

// findCentral prefers the wild-central beside this program (installed
// together, so the same build), then one on PATH, and else builds one
// from the wild checkout it runs from: `go run ./cmd/wild` runs from a
// temporary directory, and the README's commands are `go run`s.
func findCentral(progress io.Writer) (string, error) {
	if self, err := os.Executable(); err == nil {
		// A path with a slash: LookPath only checks it is an executable file.
		if p, err := exec.LookPath(filepath.Join(filepath.Dir(self), CentralProgram)); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath(CentralProgram); err == nil {
		return p, nil
	}
	return buildCentral(progress)
}

// errNoCheckout: wild does not run from a wild checkout with Go at hand.
var errNoCheckout = errors.New("no wild checkout to build from")

// buildCentral builds wild-central into the checkout's .build/bin, the
// way `wild up` builds the local control plane from it.
func buildCentral(progress io.Writer) (string, error) {
	src, err := devcluster.FindSource() // the checkout's devcluster/ module
	if err != nil {
		return "", errNoCheckout
	}
	root := filepath.Dir(src)
	goTool, err := exec.LookPath("go")
	if _, serr := os.Stat(filepath.Join(root, "cmd", CentralProgram, "main.go")); serr != nil || err != nil {
		return "", errNoCheckout
	}
	// Quick once built: go build relinks only a stale program (half a
	// second otherwise), and Install swaps it in by a rename, so a running
	// wild-central (a daemon) keeps its file and a wild starting one at
	// that moment never runs half a file.
	path := filepath.Join(root, ".build", "bin", CentralProgram)
	fmt.Fprintf(progress, "building %s from %s into %s (quick once built)\n", CentralProgram, root, path)
	wait := func() { fmt.Fprintf(progress, "waiting for another wild building %s\n", CentralProgram) }
	if err := shipbuild.Install(goTool, root, path, "./cmd/"+CentralProgram, wait); err != nil {
		return "", err
	}
	return path, nil
}

// buildID names the source this program was built from, "" when unknown
// (built without version control information).
func buildID() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return BuildID(bi.Settings)
}

// BuildID is the build a program's settings name: its revision, marked
// when the tree had uncommitted changes; "" without a revision.
func BuildID(settings []debug.BuildSetting) string {
	var rev, modified string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "true" {
		rev += "+modified"
	}
	return rev
}

// handedOver refuses a command handed over by a wild of another build:
// wild-central would act on the instance with other code than the wild
// the user ran (a stale wild-central on PATH).
func handedOver() error {
	from := os.Getenv(buildEnv)
	os.Unsetenv(buildEnv)
	own := buildID()
	if from == "" || own == "" || from == own {
		return nil
	}
	return problem.New(problem.PreconditionFailed, fmt.Sprintf("%s is built from %s, but the wild that called it was built from %s; build both again with: make build (or go install ./cmd/wild ./cmd/wild-central)", CentralProgram, own, from))
}
