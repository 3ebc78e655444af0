package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/wild-cloud/wild/internal/output"
)

// Table is re-exported so command files read naturally.
type Table = output.Table

// isTTY reports whether f is an interactive terminal.
func isTTY(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks a yes/no question on a terminal. Without a terminal and
// without --yes it refuses, because a script must say what it wants.
func confirm(g *Globals, yes bool, question string) (bool, error) {
	if yes {
		return true, nil
	}
	if !isTTY(g.In) {
		return false, fmt.Errorf("%s Refusing without a terminal; pass --yes to confirm", question)
	}
	fmt.Fprintf(g.ErrOut, "%s [y/N] ", question)
	line, _ := bufio.NewReader(g.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, ExitCode(1, "cancelled; nothing changed")
}

// optionalArg returns the single optional positional argument, or "".
func optionalArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return ""
}
