// Package side knows which copy of an app serves traffic. A restore
// brings an app back as a colored copy beside the live one (namespace
// {app}-{color}, databases {db}_{color}, claims {pvc}-{color}); after a
// switch that copy is the app, so every later deploy, status, update,
// backup and delete must act on it. The record lives in the instance
// (backups/APP/active.yaml), so both the backup operations and the
// lifecycle read the same truth, and the renames that made the copy are
// kept with it, so a redeploy from apps/APP lands on the copy unchanged.
package side

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/instance"
)

// Dir holds one directory per app for its backups and its active side.
const Dir = "backups"

// Colors are the names a copy of an app can take; verify is a drill's
// throwaway copy, never active.
var Colors = []string{"blue", "green", "verify"}

// Active is which copy of an app serves traffic. Original is the copy
// `wild app deploy` made, whose names carry no color.
type Active struct {
	Color     string `json:"color"`
	Original  bool   `json:"original"`
	Namespace string `json:"namespace"`
	Plan      string `json:"plan,omitempty"`
	// Databases and Volumes map the names the app's compiled files use
	// (the base names) to the copy's.
	Databases map[string]string `json:"databases,omitempty"`
	Volumes   map[string]string `json:"volumes,omitempty"`
}

// Path is the app's record, relative to the instance.
func Path(app string) string { return filepath.Join(Dir, app, "active.yaml") }

// Read returns the app's active side; the original, blue, by default.
func Read(inst *instance.Instance, app string) (Active, error) {
	a := Active{Color: "blue", Original: true}
	b, err := os.ReadFile(inst.Path(Path(app)))
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	if err := yaml.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%s is corrupt (%v); fix it by hand or restore it from git, it says which copy of %s serves", Path(app), err, app)
	}
	return a, nil
}

// Write records a as the app's active side.
func Write(inst *instance.Instance, app string, a Active) error {
	b, err := yaml.Marshal(a)
	if err != nil {
		return err
	}
	return inst.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("backup(%s): %s is active", app, a.Color)
		return e.WriteFile(Path(app), b, 0o644)
	})
}

// Forget drops the record inside an edit, when the app itself goes.
func Forget(e *instance.Edit, app string) { e.RemoveAll(Path(app)) }

// Inventory is the name the side's objects are recorded under in the
// cluster: the app's own for the original, the copy's namespace for a
// color, so that deploying one side never prunes the other.
func (a Active) Inventory(app string) string {
	if a.Original {
		return app
	}
	return a.Namespace
}

// Renames turns the app's compiled objects into the active copy's; nil
// for the original. Hosts stay: the active copy serves the real ones.
func (a Active) Renames() *Renames {
	if a.Original {
		return nil
	}
	return &Renames{Namespace: a.Namespace, Databases: a.Databases, Volumes: a.Volumes}
}

// Copies are the inventory names of every colored copy app may have.
func Copies(app string) []string {
	out := make([]string, 0, len(Colors))
	for _, c := range Colors {
		out = append(out, app+"-"+c)
	}
	sort.Strings(out)
	return out
}
