package lifecycle

import (
	"context"
	"fmt"
	"path"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/gitmode"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/yamldoc"
)

// Rollback restores an app as it was before an update: from the newest
// snapshot (or a chosen one), or in git mode from a commit. A deployed
// app is redeployed with the restored files.
type Rollback struct {
	Env
	App      string
	Snapshot string // snapshot id; "" = newest
	To       string // git commit (any revision go-git resolves)
	Cluster  ClusterHooks
}

// RollbackResult reports what Rollback restored.
type RollbackResult struct {
	App         string   `json:"app"`
	From        string   `json:"from"` // version before the rollback
	To          string   `json:"to"`   // version restored
	Source      string   `json:"source"`
	Commit      string   `json:"commit,omitempty"`
	Redeployed  bool     `json:"redeployed"`
	NotDeployed bool     `json:"notDeployed,omitempty"`
	Warnings    []string `json:"warnings,omitempty"`
	Operation   string   `json:"operation"`
}

// restoreSet is what a rollback writes.
type restoreSet struct {
	config  *yaml.Node // nil: remove the section
	secrets *yaml.Node // nil: remove; keep=true leaves secrets alone
	keepSec bool
	files   map[string][]byte
	version string
	source  string
}

// Run performs the rollback.
func (r *Rollback) Run(ctx context.Context) (*RollbackResult, error) {
	if err := names.Validate("app", r.App); err != nil {
		return nil, err
	}
	if r.To != "" && r.Snapshot != "" {
		return nil, problem.New(problem.Invalid, "choose one of a commit (To) and a snapshot (Snapshot)")
	}
	unlock, err := r.Instance.LockApp(r.App)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return r.RunLocked(ctx)
}

// RunLocked is Run for a caller that already holds the app's lock.
func (r *Rollback) RunLocked(ctx context.Context) (*RollbackResult, error) {
	if err := names.Validate("app", r.App); err != nil {
		return nil, err
	}
	if r.To != "" && r.Snapshot != "" {
		return nil, problem.New(problem.Invalid, "choose one of a commit (To) and a snapshot (Snapshot)")
	}
	if err := cancelled(ctx); err != nil {
		return nil, err
	}
	set, err := r.load()
	if err != nil {
		return nil, err
	}
	res := &RollbackResult{App: r.App, To: set.version, Source: set.source}
	if cur, err := ReadInstalledManifest(r.Instance, r.App); err == nil && cur != nil {
		res.From = cur.Version
	}
	deployed := false
	if r.Cluster.Deployed != nil {
		if deployed, err = r.Cluster.Deployed(ctx, r.App); err != nil {
			return nil, fmt.Errorf("check whether %s is deployed: %w", r.App, err)
		}
	}
	op, err := r.startOp("rollback", r.App)
	if err != nil {
		return nil, err
	}
	res.Operation = op.ID()
	defer func() { res.Warnings = op.Warnings() }()
	op.Step("restore " + set.source)
	err = r.Instance.Update(func(e *instance.Edit) error {
		e.Message = fmt.Sprintf("rollback(%s): restore %s", r.App, set.source)
		return set.stage(e, r.App)
	})
	if err != nil {
		return res, op.FinishCtx(ctx, err)
	}
	gitmode.ClearPending(r.Instance, r.App)
	if h, err := gitmode.Head(r.Instance); err == nil {
		res.Commit = h
	}
	if !deployed || r.Cluster.Deploy == nil {
		res.NotDeployed = !deployed
		return res, op.FinishCtx(ctx, nil)
	}
	op.Step("redeploy")
	if err := r.Cluster.Deploy(ctx, r.App); err != nil {
		return res, op.FinishCtx(ctx, fmt.Errorf("%s was restored, but redeploying it failed: %w", r.App, err))
	}
	res.Redeployed = true
	return res, op.FinishCtx(ctx, nil)
}

func (r *Rollback) load() (*restoreSet, error) {
	if r.To != "" {
		return r.loadCommit()
	}
	s, err := loadSnapshot(r.Instance, r.App, r.Snapshot)
	if err != nil {
		return nil, err
	}
	return &restoreSet{config: s.Config, secrets: s.Secrets, files: s.Files, version: s.Info.FromVersion, source: "snapshot " + s.Info.ID}, nil
}

// loadCommit takes apps/<app>/ and the app's config section from a
// commit. Secrets are not in git, so the current ones stay.
func (r *Rollback) loadCommit() (*restoreSet, error) {
	if !gitmode.IsRepo(r.Instance) {
		return nil, problem.New(problem.PreconditionFailed, "rolling back to a commit needs git mode; this instance is not a repository").
			With("app.rollback", "use a snapshot instead", "app", r.App)
	}
	files, err := gitmode.AllFilesAt(r.Instance, r.To, path.Join(instance.AppsDir, r.App))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, problem.New(problem.NotFound, fmt.Sprintf("commit %s has no apps/%s", r.To, r.App)).
			With("instance.log", "pick another", "app", r.App)
	}
	raw, ok, err := gitmode.FileAt(r.Instance, r.To, instance.ConfigFile)
	if err != nil {
		return nil, err
	}
	set := &restoreSet{files: files, keepSec: true, source: "commit " + shortRev(r.To)}
	if ok {
		d, err := yamldoc.Parse(instance.ConfigFile+"@"+r.To, raw)
		if err != nil {
			return nil, err
		}
		if n, found := d.Get([]string{"apps", r.App}); found {
			set.config = n
		}
	}
	if m, ok := files["manifest.yaml"]; ok {
		if mm, err := parseManifestBytes(m); err == nil {
			set.version = mm
		}
	}
	return set, nil
}

func shortRev(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func parseManifestBytes(b []byte) (string, error) {
	var v struct {
		Version string `yaml:"version"`
	}
	err := yaml.Unmarshal(b, &v)
	return v.Version, err
}

// stage writes the restore set into one transaction.
func (s *restoreSet) stage(e *instance.Edit, app string) error {
	p := []string{"apps", app}
	if err := setOrDelete(e.Config, p, s.config); err != nil {
		return err
	}
	if !s.keepSec {
		if err := setOrDelete(e.Secrets, p, s.secrets); err != nil {
			return err
		}
	}
	return e.ReplaceDir(path.Join(instance.AppsDir, app), func(dir string) error {
		return writeFiles(dir, s.files)
	})
}

func setOrDelete(d *yamldoc.Doc, p []string, n *yaml.Node) error {
	if n == nil {
		d.Delete(p)
		return nil
	}
	return d.Set(p, yamldoc.Clone(n))
}
