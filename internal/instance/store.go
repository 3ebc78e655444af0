// Package instance owns one cluster's data directory: config.yaml,
// secrets.yaml, kubeconfig, compiled apps and operation records. Every
// write is locked against other processes and atomic against crashes.
package instance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// Store is the set of instances under a data directory.
type Store struct {
	DataDir string
	// AfterCommit is given to every instance the store opens or creates.
	AfterCommit CommitHook
}

// NewStore returns the store rooted at dataDir.
func NewStore(dataDir string) *Store { return &Store{DataDir: dataDir} }

func (s *Store) root() string        { return filepath.Join(s.DataDir, "instances") }
func (s *Store) currentFile() string { return filepath.Join(s.DataDir, "current-instance") }

// ErrNotFound is returned for an instance that does not exist.
var ErrNotFound = errors.New("instance not found")

// ErrNoInstance is returned by Resolve when there is no instance at all
// and none was named.
var ErrNoInstance = errors.New("no instance yet")

// CreateOptions are the inputs of Create.
type CreateOptions struct {
	Name       string
	Domain     string
	Email      string
	Kubeconfig string // path to copy in; empty for none
}

// Create lays out a new instance. It refuses to touch an existing one.
func (s *Store) Create(o CreateOptions) (*Instance, error) {
	if err := names.Validate("instance", o.Name); err != nil {
		return nil, err
	}
	if err := validateDomain(o.Domain); err != nil {
		return nil, err
	}
	if err := validateEmail(o.Email); err != nil {
		return nil, err
	}
	var kubeconfig []byte
	if o.Kubeconfig != "" {
		b, err := os.ReadFile(o.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig: %w", err)
		}
		kubeconfig = b
	}
	if err := os.MkdirAll(s.root(), 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.root(), o.Name)
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("instance %q already exists at %s", o.Name, dir)
	}
	// Build the whole layout in a temp dir and rename it into place, so a
	// crash never leaves a half-made instance behind.
	tmp, err := os.MkdirTemp(s.root(), "."+o.Name+".creating-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := writeSkeleton(tmp, o, kubeconfig); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("create instance %q: %w", o.Name, err)
	}
	if err := fsutil.SyncDir(s.root()); err != nil {
		return nil, err
	}
	return &Instance{Name: o.Name, Dir: dir, AfterCommit: s.AfterCommit}, nil
}

func writeSkeleton(dir string, o CreateOptions, kubeconfig []byte) error {
	if err := os.MkdirAll(filepath.Join(dir, AppsDir), 0o755); err != nil {
		return err
	}
	// Operation records may name what failed; only the owner reads them.
	if err := os.MkdirAll(filepath.Join(dir, OperationsDir), 0o700); err != nil {
		return err
	}
	cfg := []byte(initialConfig(o))
	if err := checkInitialConfig(cfg, o); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, SecretsFile), []byte("apps: {}\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, idFile), []byte(newID()+"\n"), 0o644); err != nil {
		return err
	}
	if kubeconfig != nil {
		if err := os.WriteFile(filepath.Join(dir, KubeconfigFile), kubeconfig, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func initialConfig(o CreateOptions) string {
	email := o.Email
	if email == "" {
		email = "admin@" + o.Domain
	}
	return fmt.Sprintf(`# Wild Cloud instance %q. Edit by hand or with: wild config set PATH VALUE
cloud:
  domain: %s
  internalDomain: internal.%s
  smtp:
    host: ""
    port: "587"
    user: ""
    from: %s
    tls: true
cluster:
  name: %s
operator:
  email: %s
# Apps are added here by: wild app add NAME
apps: {}
`, o.Name, o.Domain, o.Domain, quoteYAML("noreply@"+o.Domain), o.Name, quoteYAML(email))
}

// quoteYAML writes s as a double-quoted scalar. JSON's string escapes are
// a subset of YAML's, so every string reads back exactly.
func quoteYAML(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkInitialConfig proves the generated config reads back with the
// values given, before anything is written.
func checkInitialConfig(b []byte, o CreateOptions) error {
	d, err := yamldoc.Parse(ConfigFile, b)
	if err != nil {
		return fmt.Errorf("internal error: generated config does not parse: %w", err)
	}
	if v, _, _ := d.Value([]string{"cloud", "domain"}); v != o.Domain {
		return fmt.Errorf("internal error: domain %q does not read back", o.Domain)
	}
	if v, _, _ := d.Value([]string{"operator", "email"}); o.Email != "" && v != o.Email {
		return fmt.Errorf("internal error: email %q does not read back", o.Email)
	}
	return nil
}

// validateEmail accepts a bare address (me@example.com): no display name,
// quotes, spaces, backslashes or control characters.
func validateEmail(e string) error {
	if e == "" {
		return nil
	}
	a, err := mail.ParseAddress(e)
	bad := err != nil || a.Name != "" || a.Address != e || strings.ContainsAny(e, " \t\r\n\"'\\<>()[],;:") ||
		strings.IndexFunc(e, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
	if bad {
		return fmt.Errorf("invalid email %q: give a plain address such as me@example.com", e)
	}
	return nil
}

func validateDomain(d string) error {
	if d == "" {
		return fmt.Errorf("a domain is required: wild instance create NAME --domain example.com")
	}
	for _, part := range strings.Split(d, ".") {
		if names.Validate("domain", part) != nil {
			return fmt.Errorf("invalid domain %q: use lower-case DNS labels separated by dots, e.g. cloud.example.com", d)
		}
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// List returns instance names, sorted.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.root())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && names.Validate("instance", e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Open returns an existing instance, first finishing any transaction a
// crashed process left behind.
func (s *Store) Open(name string) (*Instance, error) {
	if err := names.Validate("instance", name); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.root(), name)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %q; create it with: wild instance create %s --domain example.com", ErrNotFound, name, name)
	}
	inst := &Instance{Name: name, Dir: dir, AfterCommit: s.AfterCommit}
	if err := inst.recover(); err != nil {
		return nil, err
	}
	return inst, nil
}

// Use records name as the default instance.
func (s *Store) Use(name string) error {
	if _, err := s.Open(name); err != nil {
		return err
	}
	if err := os.MkdirAll(s.DataDir, 0o755); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.currentFile(), []byte(name+"\n"), 0o644)
}

// Current returns the instance chosen with Use, or "".
func (s *Store) Current() string {
	b, err := os.ReadFile(s.currentFile())
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Resolve picks the instance to act on: the explicit name (flag or env),
// else the one chosen with Use, else the only one there is.
func (s *Store) Resolve(explicit string) (*Instance, error) {
	if explicit != "" {
		return s.Open(explicit)
	}
	if cur := s.Current(); cur != "" {
		if inst, err := s.Open(cur); err == nil {
			return inst, nil
		}
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	switch len(all) {
	case 0:
		return nil, fmt.Errorf("%w; create one with: wild instance create NAME --domain example.com (or run: wild up)", ErrNoInstance)
	case 1:
		return s.Open(all[0])
	}
	return nil, fmt.Errorf("%d instances (%s) and none chosen; pick one with: wild instance use NAME, or pass --instance NAME", len(all), strings.Join(all, ", "))
}

// Delete removes an instance's local data. It does not touch its cluster.
func (s *Store) Delete(name string) error {
	inst, err := s.Open(name)
	if err != nil {
		return err
	}
	unlock, err := inst.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	// Rename first so a crash mid-delete never leaves a half instance that
	// still looks valid.
	trash := filepath.Join(s.root(), "."+name+".deleting-"+newID()[:8])
	if err := os.Rename(inst.Dir, trash); err != nil {
		return err
	}
	if s.Current() == name {
		_ = os.Remove(s.currentFile())
	}
	return os.RemoveAll(trash)
}
