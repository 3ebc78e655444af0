// Package provisioner is the dev cluster's local-path volume provisioner.
// It does what an external provisioner does on a real cluster: once the
// PV controller hands it a claim (the storage-provisioner annotation) and
// the scheduler has picked a node (the selected-node annotation), it
// creates a hostPath PersistentVolume pre-bound to the claim, with its
// data under DIR/volumes/<pv-name>/ and node affinity to that node. When a
// claim goes away, the PV controller marks the volume Released; for the
// Delete policy this package removes the directory and the PV, for Retain
// it leaves both. Volumes it did not provision are never touched.
package provisioner

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
)

// Annotations shared with the PV controller and the scheduler.
const (
	annStorageProvisioner     = "volume.kubernetes.io/storage-provisioner"
	annBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner"
	annSelectedNode           = "volume.kubernetes.io/selected-node"
	annProvisionedBy          = "pv.kubernetes.io/provisioned-by"
)

// Options configure Run.
type Options struct {
	// Name is the provisioner name StorageClasses refer to.
	Name string
	// Kubeconfig of the cluster.
	Kubeconfig string
	// Dir is the cluster directory; volumes live in Dir/volumes.
	Dir string
	// Logger receives one line per action; nil uses the standard logger.
	Logger *log.Logger
}

// Controller provisions and reclaims volumes.
type Controller struct {
	name       string
	volumesDir string
	client     kubernetes.Interface
	claims     corelisters.PersistentVolumeClaimLister
	volumes    corelisters.PersistentVolumeLister
	classes    storagelisters.StorageClassLister
	queue      workqueue.TypedRateLimitingInterface[string]
	log        *log.Logger
}

// Run serves until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Name == "" || opts.Dir == "" || opts.Kubeconfig == "" {
		return fmt.Errorf("provisioner needs a name, a kubeconfig and a cluster dir")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load %s: %w", opts.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = log.Default()
	}
	factory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	c := &Controller{
		name:       opts.Name,
		volumesDir: filepath.Join(dir, "volumes"),
		client:     cs,
		claims:     factory.Core().V1().PersistentVolumeClaims().Lister(),
		volumes:    factory.Core().V1().PersistentVolumes().Lister(),
		classes:    factory.Storage().V1().StorageClasses().Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "provisioner"}),
		log: logger,
	}
	if err := os.MkdirAll(c.volumesDir, 0o755); err != nil {
		return err
	}
	enqueue := func(prefix string) cache.ResourceEventHandlerFuncs {
		add := func(obj any) {
			if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
				c.queue.Add(prefix + key)
			}
		}
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    add,
			UpdateFunc: func(_, obj any) { add(obj) },
		}
	}
	if _, err := factory.Core().V1().PersistentVolumeClaims().Informer().AddEventHandler(enqueue("claim/")); err != nil {
		return err
	}
	if _, err := factory.Core().V1().PersistentVolumes().Informer().AddEventHandler(enqueue("volume/")); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("provisioner: cache for %v did not sync", typ)
		}
	}
	c.log.Printf("provisioner %s ready; volumes in %s", c.name, c.volumesDir)
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	wait.Until(c.work, 0, ctx.Done())
	return nil
}

func (c *Controller) work() {
	for c.next() {
	}
}

func (c *Controller) next() bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	var err error
	if rest, ok := strings.CutPrefix(key, "claim/"); ok {
		err = c.syncClaim(rest)
	} else if rest, ok := strings.CutPrefix(key, "volume/"); ok {
		err = c.syncVolume(rest)
	}
	if err != nil {
		c.log.Printf("%s: %v (will retry)", key, err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// syncClaim provisions a volume for a claim that is ours and ready for one.
func (c *Controller) syncClaim(key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	class, ok, err := c.wants(claim)
	if err != nil || !ok {
		return err
	}
	node := claim.Annotations[annSelectedNode]
	if node == "" && class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		return nil
	}
	pv := c.volumeFor(claim, class, node)
	if _, err := c.volumes.Get(pv.Name); err == nil {
		return nil
	}
	if err := os.MkdirAll(pv.Spec.HostPath.Path, 0o777); err != nil {
		return fmt.Errorf("create volume dir: %w", err)
	}
	// Containers run as arbitrary users; world-writable, like local-path.
	_ = os.Chmod(pv.Spec.HostPath.Path, 0o777)
	_, err = c.client.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create volume %s: %w", pv.Name, err)
	}
	c.log.Printf("provisioned %s for claim %s/%s on node %q (%s)", pv.Name, ns, name, node, pv.Spec.HostPath.Path)
	return nil
}

// wants reports whether a claim waits for this provisioner. The PV
// controller sets the storage-provisioner annotation only after it found
// no existing volume to bind, which leaves static PVs to its own binder.
func (c *Controller) wants(claim *corev1.PersistentVolumeClaim) (*storagev1.StorageClass, bool, error) {
	if claim.DeletionTimestamp != nil || claim.Spec.VolumeName != "" || claim.Status.Phase == corev1.ClaimBound {
		return nil, false, nil
	}
	p := claim.Annotations[annStorageProvisioner]
	if p == "" {
		p = claim.Annotations[annBetaStorageProvisioner]
	}
	if p != c.name || claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName == "" {
		return nil, false, nil
	}
	class, err := c.classes.Get(*claim.Spec.StorageClassName)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return class, class.Provisioner == c.name, nil
}

func (c *Controller) volumeFor(claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node string) *corev1.PersistentVolume {
	name := "pvc-" + string(claim.UID)
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	hostType := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: c.name},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: claim.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   claim.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			MountOptions:                  class.MountOptions,
			VolumeMode:                    claim.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(c.volumesDir, name), Type: &hostType},
			},
			ClaimRef: &corev1.ObjectReference{
				Kind:            "PersistentVolumeClaim",
				APIVersion:      "v1",
				Namespace:       claim.Namespace,
				Name:            claim.Name,
				UID:             claim.UID,
				ResourceVersion: claim.ResourceVersion,
			},
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	return pv
}

// syncVolume reclaims a Released volume of ours whose policy is Delete.
func (c *Controller) syncVolume(name string) error {
	pv, err := c.volumes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Annotations[annProvisionedBy] != c.name || pv.DeletionTimestamp != nil ||
		pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if pv.Spec.HostPath == nil {
		return nil
	}
	path := filepath.Clean(pv.Spec.HostPath.Path)
	// Never delete outside our volumes dir, whatever a PV object says.
	if filepath.Dir(path) != c.volumesDir {
		c.log.Printf("not deleting %s: its path %s is outside %s", pv.Name, path, c.volumesDir)
		return nil
	}
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	err = c.client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pv.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete volume %s: %w", pv.Name, err)
	}
	c.log.Printf("deleted %s and %s (reclaim policy Delete)", pv.Name, path)
	return nil
}
