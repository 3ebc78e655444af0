package backup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/operation"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/side"
)

// Destination is where the repository lives, from config.yaml:
//
//	backup:
//	  destination:
//	    path: /mnt/nfs/wild-backups     # a local directory or an NFS mount
//	    s3:                             # or S3-compatible storage
//	      endpoint: 127.0.0.1:7070
//	      bucket: wild
//	      prefix: home/
//	      region: us-east-1
//	      accessKeyID: KEY
//	      insecure: true                # plain http
//
// The S3 secret key is secrets.yaml backup.s3.secretAccessKey. With no
// destination, the repository is <data-dir>/backups/<instance>.
type Destination struct {
	Path string         `json:"path,omitempty"`
	S3   *S3Destination `json:"s3,omitempty"`
	// CacheDir is the instance's local cache of the repository (its
	// connection file and index), never inside the repository.
	CacheDir string `json:"-"`
}

// S3Destination is an S3-compatible bucket.
type S3Destination struct {
	Endpoint        string `json:"endpoint"`
	Bucket          string `json:"bucket"`
	Prefix          string `json:"prefix,omitempty"`
	Region          string `json:"region,omitempty"`
	AccessKeyID     string `json:"accessKeyID,omitempty"`
	SecretAccessKey string `json:"-"`
	Insecure        bool   `json:"insecure,omitempty"`
}

// PasswordKey is where secrets.yaml keeps the repository password.
const PasswordKey = "backup.repositoryPassword"

// Opener opens (or creates, on first use) the repository at dest,
// encrypted with password. The CLI and the daemon pass the kopia-backed
// one; the strategies never see which.
type Opener func(ctx context.Context, dest Destination, password string, create bool) (Store, error)

// Env is what every backup operation needs.
type Env struct {
	Instance *instance.Instance
	Observer event.Observer
	// Kube is the cluster client; nil opens the instance's kubeconfig.
	Kube *kube.Client
	Open Opener
}

func (e *Env) observer() event.Observer { return event.Or(e.Observer) }

func (e *Env) kube() (*kube.Client, error) {
	if e.Kube != nil {
		return e.Kube, nil
	}
	kc, err := e.Instance.Kubeconfig()
	if err != nil {
		return nil, err
	}
	c, err := kube.NewClient(kc)
	if err != nil {
		return nil, err
	}
	e.Kube = c
	return c, nil
}

// ReadDestination reads backup.destination from config.yaml.
func ReadDestination(inst *instance.Instance) (Destination, error) {
	var d Destination
	v, err := inst.GetConfig("backup.destination")
	if err == nil {
		b, err := sigsyaml.Marshal(v)
		if err != nil {
			return d, err
		}
		if err := sigsyaml.UnmarshalStrict(b, &d); err != nil {
			return d, problem.New(problem.Invalid, fmt.Sprintf("config.yaml backup.destination: %v (keys: path, s3.endpoint, s3.bucket, s3.prefix, s3.region, s3.accessKeyID, s3.insecure)", err))
		}
	}
	// Outside the instance: in git mode it would be committed.
	dataDir := filepath.Dir(filepath.Dir(inst.Dir))
	d.CacheDir = filepath.Join(dataDir, "cache", "backup", inst.Name)
	if d.S3 != nil {
		if d.S3.Endpoint == "" || d.S3.Bucket == "" {
			return d, problem.New(problem.Invalid, "config.yaml backup.destination.s3 needs endpoint and bucket")
		}
		if s, err := inst.GetSecret("backup.s3.secretAccessKey"); err == nil {
			d.S3.SecretAccessKey = fmt.Sprint(s)
		}
		return d, nil
	}
	if d.Path == "" {
		d.Path = filepath.Join(dataDir, "backups", inst.Name)
	}
	return d, nil
}

// password returns the repository password, generating it at the first
// backup (create). There is never a default: without it the backups
// cannot be read, which is why `wild backup key export` exists.
func password(inst *instance.Instance, create bool) (string, error) {
	if v, err := inst.GetSecret(PasswordKey); err == nil && fmt.Sprint(v) != "" {
		return fmt.Sprint(v), nil
	}
	if !create {
		return "", problem.New(problem.NotFound, fmt.Sprintf("instance %s has no backup repository password (secrets.yaml %s): no backup was made from it yet", inst.Name, PasswordKey))
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(buf)
	err := inst.Update(func(e *instance.Edit) error {
		e.Message = "backup: generate the repository password"
		if v, ok, _ := e.Secrets.Value(strings.Split(PasswordKey, ".")); ok && fmt.Sprint(v) != "" {
			pw = fmt.Sprint(v) // another process was first
			return nil
		}
		return e.Secrets.Set(strings.Split(PasswordKey, "."), &yaml.Node{Kind: yaml.ScalarNode, Value: pw, Tag: "!!str"})
	})
	return pw, err
}

// ExportKey returns the repository password, for safekeeping.
func ExportKey(inst *instance.Instance) (string, error) { return password(inst, false) }

func (e *Env) store(ctx context.Context, create bool) (Store, error) {
	if e.Open == nil {
		return nil, problem.New(problem.Internal, "no backup repository implementation is configured")
	}
	dest, err := ReadDestination(e.Instance)
	if err != nil {
		return nil, err
	}
	pw, err := password(e.Instance, create)
	if err != nil {
		return nil, err
	}
	s, err := e.Open(ctx, dest, pw, create)
	if err != nil {
		return nil, fmt.Errorf("open the backup repository: %w", err)
	}
	return s, nil
}

// Active is which copy of an app serves; see package side.
type Active = side.Active

func otherColor(c string) string {
	if c == "green" {
		return "blue"
	}
	return "green"
}

// liveName is a resource's name on the active side.
func (a *App) liveName(base, sep string) string {
	if a.active.Original {
		return base
	}
	return base + sep + a.active.Color
}

func (a *App) standbyNamespace() string { return a.Name + "-" + a.Color }

func (a *App) progress(file string, n int64) {
	if a.Progress != nil {
		a.Progress(file, n)
	}
}

// manifest reads an added app's installed manifest.
func (e *Env) manifest(app string) (*catalog.Manifest, error) {
	p := e.Instance.Path(instance.AppsDir, app, catalog.ManifestFile)
	raw, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, problem.New(problem.NotFound, fmt.Sprintf("%s is not added to instance %s", app, e.Instance.Name)).With("app.add", "add it first", "app", app)
	}
	if err != nil {
		return nil, err
	}
	return catalog.ParseManifest(p, raw)
}

// loadApp reads an added app and its active side.
func (e *Env) loadApp(app string, warn func(string, ...any)) (*App, error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	m, err := e.manifest(app)
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	if v, err := e.Instance.GetConfig("apps." + app); err == nil {
		cfg, _ = v.(map[string]any)
	}
	act, err := side.Read(e.Instance, app)
	if err != nil {
		return nil, err
	}
	c, err := e.kube()
	if err != nil {
		return nil, err
	}
	a := &App{Instance: e.Instance, Kube: c, Name: app, Manifest: m, Config: cfg, Warn: warn, active: act}
	a.Namespace = act.Namespace
	if a.Namespace == "" {
		a.Namespace = app
		if ns, ok := a.configString("namespace"); ok && ns != "" {
			a.Namespace = ns
		}
	}
	return a, nil
}

// startOp starts the operation record, like lifecycle's.
func (e *Env) startOp(action, app string) (*operation.Op, error) {
	op, err := operation.StartWith(e.Instance.Path(instance.OperationsDir), e.Instance.Name, action, app,
		operation.Options{Observer: e.Observer})
	if err != nil {
		return nil, err
	}
	e.Instance.NoteAppLock(app, op.ID())
	return op, nil
}

// progressEvents turns byte counts into progress events, at most a few a
// second, so a long dump shows it is moving.
func (e *Env) progressEvents(app, phase string) func(string, int64) {
	var last time.Time
	return func(file string, n int64) {
		if time.Since(last) < 250*time.Millisecond {
			return
		}
		last = time.Now()
		e.observer().Observe(event.Event{Kind: event.Progress, Time: last.UTC(), App: app, Phase: phase, Message: file, Bytes: n})
	}
}

func notFound(msg, app string) error {
	return problem.New(problem.NotFound, msg).With("app.backup", "make one first", "app", app)
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func owner() *Owner {
	h, _ := os.Hostname()
	return &Owner{PID: os.Getpid(), Host: h, Heartbeat: time.Now().UTC()}
}
