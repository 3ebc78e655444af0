package instance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// File names inside an instance directory.
const (
	ConfigFile     = "config.yaml"
	SecretsFile    = "secrets.yaml"
	KubeconfigFile = "kubeconfig"
	AppsDir        = "apps"
	OperationsDir  = "operations"
	idFile         = "instance-id"
	txDir          = ".tx"
)

// Instance is one cluster's data directory.
type Instance struct {
	Name string
	Dir  string
}

// Path joins rel onto the instance directory.
func (i *Instance) Path(rel ...string) string {
	return filepath.Join(append([]string{i.Dir}, rel...)...)
}

// AppDir is where an app's compiled manifests live.
func (i *Instance) AppDir(app string) string { return i.Path(AppsDir, app) }

// Kubeconfig returns the instance's kubeconfig path, or an error that says
// how to provide one.
func (i *Instance) Kubeconfig() (string, error) {
	p := i.Path(KubeconfigFile)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("instance %q has no kubeconfig at %s; copy your cluster's kubeconfig there, or create the instance with --kubeconfig PATH (for a local cluster: wild up)", i.Name, p)
	}
	return p, nil
}

// ID is the instance's stable identity, stamped on the namespaces it owns
// so two instances sharing a cluster never take each other's apps.
func (i *Instance) ID() (string, error) {
	b, err := os.ReadFile(i.Path(idFile))
	if errors.Is(err, os.ErrNotExist) {
		id := newID()
		return id, fsutil.WriteFileAtomic(i.Path(idFile), []byte(id+"\n"), 0o644)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadConfig parses config.yaml.
func (i *Instance) ReadConfig() (*yamldoc.Doc, error) { return i.readDoc(ConfigFile) }

// ReadSecrets parses secrets.yaml.
func (i *Instance) ReadSecrets() (*yamldoc.Doc, error) { return i.readDoc(SecretsFile) }

func (i *Instance) readDoc(name string) (*yamldoc.Doc, error) {
	b, err := os.ReadFile(i.Path(name))
	if errors.Is(err, os.ErrNotExist) {
		return yamldoc.New(i.Path(name)), nil
	}
	if err != nil {
		return nil, err
	}
	d, err := yamldoc.Parse(i.Path(name), b)
	if err != nil {
		return nil, fmt.Errorf("%w (fix the file by hand; wild will not overwrite it until it parses)", err)
	}
	return d, nil
}

// lockAll takes the config lock and then the secrets lock. The fixed order
// rules out deadlock between processes.
func (i *Instance) lockAll() (func(), error) {
	u1, err := fsutil.Lock(i.Path(ConfigFile + ".lock"))
	if err != nil {
		return nil, err
	}
	u2, err := fsutil.Lock(i.Path(SecretsFile + ".lock"))
	if err != nil {
		u1()
		return nil, err
	}
	return func() { u2(); u1() }, nil
}

// LockApp serialises long operations (deploy, delete, update) on one app
// across processes without blocking work on other apps.
func (i *Instance) LockApp(app string) (func(), error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	dir := i.Path(txDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return fsutil.Lock(filepath.Join(dir, "app-"+app+".lock"))
}

// Edit is one locked, atomic change to the instance: config, secrets and
// any files or app directories staged through it land together or not at
// all.
type Edit struct {
	Config  *yamldoc.Doc
	Secrets *yamldoc.Doc
	// Message describes the change, e.g. "config(ghost): set apps.ghost.port";
	// it becomes the commit message when the instance is a git repository.
	Message string
	tx      *Tx
}

// WriteFile stages a file (path relative to the instance).
func (e *Edit) WriteFile(rel string, data []byte, perm os.FileMode) error {
	return e.tx.WriteFile(rel, data, perm)
}

// ReplaceDir stages a whole directory: build fills a fresh directory that
// replaces rel on commit.
func (e *Edit) ReplaceDir(rel string, build func(dir string) error) error {
	return e.tx.ReplaceDir(rel, build)
}

// RemoveAll stages removal of rel.
func (e *Edit) RemoveAll(rel string) { e.tx.RemoveAll(rel) }

// Update runs fn under the instance locks with freshly parsed config and
// secrets and commits everything fn changed in one transaction. If fn fails
// or a file does not parse, nothing is written.
func (i *Instance) Update(fn func(e *Edit) error) error {
	unlock, err := i.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	if err := i.rollForward(); err != nil {
		return err
	}
	cfg, err := i.ReadConfig()
	if err != nil {
		return err
	}
	sec, err := i.ReadSecrets()
	if err != nil {
		return err
	}
	origCfg, _ := cfg.Encode()
	origSec, _ := sec.Encode()
	tx, err := i.begin()
	if err != nil {
		return err
	}
	defer tx.cleanup()
	e := &Edit{Config: cfg, Secrets: sec, tx: tx}
	if err := fn(e); err != nil {
		return err
	}
	if err := stageIfChanged(tx, ConfigFile, cfg, origCfg, 0o644); err != nil {
		return err
	}
	if err := stageIfChanged(tx, SecretsFile, sec, origSec, 0o600); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return i.afterCommit(e.Message)
}

// AfterCommit hooks run after every committed Update (git mode uses one
// to make one commit per operation).
var AfterCommit []func(i *Instance, message string) error

func (i *Instance) afterCommit(msg string) error {
	for _, h := range AfterCommit {
		if err := h(i, msg); err != nil {
			return err
		}
	}
	return nil
}

func stageIfChanged(tx *Tx, name string, d *yamldoc.Doc, orig []byte, perm os.FileMode) error {
	b, err := d.Encode()
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if bytes.Equal(b, orig) {
		return nil
	}
	return tx.WriteFile(name, b, perm)
}

// recover finishes a transaction a crashed process left behind.
func (i *Instance) recover() error {
	entries, err := os.ReadDir(i.Path(txDir))
	if err != nil || !hasTxLeftovers(entries) {
		return nil
	}
	unlock, err := i.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	return i.rollForward()
}

func hasTxLeftovers(entries []os.DirEntry) bool {
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			return true
		}
	}
	return false
}

// SetKubeconfig copies the kubeconfig at src into the instance (mode 0600,
// atomically), e.g. when the local cluster was restarted on new ports.
func (i *Instance) SetKubeconfig(src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	return fsutil.WriteFileAtomic(i.Path(KubeconfigFile), b, 0o600)
}
