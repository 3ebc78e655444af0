package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/wild-cloud/wild/internal/crashpoint"
	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// ClusterHooks connect update and rollback to the cluster. Deploy support
// fills them in; a nil field means that part is skipped.
type ClusterHooks struct {
	// Preview describes what applying the compiled app in dir (laid out
	// like apps/<app>/) would change in the cluster, by server-side dry
	// run. It returns "" when the app is not deployed.
	Preview func(ctx context.Context, app, dir string) ([]kube.ObjectDiff, error)
	// Deployed reports whether the app is deployed.
	Deployed func(ctx context.Context, app string) (bool, error)
	// Deploy deploys the app as compiled in the instance; callers hold the
	// app lock while calling it.
	Deploy func(ctx context.Context, app string) error
}

// Update brings an added app to the catalog's current package (the "changed" state
// of doc.go, upstream and hand edits): snapshot, three-way config merge, new secrets only, recompile,
// review, then one atomic write. In git mode the compiled files are
// merged three-way too, so committed hand edits survive.
type Update struct {
	Env
	App    string
	DryRun bool
	// Deploy deploys after a clean update.
	Deploy bool
	// AcceptRemoved drops config keys the new package removed.
	AcceptRemoved bool
	// Renames carries values across renamed keys: old -> new, relative
	// to apps.<App>.
	Renames map[string]string
	// AcceptBreaking accepts a major version bump and changed requires.
	AcceptBreaking bool
	// Deps maps new requirements, like add --dep.
	Deps map[string]string
	// Fresh deletes the app's config and secrets and adds it again.
	Fresh bool
	// Continue finishes a git-mode update that stopped on conflicts.
	Continue bool
	// Confirm is asked with the review before anything is written; nil
	// means go ahead.
	Confirm func(r *UpdateReview) (bool, error)
	Cluster ClusterHooks
	// BackupFirst backs the app up after the review is accepted and
	// before anything is written (the app lock is held); it returns the
	// backup's id, "" when the app has no data. Nil skips it (--no-backup).
	BackupFirst func(ctx context.Context, app string) (string, error)
}

// UpdateReview is what the user is shown, and what the update did.
// Secret values never appear in it.
type UpdateReview struct {
	App           string            `json:"app"`
	FromVersion   string            `json:"fromVersion"`
	ToVersion     string            `json:"toVersion"`
	UpToDate      bool              `json:"upToDate"`
	Fresh         bool              `json:"fresh,omitempty"`
	PackageFiles  []FileChange      `json:"packageFiles,omitempty"`
	Config        []ConfigChange    `json:"config,omitempty"`
	SecretsAdded  []string          `json:"secretsAdded,omitempty"`
	SecretsCopied []string          `json:"secretsCopied,omitempty"`
	Files         []FileChange      `json:"files,omitempty"`
	Cluster       []kube.ObjectDiff `json:"cluster,omitempty"` // objects the update would change, by server-side dry run
	Breaking      []BreakingChange  `json:"breaking,omitempty"`
	Removed       []RemovedKey      `json:"removed,omitempty"`
	Merged        []string          `json:"merged,omitempty"`    // hand-edited files merged cleanly
	Conflicts     []string          `json:"conflicts,omitempty"` // files left with conflict markers
	Lost          []string          `json:"lost,omitempty"`      // Fresh: what is discarded
	Applied       bool              `json:"applied"`
	Snapshot      string            `json:"snapshot,omitempty"`
	Commit        string            `json:"commit,omitempty"`
	Deployed      bool              `json:"deployed,omitempty"`
	Operation     string            `json:"operation,omitempty"`
	Warnings      []string          `json:"warnings,omitempty"`
	// Backup is the id of the backup taken before the update.
	Backup string `json:"backup,omitempty"`
}

// UnifiedDiff is the review's file diffs in one text.
func (rv *UpdateReview) UnifiedDiff() string {
	var b strings.Builder
	for _, f := range rv.Files {
		b.WriteString(f.Diff)
	}
	return b.String()
}

func (rv *UpdateReview) warn(format string, args ...any) {
	rv.Warnings = append(rv.Warnings, fmt.Sprintf(format, args...))
}

// Resolution is how a breaking change is resolved.
type Resolution string

const (
	ResolveRename         Resolution = "rename"          // Update.Renames
	ResolveAcceptRemoved  Resolution = "accept-removed"  // Update.AcceptRemoved
	ResolveAcceptBreaking Resolution = "accept-breaking" // Update.AcceptBreaking
)

// BreakingChange is one change an update refuses to make on its own.
type BreakingChange struct {
	Kind    string `json:"kind"` // removed_key, major_version, requires_changed
	Message string `json:"message"`
	// Key and RenamedTo are set for a removed key (RenamedTo when the new
	// package has a key that looks like its new name).
	Key       string `json:"key,omitempty"`
	RenamedTo string `json:"renamedTo,omitempty"`
	// Resolution is the option that resolves it; Hint says the same as advice.
	Resolution Resolution    `json:"resolution"`
	Hint       *problem.Hint `json:"hint"`
	Alt        *problem.Hint `json:"alt,omitempty"`
}

// BreakingError is returned when the update needs explicit decisions.
type BreakingError struct {
	App   string
	Items []BreakingChange
}

func (e *BreakingError) Error() string { return e.problem().Error() }

// Unwrap returns the typed problem, each item with its advice.
func (e *BreakingError) Unwrap() error { return e.problem() }

func (e *BreakingError) problem() *problem.Error {
	p := problem.New(problem.Breaking, e.App+": the update has breaking changes; nothing was changed").
		With("app.update", "resolve them explicitly (see above), or start over", "app", e.App, "flag", "fresh")
	for _, it := range e.Items {
		p.Items = append(p.Items, &problem.Error{Code: problem.Breaking, Message: it.Message, Hint: it.Hint, Alt: it.Alt})
	}
	return p
}

// ConflictError is returned when hand edits conflict with the new package.
type ConflictError struct {
	App   string
	Dir   string
	Files []string
}

func (e *ConflictError) Error() string { return e.problem().Error() }

// Unwrap returns the typed problem with the advice.
func (e *ConflictError) Unwrap() error { return e.problem() }

func (e *ConflictError) problem() *problem.Error {
	return problem.New(problem.Conflict, fmt.Sprintf("%s: merge conflicts in %s; edit each file in %s, keep the lines you want and remove the <<<<<<< ours / ======= / >>>>>>> theirs markers", e.App, strings.Join(e.Files, ", "), e.Dir)).
		With("app.update", "then finish with", "app", e.App, "flag", "continue").
		Or("app.rollback", "app", e.App)
}

// ErrCancelled is returned when the user declines the review.
var ErrCancelled = errors.New("cancelled; nothing changed")

// Run performs the update.
func (u *Update) Run(ctx context.Context) (*UpdateReview, error) {
	if err := u.validate(); err != nil {
		return nil, err
	}
	if u.Continue {
		return u.continueMerge()
	}
	if !u.DryRun {
		// A dry run must not even create a lock file.
		unlock, err := u.Instance.LockApp(u.App)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	return u.run(ctx)
}

// RunLocked is Run for a caller that already holds the app's lock (not
// for Continue, which takes it itself).
func (u *Update) RunLocked(ctx context.Context) (*UpdateReview, error) {
	if err := u.validate(); err != nil {
		return nil, err
	}
	if u.Continue {
		return nil, problem.New(problem.Invalid, "continuing an update takes the app lock itself; use Run")
	}
	return u.run(ctx)
}

func (u *Update) run(ctx context.Context) (*UpdateReview, error) {
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	if err := u.checkWorktree(); err != nil {
		return nil, err
	}
	p, err := u.planFromDisk()
	if err != nil {
		return nil, err
	}
	rv := p.review
	if rv.UpToDate {
		return rv, nil
	}
	if err := u.preview(ctx, p); err != nil {
		rv.Warnings = append(rv.Warnings, "cluster preview failed: "+err.Error())
	}
	if len(rv.Breaking) > 0 {
		return rv, &BreakingError{App: u.App, Items: rv.Breaking}
	}
	if u.DryRun {
		return rv, nil
	}
	if u.Confirm != nil {
		ok, err := u.Confirm(rv)
		if err != nil {
			return rv, err
		}
		if !ok {
			return rv, ErrCancelled
		}
	}
	if err := cancelled(ctx); err != nil {
		return rv, err
	}
	if err := u.backupFirst(ctx, rv); err != nil {
		return rv, err
	}
	return u.apply(ctx, p)
}

func (u *Update) backupFirst(ctx context.Context, rv *UpdateReview) error {
	if u.BackupFirst == nil {
		return nil
	}
	id, err := u.BackupFirst(ctx, u.App)
	if err != nil {
		return problem.Wrap(problem.CodeOf(err), err, "back up "+u.App+" before updating it; nothing was changed").
			With("app.update", "update without a backup only if its data is safe elsewhere", "app", u.App, "flag", "no-backup")
	}
	rv.Backup = id
	return nil
}

func (u *Update) validate() error {
	if err := names.Validate("app", u.App); err != nil {
		return err
	}
	for ref, dep := range u.Deps {
		if err := names.Validate("alias", ref); err != nil {
			return err
		}
		if err := names.Validate("app", dep); err != nil {
			return err
		}
	}
	for o, n := range u.Renames {
		if _, err := yamldoc.ParsePath(o); err != nil {
			return problem.Wrap(problem.Invalid, err, "rename "+o+"="+n)
		}
		if _, err := yamldoc.ParsePath(n); err != nil {
			return problem.Wrap(problem.Invalid, err, "rename "+o+"="+n)
		}
	}
	if u.Fresh && (len(u.Renames) > 0 || u.AcceptRemoved) {
		return problem.New(problem.Invalid, "a fresh update starts over from the package defaults; renames and accepting removed keys do not apply")
	}
	return nil
}

// checkWorktree refuses to merge over uncommitted hand edits or unresolved
// conflicts: the three-way merge needs a committed "ours".
func (u *Update) checkWorktree() error {
	if has, files, err := gitmode.HasConflictMarkers(u.Instance, u.App); err != nil {
		return err
	} else if has {
		return problem.New(problem.Conflict, fmt.Sprintf("%s has unresolved merge conflicts in %s", u.App, strings.Join(files, ", "))).
			With("app.update", "resolve them and run", "app", u.App, "flag", "continue").Or("app.rollback", "app", u.App)
	}
	if !gitmode.IsRepo(u.Instance) || u.Fresh {
		return nil
	}
	dirty, files, err := gitmode.DirtyApp(u.Instance, u.App)
	if err != nil {
		return err
	}
	if dirty {
		return fmt.Errorf("%s has uncommitted changes (%s); commit them first so the update can merge them (git -C %s commit -am 'scale(%s): ...'), or discard them", u.App, strings.Join(files, ", "), u.Instance.Dir, u.App)
	}
	return nil
}

// apply snapshots the app and writes the whole update in one instance
// transaction, so a crash leaves it fully old or fully new.
func (u *Update) apply(ctx context.Context, p *updatePlan) (*UpdateReview, error) {
	rv := p.review
	op, err := u.startOp("update", u.App)
	if err != nil {
		return rv, err
	}
	rv.Operation = op.ID()
	for _, w := range rv.Warnings {
		op.Warn("%s", w)
	}
	op.Step("snapshot")
	snap, err := takeSnapshot(u.Instance, u.App, "update", rv.FromVersion, rv.ToVersion)
	if err == nil {
		err = snap.save(u.Instance)
	}
	if err != nil {
		return rv, op.Finish(fmt.Errorf("snapshot %s before updating: %w", u.App, err))
	}
	rv.Snapshot = snap.Info.ID
	crashpoint.Hit("after-snapshot")
	op.Step("merge and write")
	err = u.Instance.Update(func(e *instance.Edit) error { return u.write(e, p, op) })
	if err != nil {
		return rv, op.Finish(err)
	}
	crashpoint.Hit("after-commit")
	rv.Applied = true
	op.Note("%s -> %s", rv.FromVersion, rv.ToVersion)
	if len(rv.Conflicts) > 0 {
		if err := gitmode.SetPending(u.Instance, u.App, u.message(rv)); err != nil {
			return rv, op.Finish(err)
		}
		return rv, op.Finish(&ConflictError{App: u.App, Dir: u.Instance.AppDir(u.App), Files: rv.Conflicts})
	}
	if h, err := gitmode.Head(u.Instance); err == nil {
		rv.Commit = h
	}
	rv.Warnings = op.Warnings()
	if err := op.Finish(nil); err != nil {
		return rv, err
	}
	if u.Deploy && u.Cluster.Deploy != nil {
		if err := u.Cluster.Deploy(ctx, u.App); err != nil {
			return rv, fmt.Errorf("%s was updated, but deploying it failed: %w", u.App, err)
		}
		rv.Deployed = true
	}
	return rv, nil
}

// write recomputes the plan under the instance lock and stages it. The
// result must match what was reviewed; if another process changed the
// app's config meanwhile, the user has to look again.
func (u *Update) write(e *instance.Edit, reviewed *updatePlan, op *operation.Op) error {
	if u.Fresh {
		return u.writeFresh(e, reviewed, op)
	}
	p, err := u.plan(e.Config, e.Secrets)
	if err != nil {
		return err
	}
	if !bytes.Equal(p.config, reviewed.config) || !sameFiles(p.files, reviewed.files) {
		return fmt.Errorf("the instance changed while the update was being reviewed; nothing was written, run the update again")
	}
	e.Message = u.message(reviewed.review)
	if len(reviewed.review.Conflicts) > 0 {
		e.Message = "" // conflict markers are never committed
	}
	return e.ReplaceDir(path.Join(instance.AppsDir, u.App), func(dir string) error {
		return writeFiles(dir, p.files)
	})
}

func (u *Update) message(rv *UpdateReview) string {
	verb := ""
	if rv.Fresh {
		verb = "fresh install "
	}
	if rv.FromVersion == rv.ToVersion {
		return fmt.Sprintf("upgrade(%s): %spackage changes in %s", u.App, verb, rv.ToVersion)
	}
	return fmt.Sprintf("upgrade(%s): %s%s -> %s", u.App, verb, rv.FromVersion, rv.ToVersion)
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
