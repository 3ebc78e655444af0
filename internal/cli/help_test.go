package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestExamplesNameRealCommandsAndFlags reads every command's examples
// (and the root's quick start) as a user would copy them: each `wild …`
// line must reach a real command, with flags that command has, and the
// argument count it accepts. TestAppAddExamplesWork runs the add
// examples for real.
func TestExamplesNameRealCommandsAndFlags(t *testing.T) {
	root := NewRoot(&Globals{})
	checked := 0
	_, quickStart, _ := strings.Cut(root.Long, "Quick start")
	walk(root, func(c *cobra.Command) {
		text := c.Example
		if c == root {
			text = quickStart
		}
		for _, line := range exampleCommands(text) {
			checked++
			if err := parseExample(root, line); err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
			}
		}
	})
	for _, bad := range []string{"wild app add ghost --nope", "wild app nope", "wild app status a b"} {
		if parseExample(root, bad) == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if checked < 40 {
		t.Fatalf("only %d example lines found; the parser lost them", checked)
	}
}

// exampleCommands is each `wild …` command in text: comments and
// continuation lines joined, environment assignments and pipes before
// wild dropped.
func exampleCommands(text string) []string {
	var out []string
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, part := range strings.Split(line, "&&") {
			if _, after, ok := strings.Cut(part, "| wild "); ok {
				part = "wild " + after
			}
			fields := strings.Fields(part)
			for len(fields) > 0 && strings.Contains(fields[0], "=") {
				fields = fields[1:]
			}
			if len(fields) > 1 && fields[0] == "wild" {
				out = append(out, strings.Join(fields, " "))
			}
		}
	}
	return out
}

func parseExample(root *cobra.Command, line string) error {
	args := strings.Fields(line)[1:]
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if !cmd.Runnable() {
		return fmt.Errorf("%s is a group of commands, not one", cmd.CommandPath())
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if cmd.Args != nil {
		return cmd.Args(cmd, cmd.Flags().Args())
	}
	return nil
}
