package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// configStrategy keeps the app's sections of config.yaml and secrets.yaml
// and its compiled files (apps/NAME). On restore it writes the standby's
// compiled files, renamed to the standby color (standby.go), into the
// plan's directory; the live apps/NAME is never written.
type configStrategy struct{}

const (
	configFile  = "config/config.yaml"
	secretsFile = "config/secrets.yaml"
	appFilesDir = "config/app/"
)

func (configStrategy) Name() string { return "config" }

func (configStrategy) Backup(ctx context.Context, a *App) ([]Stream, map[string]string, error) {
	cfg, err := section(a.Instance.ReadConfig, a.Name)
	if err != nil {
		return nil, nil, err
	}
	sec, err := section(a.Instance.ReadSecrets, a.Name)
	if err != nil {
		return nil, nil, err
	}
	streams := []Stream{bytesStream(configFile, cfg), bytesStream(secretsFile, sec)}
	files, err := appFiles(a.Instance.AppDir(a.Name))
	if err != nil {
		return nil, nil, err
	}
	for _, f := range files {
		streams = append(streams, fileStream(appFilesDir+f, filepath.Join(a.Instance.AppDir(a.Name), f)))
	}
	return streams, map[string]string{"appDir": path.Join(instance.AppsDir, a.Name), "files": fmt.Sprint(len(files))}, nil
}

// Restore reads the backed-up compiled files; the standby directory is
// written by the Restore operation with everything the other strategies
// renamed, in one atomic instance update.
func (configStrategy) Restore(ctx context.Context, a *App, in Reader, e *StrategyEntry) error {
	return nil
}

// Remove has nothing to do: the retired side's files are in the instance
// history (apps/NAME, or the plan that made it).
func (configStrategy) Remove(ctx context.Context, a *App, e *StrategyEntry) (string, error) {
	return "", nil
}

// section encodes apps.NAME of a file as YAML.
func section(read func() (*yamldoc.Doc, error), app string) ([]byte, error) {
	d, err := read()
	if err != nil {
		return nil, err
	}
	n, ok := d.Get([]string{"apps", app})
	if !ok {
		return []byte("{}\n"), nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// appFiles lists the compiled files of an app directory, relative and
// sorted, so a snapshot's file list is stable.
func appFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the compiled files of %s: %w", dir, err)
	}
	sort.Strings(out)
	return out, nil
}

func bytesStream(name string, b []byte) Stream {
	return Stream{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

func fileStream(name, p string) Stream {
	return Stream{Name: name, Open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }}
}

// readAll reads one file of the snapshot, bounded: config files are small.
func readAll(ctx context.Context, in Reader, name string) ([]byte, error) {
	r, err := in(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s from the backup: %w", name, err)
	}
	return b, r.Close()
}
