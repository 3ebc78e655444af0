// Package cli wires the wild command tree. Commands here parse flags and
// print; the work itself lives in the domain packages so the CLI and the
// future HTTP API share one service layer.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/output"
)

// Globals are the settings every command shares. Flags win over the
// environment, and the environment wins over defaults.
type Globals struct {
	DataDir   string
	Directory string
	Instance  string
	Output    string

	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Printer returns a printer for the chosen -o format.
func (g *Globals) Printer() *output.Printer {
	return output.New(g.Out, g.Output)
}

// registrar adds one group of commands to the root. Each command file
// registers itself from init so files stay independent of each other.
type registrar struct {
	order int
	add   func(root *cobra.Command, g *Globals)
}

var registrars []registrar

func register(order int, add func(root *cobra.Command, g *Globals)) {
	registrars = append(registrars, registrar{order, add})
}

// exitError carries a specific exit code (e.g. 1 for "drift found") without
// being reported as a failure message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// ExitCode lets a command end with a chosen code; msg may be empty.
func ExitCode(code int, msg string) error { return &exitError{code: code, msg: msg} }

// NewRoot builds the command tree.
func NewRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "wild",
		Short: "Run self-hosted apps on your own Kubernetes cluster",
		Long: `wild manages Wild Cloud instances: pick apps from the Wild Directory,
configure them, and deploy them to your cluster.

Quick start (no cluster needed):
  wild up                  # local control plane + an instance named "dev"
  wild app add mysql
  wild app add ghost
  wild app deploy ghost --with-deps`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(g.In)
	root.SetOut(g.Out)
	root.SetErr(g.ErrOut)
	pf := root.PersistentFlags()
	pf.StringVar(&g.DataDir, "data-dir", "", "data directory (env WILD_CENTRAL_DATA; default $XDG_DATA_HOME/wild-central)")
	pf.StringVar(&g.Directory, "directory", "", "Wild Directory (app catalog) path (env WILD_DIRECTORY; default: the bundled catalog)")
	pf.StringVar(&g.Instance, "instance", "", "instance to act on (env WILD_INSTANCE; default: the one chosen with 'wild instance use')")
	pf.StringVarP(&g.Output, "output", "o", "table", "output format: table, json or yaml")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return output.Validate(g.Output)
	}
	sort.SliceStable(registrars, func(i, j int) bool { return registrars[i].order < registrars[j].order })
	for _, r := range registrars {
		r.add(root, g)
	}
	return root
}

// Main runs the CLI and returns the process exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	g := &Globals{In: in, Out: out, ErrOut: errOut}
	root := NewRoot(g)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(errOut, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(errOut, "error: "+oneLine(err.Error()))
	return 2
}

// oneLine keeps errors to one line unless the message is deliberately
// multi-line (a list of blockers reads better as a list).
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.Count(s, "\n") > 0 && !strings.Contains(s, "\n  ") {
		return strings.ReplaceAll(s, "\n", "; ")
	}
	return s
}

func getenv(k string) string { return os.Getenv(k) }

// ResolveDataDir applies flag > WILD_CENTRAL_DATA > $XDG_DATA_HOME/wild-central
// > ~/.local/share/wild-central.
func (g *Globals) ResolveDataDir() (string, error) {
	if g.DataDir != "" {
		return g.DataDir, nil
	}
	if v := getenv("WILD_CENTRAL_DATA"); v != "" {
		return v, nil
	}
	if v := getenv("XDG_DATA_HOME"); v != "" {
		return v + "/wild-central", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a data directory: set --data-dir or WILD_CENTRAL_DATA: %w", err)
	}
	return home + "/.local/share/wild-central", nil
}
