package instance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/fsutil"
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
	quarantineDir  = ".tx-quarantine"
)

// Instance is one cluster's data directory.
type Instance struct {
	Name string
	Dir  string
	// AfterCommit, when set, runs after every committed Update with its
	// message (git mode makes one commit per operation there).
	AfterCommit CommitHook
}

// CommitHook runs after a committed Update.
type CommitHook func(i *Instance, message string) error

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
	if err := checkSections(d); err != nil {
		return nil, fmt.Errorf("%w; fix the file by hand", err)
	}
	return d, nil
}

// sections are the top-level keys wild reads as mappings; a hand edit
// that makes one a value (apps: "x") is reported here, naming the file,
// rather than later by a template as a missing key.
var sections = []string{"apps", "cloud", "cluster", "operator"}

func checkSections(d *yamldoc.Doc) error {
	for _, k := range sections {
		n, ok := d.Get([]string{k})
		if !ok || n.Kind == yaml.MappingNode || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null") {
			continue
		}
		return fmt.Errorf("%s:%d: %s must be a mapping of keys to values, not a single value or a list", d.File(), n.Line, k)
	}
	return nil
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

// Edit is one locked, atomic change to the instance: config, secrets and
// any files or app directories staged through it land together or not at
// all.
type Edit struct {
	Config  *yamldoc.Doc
	Secrets *yamldoc.Doc
	// Message describes the change, e.g. "config(ghost): set apps.ghost.port";
	// it becomes the commit message when the instance is a git repository.
	Message   string
	tx        *Tx
	alongside []alongsideFile
}

type alongsideFile struct {
	rel  string
	perm os.FileMode
	data func() ([]byte, error)
}

// Alongside stages a file that lands only with the edit's other changes:
// in the same commit when the edit changes anything, not at all when it
// changes nothing. data is called only then, once fn has returned. An
// operation's final record rides on it, so the commit's own fsyncs make
// the record durable, and a crash after the commit point leaves the
// record of the change that roll-forward completes.
func (e *Edit) Alongside(rel string, perm os.FileMode, data func() ([]byte, error)) {
	e.alongside = append(e.alongside, alongsideFile{rel, perm, data})
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
	if err := i.recoverPendingCommit(); err != nil {
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
	if err := e.stageAlongside(); err != nil {
		return err
	}
	// In a git repository the commit message lands with the change, so a
	// crash between the two leaves a note that the next operation
	// finishes first, under this message, not its own.
	if e.Message != "" && len(tx.ops) > 0 && i.isRepo() {
		if err := tx.WriteFile(PendingCommitFile, []byte(e.Message), 0o644); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return i.finishCommit(e.Message)
}

func (e *Edit) stageAlongside() error {
	if len(e.tx.ops) == 0 {
		return nil
	}
	for _, a := range e.alongside {
		b, err := a.data()
		if err != nil {
			return err
		}
		if err := e.tx.WriteFile(a.rel, b, a.perm); err != nil {
			return err
		}
	}
	return nil
}

// PendingCommitFile holds the message of an operation whose files landed
// but whose git commit has not been made yet.
const PendingCommitFile = ".commit-pending"

func (i *Instance) isRepo() bool {
	st, err := os.Stat(i.Path(".git"))
	return err == nil && st.IsDir()
}

func (i *Instance) finishCommit(msg string) error {
	if err := i.afterCommit(msg); err != nil {
		return err
	}
	if err := os.Remove(i.Path(PendingCommitFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// recoverPendingCommit makes the commit an interrupted operation did not
// get to, before anything else changes the instance.
func (i *Instance) recoverPendingCommit() error {
	b, err := os.ReadFile(i.Path(PendingCommitFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := i.finishCommit(strings.TrimSpace(string(b))); err != nil {
		return fmt.Errorf("finish the git commit of an interrupted operation (%q): %w", strings.TrimSpace(string(b)), err)
	}
	return nil
}

func (i *Instance) afterCommit(msg string) error {
	if i.AfterCommit == nil {
		return nil
	}
	return i.AfterCommit(i, msg)
}

func stageIfChanged(tx *Tx, name string, d *yamldoc.Doc, orig []byte, perm os.FileMode) error {
	b, err := d.Encode()
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	if bytes.Equal(b, orig) {
		return nil
	}
	if err := checkReadsBack(d, b); err != nil {
		return fmt.Errorf("refusing to write %s: %w; nothing was changed", name, err)
	}
	return tx.WriteFile(name, b, perm)
}

// checkReadsBack is the last guard before a write: the bytes must parse
// and mean what the in-memory document means. wild never writes a file it
// cannot read back.
func checkReadsBack(d *yamldoc.Doc, b []byte) error {
	if err := checkSections(d); err != nil {
		return err
	}
	want, err := d.Map()
	if err != nil {
		return err
	}
	back, err := yamldoc.Parse(d.File(), b)
	if err != nil {
		return fmt.Errorf("the result would not parse (%v)", err)
	}
	got, err := back.Map()
	if err != nil {
		return fmt.Errorf("the result would not read back (%v)", err)
	}
	// Sprint as well: NaN (a hand-written .nan) is never DeepEqual to itself.
	if !reflect.DeepEqual(got, want) && fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("the result would not read back as written")
	}
	return nil
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
