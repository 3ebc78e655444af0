package backup

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
)

// Strategy backs up and restores one kind of an app's data. An app's
// backup is the strategies its manifest selects (SelectStrategies), each
// writing its own streams into one snapshot, so a snapshot restores as a
// whole or not at all.
//
// A later kind fits by implementing the same four methods. A CSI
// VolumeSnapshot strategy would create a VolumeSnapshot of each declared
// PVC in Backup and return no streams, only Params naming the snapshot
// objects (the plan records them); Restore would create `{pvc}-{color}`
// with dataSource pointing at the snapshot; Remove deletes the colored
// claim. Longhorn works the same way through its Backup CRDs, with the
// backup URL in Params. Strategies whose data stays outside the repository
// must say so in Params, because retention then has to delete it there.
type Strategy interface {
	// Name is the plan's name for it: config, postgres, mysql, volume.
	Name() string
	// Backup returns the streams to store and what the plan records about
	// the source (e.g. dbName). Streams are produced lazily, while the
	// repository reads them.
	Backup(ctx context.Context, a *App) ([]Stream, map[string]string, error)
	// Restore writes the backed-up data to the standby color; it never
	// touches the live side, and running it again converges.
	Restore(ctx context.Context, a *App, in Reader, e *StrategyEntry) error
	// Remove deletes the retired side's data that e recorded at backup
	// (the side a cleanup retires), never the standby's; it returns what
	// it removed, "" for nothing.
	Remove(ctx context.Context, a *App, e *StrategyEntry) (string, error)
}

// Reader opens one file of the snapshot being restored.
type Reader func(ctx context.Context, name string) (io.ReadCloser, error)

// App is one added app as the strategies see it.
type App struct {
	Instance *instance.Instance
	Kube     *kube.Client
	Name     string
	Manifest *catalog.Manifest
	// Config is apps.NAME of config.yaml.
	Config map[string]any
	// Namespace is the live side's namespace.
	Namespace string
	// Color is the standby color a restore writes to.
	Color string
	// Warn reports a problem that does not stop the run.
	Warn func(format string, args ...any)
	// Progress reports bytes moved by a stream.
	Progress func(file string, bytes int64)
	active   Active
}

func (a *App) warn(format string, args ...any) {
	if a.Warn != nil {
		a.Warn(format, args...)
	}
}

// configString reads a dotted key of the app's config as a string.
func (a *App) configString(dotted string) (string, bool) {
	var cur any = a.Config
	for _, part := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		cur, ok = m[part]
		if !ok {
			return "", false
		}
	}
	if cur == nil {
		return "", false
	}
	return fmt.Sprint(cur), true
}

// dependency returns the added app behind the requirement whose catalog
// name is one of kinds (e.g. postgres), or "" when the app needs none.
func (a *App) dependency(kinds ...string) string {
	for _, r := range a.Manifest.Requires {
		for _, k := range kinds {
			if r.Name != k {
				continue
			}
			ref := r.Alias
			if ref == "" {
				ref = r.Name
			}
			if dep := a.Manifest.InstalledAs[ref]; dep != "" {
				return dep
			}
			return r.Name
		}
	}
	return ""
}

// SelectStrategies chooses the strategies for an app from its manifest:
// config always; postgres or mysql when it requires one, for each
// database its `restore:` declares; volume for each declared PVC. An app
// that needs a database and declares none gets the config key dbName,
// with a warning, because guessing is what `restore:` exists to avoid.
func SelectStrategies(a *App) []Strategy {
	out := []Strategy{configStrategy{}}
	dbs := declaredDatabases(a)
	if dep := a.dependency("postgres"); dep != "" {
		for _, key := range dbs {
			out = append(out, &dbStrategy{dialect: postgres, server: dep, configKey: key})
		}
	}
	if dep := a.dependency("mysql", "mariadb"); dep != "" {
		for _, key := range dbs {
			out = append(out, &dbStrategy{dialect: mysql, server: dep, configKey: key})
		}
	}
	if a.Manifest.Restore != nil && len(a.Manifest.Restore.Volumes) > 0 {
		out = append(out, &volumeStrategy{pvcs: a.Manifest.Restore.Volumes})
	}
	return out
}

func declaredDatabases(a *App) []string {
	if r := a.Manifest.Restore; r != nil && len(r.Databases) > 0 {
		keys := make([]string, len(r.Databases))
		for i, db := range r.Databases {
			keys[i] = db.ConfigKey
		}
		return keys
	}
	if a.dependency("postgres", "mysql", "mariadb") == "" {
		return nil
	}
	if _, ok := a.configString("dbName"); ok {
		a.warn("%s declares no restore.databases in its manifest; backing up the database named by config key dbName (a guess: add restore: to the manifest)", a.Name)
		return []string{"dbName"}
	}
	a.warn("%s needs a database but declares no restore.databases and has no dbName config key; its database is NOT backed up", a.Name)
	return nil
}
