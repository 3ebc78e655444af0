package backup_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/backup/kopiastore"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/testutil/s3server"
)

// TestConfigBackupToS3: an app without data (hello) backs up its config
// and compiled files into an encrypted repository on a real S3 server
// (versitygw on loopback), configured through config.yaml and
// secrets.yaml. The stored files read back byte for byte with the
// generated password, and none of them is in the bucket in plaintext.
func TestConfigBackupToS3(t *testing.T) {
	ctx := context.Background()
	srv := s3server.Start(t)
	srv.CreateBucket(t, "wild")
	inst, err := instance.NewStore(t.TempDir()).Create(instance.CreateOptions{Name: "home", Domain: "wild.test"})
	noErr(t, err)
	if _, err := (&lifecycle.Add{Env: lifecycle.Env{Instance: inst, Catalog: catalog.Bundled()}, App: "hello"}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"endpoint": srv.Endpoint, "bucket": "wild", "prefix": "home/", "region": srv.Region,
		"accessKeyID": srv.AccessKey, "insecure": "true"} {
		noErr(t, inst.SetConfig("backup.destination.s3."+k, v))
	}
	noErr(t, inst.SetSecret("backup.s3.secretAccessKey", srv.SecretKey))
	// The config strategy never calls the cluster; nothing listens here.
	kc, err := kube.NewClientFromConfig(&rest.Config{Host: "https://127.0.0.1:1"})
	noErr(t, err)

	res, err := (&backup.Backup{Env: backup.Env{Instance: inst, Kube: kc, Open: kopiastore.Open}, App: "hello"}).Run(ctx)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if len(res.Strategies) != 1 || res.Strategies[0].Name != "config" || res.Stats.Bytes == 0 {
		t.Fatalf("result %+v", res)
	}
	dest, err := backup.ReadDestination(inst)
	noErr(t, err)
	pw, err := backup.ExportKey(inst)
	noErr(t, err)
	store, err := kopiastore.Open(ctx, dest, pw, false)
	noErr(t, err)
	defer store.Close(ctx)
	want, err := os.ReadFile(inst.Path("apps", "hello", "deployment.yaml"))
	noErr(t, err)
	r, err := store.Open(ctx, res.Snapshot, "config/app/deployment.yaml")
	noErr(t, err)
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("deployment.yaml read back %d bytes, want %d: %v", len(got), len(want), err)
	}
	if _, err := kopiastore.Open(ctx, dest, pw+"x", false); err == nil {
		t.Error("the repository opened with a wrong password")
	}
	objects := 0
	err = filepath.WalkDir(srv.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		objects++
		b, err := os.ReadFile(p)
		for what, plain := range map[string]string{"the compiled image name": "traefik/whoami", "the password": pw} {
			if bytes.Contains(b, []byte(plain)) {
				t.Errorf("bucket object %s holds %s in plaintext", p, what)
			}
		}
		return err
	})
	if err != nil || objects == 0 {
		t.Fatalf("bucket: %d objects, %v", objects, err)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
