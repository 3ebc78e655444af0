package devcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// kwokNodeAnnotation marks the nodes kwok manages (see the kwok flags).
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	// StorageClassName is the default class Up creates.
	StorageClassName = "local-path"
	// ProvisionerName is the provisioner field of that class.
	ProvisionerName = "dev.wild.cloud/local-path"
	// NodePrefix names the fake nodes: NodePrefix + "1", ...
	NodePrefix = "kwok-node-"
)

// readyz asks the API server whether it is ready.
func (c *Cluster) readyz(ctx context.Context) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("/readyz: %w: %s", err, strings.TrimSpace(string(body)))
	}
	return nil
}

// waitReady waits for the API server, then creates the nodes and the
// storage class and waits for the nodes to be Ready. A component that
// exits meanwhile fails the wait at once, with its last log lines.
func (c *Cluster) waitReady(ctx context.Context, st *state) error {
	if err := c.poll(ctx, st, "the API server to answer /readyz", c.readyz); err != nil {
		return err
	}
	if err := c.bootstrap(ctx, st); err != nil {
		return err
	}
	cs, err := c.Client()
	if err != nil {
		return err
	}
	if err := c.poll(ctx, st, fmt.Sprintf("%d nodes to be Ready", st.Nodes), func(ctx context.Context) error {
		return nodesReady(ctx, cs, st.Nodes)
	}); err != nil {
		return err
	}
	if st.RealNode {
		if err := c.poll(ctx, st, "node "+RealNodeName+" to be Ready", c.realNodeReady); err != nil {
			return err
		}
	}
	// The ServiceAccount controller creates "default" in every namespace;
	// pods are rejected until it exists, so this is when pods can be made.
	return c.poll(ctx, st, "the controller manager to create the default ServiceAccount", func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

func (c *Cluster) poll(ctx context.Context, st *state, what string, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		if err := deadComponent(c.Dir, st); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %v; see the logs in %s", what, last, filepath.Join(c.Dir, "logs"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// deadComponent reports the first recorded component that is not running.
func deadComponent(dir string, st *state) error {
	for _, name := range st.components() {
		// PID 0: deliberately not started yet (see startDead).
		rec := st.Processes[name]
		if rec.PID == 0 || rec.alive() {
			continue
		}
		// Not ours any more may still mean running (an exec'd script) or
		// exiting: its last words are in the log only once it is gone.
		_ = waitExited(rec, 2*time.Second)
		lines := lastLines(logPath(dir, name), 15)
		return fmt.Errorf("%s is not running; last lines of %s:\n  %s", name, logPath(dir, name), strings.Join(lines, "\n  "))
	}
	return nil
}

// bootstrap creates what a fresh cluster lacks: the fake nodes and the
// default storage class. Existing objects are left as they are.
func (c *Cluster) bootstrap(ctx context.Context, st *state) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	for i := 1; i <= st.Nodes; i++ {
		_, err := cs.CoreV1().Nodes().Create(ctx, fakeNode(NodePrefix+fmt.Sprint(i)), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s%d: %w", NodePrefix, i, err)
		}
	}
	_, err = cs.StorageV1().StorageClasses().Create(ctx, defaultStorageClass(), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create storage class %s: %w", StorageClassName, err)
	}
	return nil
}

// fakeNode has the capacity of a small real machine, so resource requests
// and scheduling behave as they would on one.
func fakeNode(name string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("4"),
		corev1.ResourceMemory:           resource.MustParse("16Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res,
			Phase:       corev1.NodeRunning,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:    "amd64",
				OperatingSystem: "linux",
				KubeletVersion:  "v1.33.4-kwok",
			},
		},
	}
}

func defaultStorageClass() *storagev1.StorageClass {
	del := corev1.PersistentVolumeReclaimDelete
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       ProvisionerName,
		ReclaimPolicy:     &del,
		VolumeBindingMode: &wffc,
	}
}

// nodesReady also wants each node's lease: nodes kept in etcd from an
// earlier run still say Ready, but only a lease shows kwok manages them now.
func nodesReady(ctx context.Context, cs kubernetes.Interface, n int) error {
	for i := 1; i <= n; i++ {
		name := NodePrefix + fmt.Sprint(i)
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !isReady(node) {
			return fmt.Errorf("node %s is not Ready", name)
		}
		if _, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("node %s: kwok holds no lease yet: %w", name, err)
		}
	}
	return nil
}

// deleteNodeLeases removes the leases a previous kwok process held.
func (c *Cluster) deleteNodeLeases(ctx context.Context) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	leases, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list node leases: %w", err)
	}
	for _, l := range leases.Items {
		if !strings.HasPrefix(l.Name, NodePrefix) {
			continue
		}
		err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, l.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete stale node lease %s: %w", l.Name, err)
		}
	}
	return nil
}

func isReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
