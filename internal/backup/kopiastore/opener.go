package kopiastore

import (
	"context"

	"github.com/wild-cloud/wild/internal/backup"
)

// Open is a backup.Opener: it connects to the repository a
// backup.Destination names (created on first use).
func Open(ctx context.Context, dest backup.Destination, password string, create bool) (backup.Store, error) {
	opt := Options{Path: dest.Path, Password: password, ConfigDir: dest.CacheDir, NoCreate: !create}
	if s := dest.S3; s != nil {
		opt.Path = ""
		opt.S3 = &S3{Endpoint: s.Endpoint, Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region,
			AccessKey: s.AccessKeyID, SecretKey: s.SecretAccessKey, Insecure: s.Insecure}
	}
	return Connect(ctx, opt)
}

var _ backup.Opener = Open
