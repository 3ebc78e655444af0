package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every waiver of a command's engine names a boolean flag of that command:
// a renamed or removed flag would otherwise drop its waiver silently, and
// the command would hand over to wild-central when it need not.
func TestEngineWaiversNameBoolFlags(t *testing.T) {
	annotated := 0
	walk(NewRoot(&Globals{}), func(c *cobra.Command) {
		engine := c.Annotations[engineKey]
		if engine == "" {
			return
		}
		annotated++
		if engine != engineBackup && engine != engineServe {
			t.Errorf("%s needs an unknown engine %q", c.CommandPath(), engine)
		}
		for _, name := range strings.Split(c.Annotations[waiversKey], ",") {
			if name == "" {
				continue
			}
			f := c.Flags().Lookup(name)
			if f == nil || f.Value.Type() != "bool" {
				t.Errorf("%s: waiver --%s is not a boolean flag of the command", c.CommandPath(), name)
			}
		}
	})
	if annotated == 0 {
		t.Fatal("no command needs an engine: the walk found nothing to check")
	}
}
