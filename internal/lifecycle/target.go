package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/side"
)

// target is an added app as the cluster operations see it: its compiled
// objects, namespace and identity.
type target struct {
	app        string
	manifest   *catalog.Manifest
	objs       []*unstructured.Unstructured
	namespace  string
	instanceID string
	// side is the copy of the app that serves (see package side): the
	// original, or a restored color after a switch.
	side    side.Active
	renames *side.Renames
	// baseNamespace is the original copy's namespace.
	baseNamespace string
}

// loadTarget reads and builds an added app (kustomize, in-process).
func loadTarget(inst *instance.Instance, app string) (*target, error) {
	return loadTargetFrom(inst, app, inst.AppDir(app))
}

// loadTargetFrom builds the app from dir, e.g. a preview compile.
func loadTargetFrom(inst *instance.Instance, app, dir string) (*target, error) {
	return loadTargetWith(inst, app, dir, false)
}

// loadTargetWith is loadTargetFrom; lenient tolerates a corrupt instance
// manifest (delete needs only the compiled objects).
func loadTargetWith(inst *instance.Instance, app, dir string, lenient bool) (*target, error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	m, err := ReadInstalledManifest(inst, app)
	var corrupt *catalog.ManifestError
	if lenient && errors.As(err, &corrupt) {
		m, err = &catalog.Manifest{Name: app}, nil
	}
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, problem.New(problem.NotFound, fmt.Sprintf("%s is not added to instance %s", app, inst.Name)).With("app.add", "add it first", "app", app)
	}
	id, err := inst.ID()
	if err != nil {
		return nil, err
	}
	objs, err := kube.BuildCached(dir)
	if err != nil {
		return nil, fmt.Errorf("build apps/%s with kustomize: %w", app, err)
	}
	ns, err := namespaceOf(app, objs)
	if err != nil {
		return nil, err
	}
	t := &target{app: app, manifest: m, objs: objs, namespace: ns, baseNamespace: ns, instanceID: id}
	return t, t.followSide(inst)
}

// followSide points the target at the app's active copy, so that every
// operation after a switch acts on the side that serves.
func (t *target) followSide(inst *instance.Instance) error {
	act, err := side.Read(inst, t.app)
	if err != nil {
		return err
	}
	t.side, t.renames = act, act.Renames()
	if t.renames == nil {
		return nil
	}
	t.objs = t.renames.Objects(t.objs)
	t.namespace = act.Namespace
	return nil
}

// namespaceOf takes the app's namespace from its compiled manifests (the
// Namespace object, else the namespace its objects live in), never from the
// app name: a user may have renamed it in config.
func namespaceOf(app string, objs []*unstructured.Unstructured) (string, error) {
	seen := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" {
			return o.GetName(), nil
		}
		if ns := o.GetNamespace(); ns != "" {
			seen[ns] = true
		}
	}
	if len(seen) == 1 {
		for ns := range seen {
			return ns, nil
		}
	}
	if len(seen) == 0 {
		return "", fmt.Errorf("apps/%s has no namespace: add a namespace.yaml or set namespace: in its kustomization.yaml", app)
	}
	return "", fmt.Errorf("apps/%s spans namespaces %s and has no Namespace object; Wild Cloud deploys one app into one namespace", app, strings.Join(sortedKeys(seen), ", "))
}

func (t *target) inventory() kube.Inventory { return appInventory(t.side, t.app, t.instanceID) }

// inventoryOf is the inventory app's target has, known without
// building the app.
func inventoryOf(inst *instance.Instance, app string) (kube.Inventory, error) {
	id, err := inst.ID()
	if err != nil {
		return kube.Inventory{}, err
	}
	act, err := side.Read(inst, app)
	if err != nil {
		return kube.Inventory{}, err
	}
	return appInventory(act, app, id), nil
}

// appInventory is the inventory of app's active copy.
func appInventory(act side.Active, app, instanceID string) kube.Inventory {
	return kube.Inventory{App: act.Inventory(app), InstanceID: instanceID}
}

func (t *target) owner(inst *instance.Instance) kube.Owner {
	return kube.Owner{Instance: inst.Name, InstanceID: t.instanceID, App: t.side.Inventory(t.app)}
}

func (t *target) secretName() string { return t.app + "-secrets" }

// secretData turns apps.<app> of secrets.yaml into Secret data, keyed by
// the path relative to the app (apiKey, dbUrl, db.password).
func secretData(inst *instance.Instance, app string) (map[string][]byte, error) {
	d, err := inst.ReadSecrets()
	if err != nil {
		return nil, err
	}
	return instance.AppSecretData(d, app), nil
}

// secretData is the app's Secret on its active side: on a restored copy
// the keys the manifest declares as embedding a database name name the
// copy's database.
func (t *target) secretData(inst *instance.Instance) (map[string][]byte, error) {
	data, err := secretData(inst, t.app)
	if err != nil || t.renames == nil {
		return data, err
	}
	t.renames.SecretData(data, t.manifest.Restore)
	return data, nil
}

// compiledText is every compiled resource file of the app, concatenated.
func compiledText(inst *instance.Instance, app string) string {
	var b strings.Builder
	entries, _ := os.ReadDir(inst.AppDir(app))
	for _, e := range entries {
		if e.IsDir() || e.Name() == catalog.ManifestFile || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		if c, err := os.ReadFile(filepath.Join(inst.AppDir(app), e.Name())); err == nil {
			b.Write(c)
		}
	}
	return b.String()
}

func sortedDeps(m map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, ref := range sortedKeys(m) {
		if !seen[m[ref]] {
			out = append(out, m[ref])
			seen[m[ref]] = true
		}
	}
	sort.Strings(out)
	return out
}
