package devcluster_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/devcluster"
)

// processesMentioning lists PIDs whose command line contains s: every
// component gets the cluster dir in its arguments, so this finds them all
// without trusting the PID records under test.
func processesMentioning(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(s)) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z")) {
				continue // exited, waiting to be reaped
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestDownUpLifecycle runs a second cluster of its own: up is idempotent,
// status names a dead component with its log, up restarts it, down leaves
// no process behind, and volumes and PVs survive down/up.
func TestDownUpLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := devcluster.Options{Dir: dir, Nodes: 1, WildBinary: clustertest.WildBinary()}
	start := time.Now()
	c, err := devcluster.Up(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second cluster ready in %s", time.Since(start))
	t.Cleanup(func() {
		if err := devcluster.Down(dir); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	if c.Kubeconfig != filepath.Join(dir, "kubeconfig") || c.Dir != dir {
		t.Errorf("cluster %+v, want kubeconfig and dir in %s", c, dir)
	}
	if c.Server == clustertest.Cluster(t).Server {
		t.Errorf("two clusters share %s", c.Server)
	}

	before := pids(t, dir)
	again, err := devcluster.Up(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if after := pids(t, dir); !equal(before, after) || again.Server != c.Server {
		t.Errorf("second up restarted components: %v -> %v", before, after)
	}

	// A volume with data, to check it survives down/up.
	cs, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ns := "keep"
	if _, err := cs.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "default ServiceAccount", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(bg, "default", metav1.GetOptions{})
		return err == nil, err
	})
	create(t, cs, ns, claim("data", nil), pod("db", "data"))
	pvName := waitBound(t, cs, ns, "data").Spec.VolumeName
	waitPodRunning(t, cs, ns, "db")
	marker := filepath.Join(dir, "volumes", pvName, "marker.txt")
	if err := os.WriteFile(marker, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A component that dies shows up in status, with its last log lines.
	prov := before[devcluster.Provisioner]
	if err := syscall.Kill(prov, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "status to report the provisioner dead", func() (bool, error) {
		s, err := devcluster.Status(dir)
		if err != nil {
			return false, err
		}
		for _, comp := range s.Components {
			if comp.Name == devcluster.Provisioner {
				return !comp.Running && !s.Running && len(comp.LastLines) > 0, nil
			}
		}
		return false, nil
	})
	if _, err := devcluster.Up(bg, opts); err != nil {
		t.Fatal(err)
	}
	restarted := pids(t, dir)
	if restarted[devcluster.Provisioner] == prov || restarted[devcluster.APIServer] != before[devcluster.APIServer] {
		t.Errorf("up should restart only the dead provisioner: %v -> %v", before, restarted)
	}

	lease, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(bg, devcluster.NodePrefix+"1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldHolder := *lease.Spec.HolderIdentity

	if err := devcluster.Down(dir); err != nil {
		t.Fatal(err)
	}
	if left := processesMentioning(dir); len(left) > 0 {
		t.Fatalf("down left processes behind: %v", left)
	}
	s, err := devcluster.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Running {
		t.Error("status says running after down")
	}

	c2, err := devcluster.Up(bg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Server != c.Server {
		t.Logf("ports changed across down/up (%s -> %s): old ones were taken", c.Server, c2.Server)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("volume data after down/up: %q, %v", b, err)
	}
	cs, err = c2.Client()
	if err != nil {
		t.Fatal(err)
	}
	got := waitBound(t, cs, ns, "data")
	if got.Spec.VolumeName != pvName {
		t.Errorf("claim bound to %s after restart, want %s", got.Spec.VolumeName, pvName)
	}
	if _, err := cs.CoreV1().PersistentVolumes().Get(bg, pvName, metav1.GetOptions{}); err != nil {
		t.Errorf("PV after down/up: %v", err)
	}
	// The new kwok must manage the nodes right away, not after the old
	// process's leases expire.
	lease, err = cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(bg, devcluster.NodePrefix+"1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity == oldHolder {
		t.Errorf("node lease still held by the kwok of the previous run (%s)", oldHolder)
	}
	create(t, cs, ns, pod("after-restart", ""))
	waitPodRunning(t, cs, ns, "after-restart")
	s, err = devcluster.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("RSS of the 1-node cluster: %d MiB", s.TotalRSS()>>20)
}

func pids(t *testing.T, dir string) map[string]int {
	t.Helper()
	s, err := devcluster.Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	var dead []string
	for _, c := range s.Components {
		m[c.Name] = c.PID
		if !c.Running {
			dead = append(dead, c.Name)
		}
	}
	if len(dead) > 0 {
		t.Fatalf("components not running: %s", strings.Join(dead, ", "))
	}
	return m
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestUpWithoutBinariesNamesBuildCommand: the error must tell people what
// to run.
func TestUpWithoutBinariesNamesBuildCommand(t *testing.T) {
	_, err := devcluster.Up(bg, devcluster.Options{Dir: t.TempDir(), BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), devcluster.BuildCommand) {
		t.Fatalf("error %v, want one naming %q", err, devcluster.BuildCommand)
	}
}

// TestUpReportsDeadComponent: a component that exits during startup fails
// `up` with its name and the end of its log.
func TestUpReportsDeadComponent(t *testing.T) {
	t.Parallel()
	real, err := devcluster.DefaultBinDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, b := range devcluster.Binaries {
		if err := os.Symlink(filepath.Join(real, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	broken := filepath.Join(bin, "kube-scheduler")
	os.Remove(broken)
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'scheduler: deliberate failure' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := devcluster.Down(dir); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	_, err = devcluster.Up(bg, devcluster.Options{Dir: dir, Nodes: 1, BinDir: bin, WildBinary: clustertest.WildBinary()})
	if err == nil {
		t.Fatal("up succeeded with a scheduler that exits")
	}
	for _, want := range []string{"kube-scheduler is not running", "deliberate failure"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
