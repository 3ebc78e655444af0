// Package clustertest gives integration tests a real Kubernetes control
// plane: one dev cluster per test binary, started from TestMain and torn
// down when the binary exits, however it exits.
//
//	func TestMain(m *testing.M) { clustertest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		ns := clustertest.Namespace(t)
//		cs := clustertest.Client(t)
//		...
//	}
//
// Pods are simulated by kwok: they get scheduled and become Running and
// Ready, Job pods complete, but no container runs.
package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/testutil"
)

// Nodes is the number of fake nodes of the shared cluster.
const Nodes = 3

var (
	cluster *devcluster.Cluster
	wildBin string
	// upOpts are the options Main started the cluster with, for Restart.
	upOpts devcluster.Options
)

// Option changes the shared cluster Main starts.
type Option func(*devcluster.Options)

// RealNode gives the shared cluster the real node (containerd, kubelet,
// kube-proxy, CoreDNS). The test binary fails, never skips, when this
// machine cannot run it: tests that need real containers must run where
// they can.
func RealNode(o *devcluster.Options) { o.RealNode = devcluster.RealNodeOn }

// Main starts the control plane, runs the tests and stops it. It never
// returns. Missing binaries fail the test binary with the build command,
// so integration tests cannot be skipped by accident.
func Main(m *testing.M, opts ...Option) {
	os.Exit(run(m, opts))
}

func run(m *testing.M, opts []Option) (code int) {
	// TestMain must parse flags itself before reading any (testing.Verbose).
	flag.Parse()
	if err := devcluster.CheckBinaries(binDir()); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: %v\n", err)
		return 1
	}
	var err error
	if wildBin, err = testutil.WildBinary(); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: build wild for the provisioner: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "wild-clustertest-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: %v\n", err)
		return 1
	}
	teardown := func() {
		if err := devcluster.Down(dir); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: stop cluster in %s: %v\n", dir, err)
			return
		}
		os.RemoveAll(dir)
	}
	// A panicking test kills the binary from its own goroutine, past any
	// defer here; the detached reaper notices and stops the cluster.
	if err := startReaper(dir); err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: %v\n", err)
		teardown()
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "clustertest: %v: stopping the cluster\n", s)
		teardown()
		os.Exit(1)
	}()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "clustertest: panic: %v\n", r)
			code = 2
		}
		teardown()
	}()

	start := time.Now()
	o := devcluster.Options{Dir: dir, Nodes: Nodes, BinDir: binDir(), WildBinary: wildBin}
	for _, opt := range opts {
		opt(&o)
	}
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	upOpts = o
	cluster, err = upWaitingForNode(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: start the control plane: %v\n", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "clustertest: control plane ready in %s (%s)\n", time.Since(start).Round(time.Millisecond), dir)
	}
	return m.Run()
}

// upWaitingForNode starts the cluster. A machine has one real node, so a
// test package that wants it while another package's cluster holds it
// waits its turn (go test runs packages in parallel) instead of failing.
func upWaitingForNode(o devcluster.Options) (*devcluster.Cluster, error) {
	deadline := time.Now().Add(40 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		c, err := devcluster.Up(ctx, o)
		cancel()
		if !errors.Is(err, devcluster.ErrNodeBusy) || time.Now().After(deadline) {
			return c, err
		}
		_ = devcluster.Down(o.Dir)
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "clustertest: waiting for the real node: %v\n", err)
		}
		time.Sleep(3 * time.Second)
	}
}

func binDir() string {
	d, err := devcluster.DefaultBinDir()
	if err != nil {
		return ""
	}
	return d
}

func startReaper(dir string) error {
	self := os.Getpid()
	st, err := devcluster.ProcessStartTime(self)
	if err != nil {
		return err
	}
	cmd := exec.Command(wildBin, "dev", "reap", "--dir", dir, "--pid", strconv.Itoa(self),
		"--start-time", strconv.FormatUint(st, 10), "--remove")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start reaper: %w", err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// Cluster returns the shared cluster.
func Cluster(t testing.TB) *devcluster.Cluster {
	t.Helper()
	if cluster == nil {
		t.Fatal("no cluster: call clustertest.Main(m) from TestMain")
	}
	return cluster
}

// Dir is the shared cluster's state directory ("" before Main).
func Dir() string {
	if cluster == nil {
		return ""
	}
	return cluster.Dir
}

// WildBinary is the wild binary the cluster's provisioner runs.
func WildBinary() string { return wildBin }

// Kubeconfig returns the path of the admin kubeconfig.
func Kubeconfig(t testing.TB) string { return Cluster(t).Kubeconfig }

// RESTConfig returns an admin client config.
func RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := Cluster(t).RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Client returns an admin clientset.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var unsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a fresh namespace named after the test, waits until
// pods can be created in it, and deletes it when the test ends.
func Namespace(t testing.TB) string {
	t.Helper()
	cs := Client(t)
	base := strings.Trim(unsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "t-" + base + "-" + hex.EncodeToString(suffix)
	ctx := context.Background()
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		err := cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	// The ServiceAccount admission plugin rejects pods until the
	// controller manager has created "default" in the namespace.
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			if d := time.Since(start); d > 2*time.Second {
				t.Logf("namespace %s: default ServiceAccount took %s", name, d.Round(time.Millisecond))
			}
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s: default ServiceAccount not created after 30s: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StopAPIServer stops the shared cluster's API server, for fault tests.
// It is restarted when the test ends if the test did not do it.
func StopAPIServer(t testing.TB) {
	t.Helper()
	c := Cluster(t)
	if err := c.Stop(devcluster.APIServer); err != nil {
		t.Fatalf("stop API server: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Start(context.Background(), devcluster.APIServer); err != nil {
			t.Errorf("restart API server: %v", err)
		}
	})
}

// StartAPIServer starts the API server again and waits until it is ready.
func StartAPIServer(t testing.TB) {
	t.Helper()
	if err := Cluster(t).Start(context.Background(), devcluster.APIServer); err != nil {
		t.Fatalf("start API server: %v", err)
	}
}

// Restart stops the whole shared cluster (wild down) and starts it again
// with the same options and data, as a user's down and up would.
func Restart(t testing.TB) {
	t.Helper()
	c := Cluster(t)
	if err := devcluster.Down(c.Dir); err != nil {
		t.Fatalf("down: %v", err)
	}
	// Another package's cluster may take the real node while this one is
	// down; then up waits for it, as Main does.
	var err error
	if cluster, err = upWaitingForNode(upOpts); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
