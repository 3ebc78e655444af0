package instance

import (
	"fmt"
	"sort"
	"strings"

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

// SetConfig sets a config value. raw is read as YAML (8080 is a number).
func (i *Instance) SetConfig(path, raw string) error {
	p, err := yamldoc.ParsePath(path)
	if err != nil {
		return err
	}
	v, err := yamldoc.ParseValue(raw)
	if err != nil {
		return err
	}
	return i.Update(func(e *Edit) error {
		e.Message = fmt.Sprintf("config(%s): set %s", scope(p), path)
		return e.Config.Set(p, v)
	})
}

// SetSecret sets a secret value; secrets are always strings.
func (i *Instance) SetSecret(path, value string) error {
	p, err := yamldoc.ParsePath(path)
	if err != nil {
		return err
	}
	return i.Update(func(e *Edit) error {
		e.Message = fmt.Sprintf("secret(%s): set %s", scope(p), path)
		return e.Secrets.Set(p, yamldoc.StringNode(value))
	})
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
