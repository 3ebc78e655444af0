package instance

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/yamldoc"
)

// GetConfig returns the config value at a dotted path.
func (i *Instance) GetConfig(path string) (any, error) {
	return i.get(ConfigFile, path)
}

// GetSecret returns the secret value at a dotted path. Callers print it
// only when the user asked for that value explicitly.
func (i *Instance) GetSecret(path string) (any, error) {
	return i.get(SecretsFile, path)
}

func (i *Instance) get(file, path string) (any, error) {
	p, err := yamldoc.ParsePath(path)
	if err != nil {
		return nil, err
	}
	d, err := i.readDoc(file)
	if err != nil {
		return nil, err
	}
	v, ok, err := d.Value(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s has no %s; see what is there with: %s %s", file, path, browseCommand(file), parentOr(path))
	}
	return v, nil
}

// browseCommand is how to look around a file without printing secret
// values: secrets are browsed through the masked listing.
func browseCommand(file string) string {
	if file == SecretsFile {
		return "wild secret list"
	}
	return "wild config get"
}

func parentOr(path string) string {
	if i := strings.LastIndex(path, "."); i > 0 {
		return path[:i]
	}
	return path
}

// SetOptions tune SetConfig and SetSecret.
type SetOptions struct {
	// Force allows replacing a mapping (e.g. all of apps.postgres) with a
	// single value. What it replaces is saved first.
	Force bool
}

// SetResult says what a set replaced, when it replaced a whole mapping.
type SetResult struct {
	Snapshot string `json:"snapshot,omitempty"` // absolute path of the saved old value
	Undo     string `json:"undo,omitempty"`     // how to put it back
}

// SetConfig sets a config value. raw is read as YAML (8080 is a number).
func (i *Instance) SetConfig(path, raw string) error {
	_, err := i.SetConfigWith(path, raw, SetOptions{})
	return err
}

// SetConfigWith is SetConfig with options.
func (i *Instance) SetConfigWith(path, raw string, o SetOptions) (SetResult, error) {
	p, err := yamldoc.ParsePath(path)
	if err != nil {
		return SetResult{}, err
	}
	v, err := yamldoc.ParseValue(raw)
	if err != nil {
		return SetResult{}, err
	}
	return i.set(ConfigFile, p, v, o)
}

// SetSecret sets a secret value; secrets are always strings.
func (i *Instance) SetSecret(path, value string) error {
	_, err := i.SetSecretWith(path, value, SetOptions{})
	return err
}

// SetSecretWith is SetSecret with options.
func (i *Instance) SetSecretWith(path, value string, o SetOptions) (SetResult, error) {
	p, err := yamldoc.ParsePath(path)
	if err != nil {
		return SetResult{}, err
	}
	if err := yamldoc.CheckText(value); err != nil {
		return SetResult{}, err
	}
	return i.set(SecretsFile, p, yamldoc.StringNode(value), o)
}

func (i *Instance) set(file string, p []string, v *yaml.Node, o SetOptions) (SetResult, error) {
	var res SetResult
	path := strings.Join(p, ".")
	what := strings.TrimSuffix(file, ".yaml")
	err := i.Update(func(e *Edit) error {
		doc := e.Config
		if file == SecretsFile {
			doc = e.Secrets
		}
		e.Message = fmt.Sprintf("%s(%s): set %s", what, scope(p), path)
		old, exists := doc.Get(p)
		if exists && old.Kind == yaml.MappingNode && len(old.Content) > 0 && v.Kind != yaml.MappingNode {
			if !o.Force {
				return fmt.Errorf("%s holds %d key(s) in %s; setting it to one value would replace them all. Set a key below it (e.g. %s.KEY), or pass --force to replace it (the old value is saved first)", path, len(old.Content)/2, file, path)
			}
			snap, err := saveReplaced(e, file, p, old)
			if err != nil {
				return err
			}
			res.Snapshot = i.Path(snap)
			res.Undo = undoHint(what, path, res.Snapshot)
		}
		return doc.Set(p, v)
	})
	return res, err
}

// saveReplaced stages a copy of the mapping a forced set replaces, as one
// line of JSON (valid YAML flow), under .snapshots/replaced/ (0600: it
// may hold secrets; git mode never stages .snapshots/).
func saveReplaced(e *Edit, file string, p []string, old *yaml.Node) (string, error) {
	v, err := yamldoc.ToValue(old)
	if err != nil {
		return "", fmt.Errorf("%s: %s cannot be read, so it cannot be saved before replacing it; fix it by hand", file, strings.Join(p, "."))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	rel := filepath.Join(".snapshots", "replaced", fmt.Sprintf("%s-%s-%s.json", time.Now().UTC().Format("20060102T150405Z"), strings.TrimSuffix(file, ".yaml"), strings.Join(p, ".")))
	return rel, e.WriteFile(rel, append(b, '\n'), 0o600)
}

func undoHint(what, path, snap string) string {
	if what == "config" {
		return fmt.Sprintf(`wild config set %s "$(cat %s)"`, path, snap)
	}
	return fmt.Sprintf("copy the keys in %s back under %s in secrets.yaml", snap, path)
}

// scope names what a path belongs to, for commit messages: the app for
// apps.NAME.*, else the top-level key.
func scope(p []string) string {
	if len(p) >= 2 && p[0] == "apps" {
		return p[1]
	}
	return p[0]
}

// SecretEntry is one secret in a listing; the value is never included.
type SecretEntry struct {
	Path   string `json:"path"`
	Length int    `json:"length"`
}

// ListSecrets lists secret paths under prefix (all when empty), masked.
func (i *Instance) ListSecrets(prefix string) ([]SecretEntry, error) {
	var p []string
	if prefix != "" {
		var err error
		if p, err = yamldoc.ParsePath(prefix); err != nil {
			return nil, err
		}
	}
	d, err := i.ReadSecrets()
	if err != nil {
		return nil, err
	}
	out := []SecretEntry{}
	for path, n := range d.Leaves(p) {
		if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
			continue
		}
		out = append(out, SecretEntry{Path: path, Length: len(n.Value)})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
	return out, nil
}

// AppSecretData is an app's section of secrets.yaml as the data of its
// Kubernetes Secret: each leaf under apps.<app>, keyed by its path below
// the app (apiKey, dbUrl, db.password). The deploy and a restore's standby
// write the same Secret from it.
func AppSecretData(secrets *yamldoc.Doc, app string) map[string][]byte {
	prefix := "apps." + app + "."
	out := map[string][]byte{}
	for path, n := range secrets.Leaves([]string{"apps", app}) {
		if k, ok := strings.CutPrefix(path, prefix); ok {
			out[k] = []byte(n.Value)
		}
	}
	return out
}
