// Package s3server runs a real S3 server (versitygw, posix backend) on
// loopback for tests. The binary is built from the Go module proxy on
// first use and cached in <repo>/.build/tools, so a fresh clone needs
// nothing installed beforehand.
package s3server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wild-cloud/wild/internal/testutil"
)

// Module is the pinned S3 server.
const Module = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

const (
	accessKey = "wildtest"
	secretKey = "wildtest-secret-key"
	region    = "us-east-1"
)

// Server is a running S3 server whose objects are files under Dir.
type Server struct {
	Endpoint  string // 127.0.0.1:PORT, plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	Dir       string
}

// Start builds (once) and starts a server on a free loopback port with an
// empty temp directory, and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var lastErr error
	for range 3 { // the free port may be taken between probe and bind
		s, err := start(t, bin, dir)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("start S3 server: %v", lastErr)
	return nil
}

func start(t testing.TB, bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: fmt.Sprintf("127.0.0.1:%d", port), AccessKey: accessKey, SecretKey: secretKey, Region: region, Dir: dir}
	var out bytes.Buffer
	cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey, "--region", region,
		"--port", s.Endpoint, "--quiet", "posix", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	// The server must not outlive a test binary killed by a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill() //nolint:errcheck
		<-exited
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("S3 server exited: %v\n%s", err, out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", s.Endpoint, time.Second)
		if err == nil {
			c.Close()
			t.Cleanup(stop)
			return s, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("S3 server not listening on %s after 30s\n%s", s.Endpoint, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CreateBucket makes a bucket through the S3 API.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	cli, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: s.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cli.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Binary returns the server binary, building it into <repo>/.build/tools
// on first use. A file lock makes concurrent test packages build it once.
func Binary() (string, error) {
	root, err := testutil.RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, ".build", "tools", "versitygw-v1.8.0")
	bin := filepath.Join(dir, "versitygw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock := flock.New(dir + ".lock")
	if err := lock.Lock(); err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer lock.Unlock() //nolint:errcheck
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "install", Module)
	// Built outside the wild module so its dependencies never touch ours.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", Module, err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
