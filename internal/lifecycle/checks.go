package lifecycle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
)

// checkNamespace validates the app's namespace when it is added (not only
// at deploy): a DNS-1123 label, not a system namespace, and not one
// another app of this instance already uses (the two would prune and
// overwrite each other).
func checkNamespace(cfg map[string]any, app string, appCfg map[string]any) error {
	raw, ok := appCfg["namespace"]
	if !ok || raw == nil {
		return nil
	}
	ns, isStr := raw.(string)
	if !isStr {
		return problem.New(problem.Invalid, fmt.Sprintf("apps.%s.namespace must be a name, not %v", app, raw)).
			With("", fmt.Sprintf("set apps.%s.namespace to a name such as %s", app, app))
	}
	if err := names.ValidateNamespace(app, ns); err != nil {
		return err
	}
	for other, v := range asMap(cfg["apps"]) {
		if other != app && asMap(v)["namespace"] == ns {
			return problem.New(problem.Conflict, fmt.Sprintf("namespace %s is already used by app %s", ns, other)).
				With("app.add", fmt.Sprintf("give %s its own", app), "app", app, "set", "namespace="+app)
		}
	}
	return nil
}

// warnRegenerated warns loudly when an app that is already added gets
// secrets generated anew: secrets.yaml lost them (a truncated file that
// still parses, a hand edit), and a deployed app's data (a database
// password) no longer matches the new values.
func warnRegenerated(inst *instance.Instance, app string, generated []string, op *operation.Op) {
	if len(generated) == 0 {
		return
	}
	if _, err := os.Stat(filepath.Join(inst.AppDir(app), catalog.ManifestFile)); err != nil {
		return // a first add: generating is the point
	}
	op.Warn("SECRETS REGENERATED for %s, which was already added: %s were missing from secrets.yaml and now hold new values. If %s was deployed, its data still expects the old ones: set each back to its old value from a backup, then redeploy",
		app, strings.Join(generated, ", "), app)
}
