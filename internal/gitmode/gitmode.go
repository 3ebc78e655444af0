// Package gitmode makes an instance directory a git repository (through
// go-git, never the git binary) and records one commit per mutating
// operation, so advanced users get history, review and rollback with the
// tools they already know.
package gitmode

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lazyre"
)

// Ignored lists what never enters history. secrets.yaml and kubeconfig
// hold credentials; .snapshots/ holds copies of secrets; .tx/ and locks are
// transaction plumbing; operations/ records are written after the commit
// of the operation they describe (so they would always trail one commit
// behind) and are this machine's run log, which git history replaces.
var Ignored = []string{
	"# Managed by wild: credentials and runtime state never enter history.",
	"secrets.yaml",
	"kubeconfig",
	"*.lock",
	".tx/",
	".snapshots/",
	"operations/",
	".tx-quarantine/",
	".commit-pending",
	".*.tmp-*",
	"*.tmp",
	"*.swp",
	"*.log",
	".DS_Store",
}

// InitialMessage is the first commit's message.
const InitialMessage = "chore: initial Wild Cloud instance configuration"

// config section and key in .git/config. The switch lives there, not in
// config.yaml, because it is about this checkout, not the cloud's desired
// state, and flipping it must not itself become a commit.
const (
	cfgSection = "wild"
	cfgAuto    = "autocommit"
)

// NewStore returns the instance store under dataDir whose instances
// commit every change when they are git repositories.
func NewStore(dataDir string) *instance.Store {
	s := instance.NewStore(dataDir)
	s.AfterCommit = AfterCommit
	return s
}

// IsRepo reports whether the instance directory is a git repository.
func IsRepo(inst *instance.Instance) bool {
	st, err := os.Stat(inst.Path(git.GitDirName))
	return err == nil && st.IsDir()
}

func open(inst *instance.Instance) (*git.Repository, error) {
	r, err := git.PlainOpen(inst.Dir)
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", inst.Dir, err)
	}
	return r, nil
}

// Enabled reports whether operations commit automatically: the instance
// is a repository and auto-commit was not switched off.
func Enabled(inst *instance.Instance) (bool, error) {
	if !IsRepo(inst) {
		return false, nil
	}
	r, err := open(inst)
	if err != nil {
		return false, err
	}
	cfg, err := r.Config()
	if err != nil {
		return false, err
	}
	return cfg.Raw.Section(cfgSection).Option(cfgAuto) != "false", nil
}

// SetEnabled switches auto-commit on or off.
func SetEnabled(inst *instance.Instance, on bool) error {
	if !IsRepo(inst) {
		return fmt.Errorf("instance %s is not a git repository; make it one with: wild instance git init", inst.Name)
	}
	r, err := open(inst)
	if err != nil {
		return err
	}
	cfg, err := r.Config()
	if err != nil {
		return err
	}
	cfg.Raw.Section(cfgSection).SetOption(cfgAuto, fmt.Sprint(on))
	return r.SetConfig(cfg)
}

// InitResult says what Init did.
type InitResult struct {
	Dir     string `json:"dir"`
	Created bool   `json:"created"`
	Commit  string `json:"commit,omitempty"`
}

// Init makes the instance a repository (or adopts an existing one),
// writes the .gitignore, switches auto-commit on and commits the current
// state. Running it again only adds what is missing.
func Init(inst *instance.Instance) (*InitResult, error) {
	res := &InitResult{Dir: inst.Dir}
	if !IsRepo(inst) {
		if _, err := git.PlainInitWithOptions(inst.Dir, &git.PlainInitOptions{
			InitOptions: git.InitOptions{DefaultBranch: plumbing.Main},
		}); err != nil {
			return nil, fmt.Errorf("git init %s: %w", inst.Dir, err)
		}
		res.Created = true
	}
	if err := writeIgnore(inst); err != nil {
		return nil, err
	}
	if err := SetEnabled(inst, true); err != nil {
		return nil, err
	}
	msg := InitialMessage
	if !res.Created {
		msg = "chore: enable wild git mode"
	}
	// An empty Update takes the instance locks and runs the commit hook,
	// so this commit is serialised with every other writer.
	if err := inst.Update(func(e *instance.Edit) error { e.Message = msg; return nil }); err != nil {
		return nil, err
	}
	if h, err := Head(inst); err == nil {
		res.Commit = h
	}
	return res, nil
}

// writeIgnore adds every entry of Ignored that .gitignore lacks, keeping
// the user's own lines.
func writeIgnore(inst *instance.Instance) error {
	p := inst.Path(".gitignore")
	cur, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(cur), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var b strings.Builder
	b.Write(cur)
	if len(cur) > 0 && !strings.HasSuffix(string(cur), "\n") {
		b.WriteString("\n")
	}
	for _, l := range Ignored {
		if !have[l] {
			b.WriteString(l + "\n")
		}
	}
	if b.String() == string(cur) {
		return nil
	}
	return fsutil.WriteFileAtomic(p, []byte(b.String()), 0o644)
}

// Head returns the full hash of HEAD.
func Head(inst *instance.Instance) (string, error) {
	r, err := open(inst)
	if err != nil {
		return "", err
	}
	ref, err := r.Head()
	if err != nil {
		return "", err
	}
	return ref.Hash().String(), nil
}

var scopeRe = lazyre.New(`^[a-z]+\(([a-z0-9][a-z0-9-]*)\):`)

// Scope returns the scope of a conventional message ("ghost" for
// "config(ghost): set ..."), or "".
func Scope(message string) string {
	if m := scopeRe().FindStringSubmatch(message); m != nil {
		return m[1]
	}
	return ""
}

// AfterCommit is the instance hook: one commit per operation. An empty
// message means the operation asked for no commit (an update that left
// conflict markers: those must never be committed).
func AfterCommit(inst *instance.Instance, message string) error {
	if message == "" {
		return nil
	}
	on, err := Enabled(inst)
	if err != nil || !on {
		return err
	}
	if _, err := Commit(inst, message); err != nil {
		return fmt.Errorf("the change is saved, but recording it in git failed (commit it with: git -C %s commit -a): %w", inst.Dir, err)
	}
	return nil
}

// Commit stages what an operation with this message may have changed and
// commits it; it returns "" when there was nothing to commit.
//
// An operation scoped to an app touches config.yaml and apps/<app>/ only,
// so uncommitted hand edits in other apps' directories are left alone for
// their owner to commit; an unscoped one stages everything.
func Commit(inst *instance.Instance, message string) (string, error) {
	r, err := open(inst)
	if err != nil {
		return "", err
	}
	w, err := r.Worktree()
	if err != nil {
		return "", err
	}
	st, err := w.Status()
	if err != nil {
		return "", err
	}
	scope := Scope(message)
	staged := 0
	for p, s := range st {
		if s.Worktree == git.Unmodified && s.Staging == git.Unmodified {
			continue
		}
		if neverStaged(p) {
			if s.Staging != git.Unmodified && s.Staging != git.Untracked {
				return "", fmt.Errorf("%s is staged in git, and wild never commits it (credentials or runtime state); unstage it with: git -C %s rm --cached %s", p, inst.Dir, p)
			}
			continue
		}
		if !inScope(p, scope) {
			continue
		}
		if s.Worktree != git.Unmodified {
			// SkipStatus: we already know the file changed, and a status
			// per file would rescan the whole tree each time.
			opts := &git.AddOptions{Path: p, SkipStatus: s.Worktree != git.Deleted}
			if err := w.AddWithOptions(opts); err != nil {
				return "", fmt.Errorf("git add %s: %w", p, err)
			}
		}
		staged++
	}
	if staged == 0 {
		return "", nil
	}
	h, err := w.Commit(message, &git.CommitOptions{Author: author(r)})
	if err != nil {
		return "", fmt.Errorf("git commit: %w", err)
	}
	return h.String(), nil
}

// neverStaged is what stays out of history whatever .gitignore says (a
// user may edit or drop its lines): credentials, copies of them, records
// and transaction state.
func neverStaged(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	switch {
	case p == instance.SecretsFile, p == instance.KubeconfigFile, p == instance.PendingCommitFile,
		strings.HasSuffix(p, ".lock"):
		return true
	}
	switch first {
	case ".snapshots", instance.OperationsDir, ".tx", ".tx-quarantine":
		return true
	}
	return false
}

// inScope: paths outside apps/ always; inside apps/ only the scoped app's
// directory, or everything when the message has no scope.
func inScope(p, scope string) bool {
	if !strings.HasPrefix(p, "apps/") || scope == "" {
		return true
	}
	return strings.HasPrefix(p, path.Join("apps", scope)+"/")
}

// author uses the user's git identity when one is configured, else a
// neutral one, so commits work on a fresh machine.
func author(r *git.Repository) *object.Signature {
	sig := &object.Signature{Name: "Wild Cloud", Email: "wild@localhost", When: time.Now()}
	for _, load := range []func() (*gitconfig.Config, error){
		r.Config,
		func() (*gitconfig.Config, error) { return gitconfig.LoadConfig(gitconfig.GlobalScope) },
	} {
		cfg, err := load()
		if err == nil && cfg.User.Name != "" && cfg.User.Email != "" {
			sig.Name, sig.Email = cfg.User.Name, cfg.User.Email
			return sig
		}
	}
	return sig
}
