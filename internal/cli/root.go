// Package cli wires the wild command tree. Commands here parse flags and
// print; the work itself lives in the domain packages so the CLI and the
// future HTTP API share one service layer.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wild-cloud/wild/internal/cli/advice"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/output"
	"github.com/wild-cloud/wild/internal/redact"
)

// Globals are the settings every command shares. Flags win over the
// environment, and the environment wins over defaults.
type Globals struct {
	DataDir   string
	Directory string
	Instance  string
	Output    string
	// Server, when set, runs commands through that Wild Central.
	Server string

	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// Observer, when set, receives operation events instead of the
	// terminal renderer (tests use it to see the stream).
	Observer event.Observer

	engines Engines
	args    []string // as given to Main, for a hand-over to wild-central
}

// observer draws operation events on stderr; resource statuses only in
// table output, where a person watches.
func (g *Globals) observer() event.Observer {
	if g.Observer != nil {
		return g.Observer
	}
	return newTerminal(g.ErrOut, isTTY(g.ErrOut), !g.Printer().Structured())
}

// Printer returns a printer for the chosen -o format.
func (g *Globals) Printer() *output.Printer {
	return output.New(g.Out, g.Output)
}

// commandGroups add the command tree, in the order --help lists them.
// Groups that extend another ("app deploy", "instance git") come after it.
var commandGroups = []func(root *cobra.Command, g *Globals){
	addUpCommands,
	addInstanceCommands,
	addConfigCommands,
	addAppCommands,
	addDirectoryCommands,
	addDeployCommands,
	addGitCommands,
	addUpdateCommands,
	addBackupCommands,
	addServeCommands,
	addDevCommands,
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
  wild app add ghost mysql # ghost and the mysql it needs, in one transaction
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
	pf.StringVar(&g.Server, "server", "", "run through this Wild Central (URL; env WILD_SERVER; sign in with 'wild login URL')")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := output.Validate(g.Output); err != nil {
			return err
		}
		return g.checkRemote(cmd)
	}
	for _, add := range commandGroups {
		add(root, g)
	}
	handOverMissing(root, g)
	return root
}

// Main runs the CLI with the engines this program links (none for wild,
// all for wild-central) and returns the process exit code.
func Main(e Engines, args []string, in io.Reader, out, errOut io.Writer) int {
	g := &Globals{In: in, Out: out, ErrOut: errOut, engines: e, args: args}
	err := handedOver()
	if err == nil {
		root := NewRoot(g)
		root.SetArgs(args)
		err = root.Execute()
	}
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
	fmt.Fprintln(errOut, "error: "+output.Escape(oneLine(redact.String(advice.Message(err), g.secretValues())), true))
	return 2
}

// secretValues are the secret values of every instance in the data dir:
// the last guard that keeps them out of a printed error, whatever
// produced it.
func (g *Globals) secretValues() []string {
	dir, err := g.ResolveDataDir()
	if err != nil {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "instances", "*", instance.SecretsFile))
	var out []string
	for _, f := range files {
		out = append(out, redact.FileValues(f)...)
	}
	return out
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
