package lifecycle

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// historyDepth bounds how far back compiledConfig looks in git history.
const historyDepth = 200

// compiledConfig finds the app config apps/<app>/ was last compiled with.
// `config set` does not recompile, so the committed files may predate the
// current config; merging against a base compiled with the current config
// would mistake that staleness for hand edits and keep it. The compile
// stamp holds the config's hash; the config itself is found in git
// history. Without a match the current config is the best guess.
func compiledConfig(inst *instance.Instance, app string, current map[string]any) map[string]any {
	b, err := os.ReadFile(filepath.Join(inst.AppDir(app), stampFile))
	if err != nil {
		return current
	}
	var st compileStamp
	if json.Unmarshal(b, &st) != nil || st.ConfigHash == "" || st.ConfigHash == configHash(current) {
		return current
	}
	found := current
	_ = gitmode.FileHistory(inst, instance.ConfigFile, historyDepth, func(data []byte) bool {
		d, err := yamldoc.Parse(instance.ConfigFile, data)
		if err != nil {
			return false
		}
		cfg, err := appConfig(d, app)
		if err != nil || configHash(cfg) != st.ConfigHash {
			return false
		}
		found = cfg
		return true
	})
	return found
}
