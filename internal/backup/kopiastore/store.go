// Package kopiastore is the product's backup.Store: a kopia repository used
// as a library (as Velero does), content-addressed, deduplicated,
// compressed and encrypted, on a filesystem path (local disk or an NFS
// mount) or S3-compatible storage.
//
// Each Save is a real kopia snapshot: a manifest whose root is a directory
// of the backup's streams ("postgres/app.dump" is file app.dump in
// directory postgres). That keeps kopia's maintenance honest (it only
// collects data no snapshot manifest references) and lets an operator
// browse or restore a backup with the kopia CLI alone
// ("kopia snapshot list wild@INSTANCE:APP") should Wild be gone.
package kopiastore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/blob/filesystem"
	"github.com/kopia/kopia/repo/blob/s3"
	"github.com/kopia/kopia/repo/content"
	"github.com/kopia/kopia/repo/format"
	"github.com/kopia/kopia/repo/maintenance"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wild-cloud/wild/internal/backup"
)

// Options says where the repository is and how to open it.
type Options struct {
	// Path is a directory holding the repository: a local disk or an NFS
	// mount. Exactly one of Path and S3 is set.
	Path string
	S3   *S3
	// Password encrypts the repository. There is no default: without it
	// the backups cannot be read.
	Password string
	// ConfigDir holds kopia's connection file and cache (for example the
	// instance's .cache/backup). It must not be inside the repository.
	ConfigDir string
	// CacheBytes bounds each of kopia's content and metadata caches;
	// 0 means 256 MiB.
	CacheBytes int64
	// NoCreate refuses a destination that holds no repository instead of
	// creating one there: a reader (a restore, a clone from another
	// instance's repository) must not leave an empty repository behind a
	// mistyped path.
	NoCreate bool
}

// S3 is an S3-compatible bucket. The bucket must exist.
type S3 struct {
	Endpoint  string // host[:port], no scheme
	Bucket    string
	Prefix    string // optional, e.g. "wild/"
	Region    string // optional
	AccessKey string
	SecretKey string
	// Insecure talks plain HTTP (a loopback or in-cluster endpoint).
	Insecure bool
	// SkipVerify accepts any TLS certificate.
	SkipVerify bool
}

var (
	// ErrNoPassword is returned when Options.Password is empty.
	ErrNoPassword = errors.New("backup repository password is empty: it is generated at the first backup and kept in secrets.yaml; there is no default")
	// ErrWrongPassword is returned when the repository exists and was
	// created with another password.
	ErrWrongPassword = errors.New("wrong backup repository password")
	// ErrNoRepository is returned with Options.NoCreate when the
	// destination holds no repository.
	ErrNoRepository = fmt.Errorf("no backup repository there (check the path, or the bucket and prefix): %w", backup.ErrNotFound)
)

const (
	// Every client of the repository presents itself as wild@wild, so that
	// the maintenance owner (kopia runs maintenance only as its owner)
	// matches whichever machine of the instance runs it.
	clientUser = "wild"
	clientHost = "wild"

	defaultCacheBytes = 256 << 20
	configFileName    = "repository.config"
)

// Store is a kopia repository opened for backups. It is safe for
// concurrent use.
type Store struct {
	rep  repo.Repository
	dest string
}

var _ backup.Store = (*Store)(nil)

// Connect opens the repository, creating it on first use.
func Connect(ctx context.Context, opt Options) (*Store, error) {
	if opt.Password == "" {
		return nil, ErrNoPassword
	}
	if opt.ConfigDir == "" {
		return nil, errors.New("backup repository: no config directory given for kopia's connection file and cache")
	}
	st, dest, err := storage(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer st.Close(ctx) //nolint:errcheck // only used to connect; Open makes its own

	if err := ensureInitialized(ctx, st, opt.Password, !opt.NoCreate); err != nil {
		return nil, fmt.Errorf("backup repository at %s: %w", dest, err)
	}
	configFile, err := connect(ctx, st, opt)
	if err != nil {
		return nil, fmt.Errorf("backup repository at %s: %w", dest, err)
	}
	rep, err := repo.Open(ctx, configFile, opt.Password, &repo.Options{
		DisableInternalLog: true,
		// kopia's default exits the process; a daemon must survive a
		// repository that went away and report it on the next call.
		OnFatalError: func(error) {},
	})
	if err != nil {
		return nil, fmt.Errorf("backup repository at %s: open: %w", dest, passwordError(err))
	}
	s := &Store{rep: rep, dest: dest}
	if err := s.ensureMaintenanceOwner(ctx); err != nil {
		rep.Close(ctx) //nolint:errcheck
		return nil, err
	}
	return s, nil
}

// Destination describes where the repository is, without credentials.
func (s *Store) Destination() string { return s.dest }

// Close releases the repository.
func (s *Store) Close(ctx context.Context) error {
	if err := s.rep.Close(ctx); err != nil {
		return fmt.Errorf("close backup repository at %s: %w", s.dest, err)
	}
	return nil
}

func storage(ctx context.Context, opt Options) (blob.Storage, string, error) {
	switch {
	case opt.Path != "" && opt.S3 != nil:
		return nil, "", errors.New("backup destination: give either a path or S3, not both")
	case opt.Path != "":
		path, err := filepath.Abs(opt.Path)
		if err != nil {
			return nil, "", fmt.Errorf("backup destination %s: %w", opt.Path, err)
		}
		if _, err := os.Stat(path); opt.NoCreate && errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("backup destination %s: %w", path, ErrNoRepository)
		}
		st, err := filesystem.New(ctx, &filesystem.Options{Path: path}, !opt.NoCreate)
		if err != nil {
			return nil, "", fmt.Errorf("backup destination %s: %w", path, err)
		}
		return st, path, nil
	case opt.S3 != nil:
		return s3Storage(ctx, opt.S3)
	}
	return nil, "", errors.New("backup destination: none given (a path or S3)")
}

func s3Storage(ctx context.Context, o *S3) (blob.Storage, string, error) {
	if o.Endpoint == "" || o.Bucket == "" || o.AccessKey == "" || o.SecretKey == "" {
		return nil, "", errors.New("backup destination S3: endpoint, bucket, access key and secret key are all required")
	}
	dest := fmt.Sprintf("s3://%s/%s (%s)", o.Bucket, o.Prefix, o.Endpoint)
	if err := checkBucket(ctx, o); err != nil {
		return nil, "", fmt.Errorf("backup destination %s: %w", dest, err)
	}
	st, err := s3.New(ctx, &s3.Options{
		BucketName:      o.Bucket,
		Prefix:          o.Prefix,
		Endpoint:        o.Endpoint,
		Region:          o.Region,
		AccessKeyID:     o.AccessKey,
		SecretAccessKey: o.SecretKey,
		DoNotUseTLS:     o.Insecure,
		DoNotVerifyTLS:  o.SkipVerify,
	}, true)
	if err != nil {
		return nil, "", fmt.Errorf("backup destination %s: %w", dest, err)
	}
	return st, dest, nil
}

// checkBucket fails fast where kopia would retry for many seconds (a
// missing bucket) and says what to fix.
func checkBucket(ctx context.Context, o *S3) error {
	tr, err := minio.DefaultTransport(!o.Insecure)
	if err != nil {
		return err
	}
	if o.SkipVerify && tr.TLSClientConfig != nil {
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	cli, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:    !o.Insecure,
		Region:    o.Region,
		Transport: tr,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := cli.BucketExists(ctx, o.Bucket)
	if err != nil {
		return fmt.Errorf("%w (check the endpoint, TLS setting and access keys)", err)
	}
	if !ok {
		return fmt.Errorf("bucket %q does not exist: create it first", o.Bucket)
	}
	return nil
}

func ensureInitialized(ctx context.Context, st blob.Storage, password string, create bool) error {
	_, err := st.GetMetadata(ctx, format.KopiaRepositoryBlobID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, blob.ErrBlobNotFound) {
		return fmt.Errorf("read repository format (check the destination and its credentials): %w", err)
	}
	if !create {
		return ErrNoRepository
	}
	err = repo.Initialize(ctx, st, &repo.NewRepositoryOptions{}, password)
	if err != nil && !errors.Is(err, repo.ErrAlreadyInitialized) {
		return fmt.Errorf("create repository: %w", err)
	}
	return nil
}

// connect writes kopia's connection file (0600, in a 0700 directory; for
// S3 it holds the access keys, as kopia needs them to reopen) and returns
// its path. Writing it on every Connect keeps it in step with the options.
func connect(ctx context.Context, st blob.Storage, opt Options) (string, error) {
	if err := os.MkdirAll(opt.ConfigDir, 0o700); err != nil {
		return "", fmt.Errorf("create config directory: %w", err)
	}
	cacheBytes := opt.CacheBytes
	if cacheBytes <= 0 {
		cacheBytes = defaultCacheBytes
	}
	configFile := filepath.Join(opt.ConfigDir, configFileName)
	err := repo.Connect(ctx, configFile, st, opt.Password, &repo.ConnectOptions{
		ClientOptions: repo.ClientOptions{
			Hostname:    clientHost,
			Username:    clientUser,
			Description: "Wild Cloud backups",
		},
		CachingOptions: content.CachingOptions{
			CacheDirectory:         filepath.Join(opt.ConfigDir, "cache"),
			ContentCacheSizeBytes:  cacheBytes,
			MetadataCacheSizeBytes: cacheBytes,
		},
	})
	if err != nil {
		return "", passwordError(err)
	}
	return configFile, nil
}

func passwordError(err error) error {
	if errors.Is(err, repo.ErrInvalidPassword) {
		return fmt.Errorf("%w: the repository was created with another password, and backups cannot be read without it", ErrWrongPassword)
	}
	return err
}

// ensureMaintenanceOwner makes this client the maintenance owner of a
// repository that has none (a new one, or one whose creation was cut
// short), as "kopia repository create" does.
func (s *Store) ensureMaintenanceOwner(ctx context.Context) error {
	p, err := maintenance.GetParams(ctx, s.rep)
	if err != nil {
		return fmt.Errorf("backup repository at %s: read maintenance parameters: %w", s.dest, err)
	}
	if p.Owner != "" {
		return nil
	}
	def := maintenance.DefaultParams()
	def.Owner = clientUser + "@" + clientHost
	err = repo.WriteSession(ctx, s.rep, repo.WriteSessionOptions{Purpose: "wild: set maintenance owner"},
		func(ctx context.Context, w repo.RepositoryWriter) error {
			return maintenance.SetParams(ctx, w, &def)
		})
	if err != nil {
		return fmt.Errorf("backup repository at %s: set maintenance owner: %w", s.dest, err)
	}
	return nil
}
