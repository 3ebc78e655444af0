package devcluster_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/devcluster"
)

const selectedNode = "volume.kubernetes.io/selected-node"

func waitBound(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.PersistentVolumeClaim {
	t.Helper()
	var got *corev1.PersistentVolumeClaim
	eventually(t, 60*time.Second, "claim "+name+" Bound", func() (bool, error) {
		c, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(bg, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = c
		return c.Status.Phase == corev1.ClaimBound, fmt.Errorf("phase %s", c.Status.Phase)
	})
	return got
}

func waitPodRunning(t *testing.T, cs kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	eventually(t, 60*time.Second, "pod "+name+" Running", func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(bg, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = p
		return p.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", p.Status.Phase)
	})
	return got
}

func create(t *testing.T, cs kubernetes.Interface, ns string, objs ...any) {
	t.Helper()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.PersistentVolumeClaim:
			_, err = cs.CoreV1().PersistentVolumeClaims(ns).Create(bg, o, metav1.CreateOptions{})
		case *corev1.Pod:
			_, err = cs.CoreV1().Pods(ns).Create(bg, o, metav1.CreateOptions{})
		default:
			t.Fatalf("create: unsupported %T", o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The issue asks for binding within 2 s of scheduling. With
// WaitForFirstConsumer the scheduler marks its choice on the claim
// (selected-node) before it binds the pod, so that is the moment measured.
// Typical on this machine: a few hundred ms; the bound stays the 2 s.
func TestClaimBindsSoonAfterScheduling(t *testing.T) {
	t.Parallel()
	cs, ns := clustertest.Client(t), clustertest.Namespace(t)

	// A watch sees each change as it happens; polling could see the
	// annotation and the binding in the same response.
	w, err := cs.CoreV1().PersistentVolumeClaims(ns).Watch(bg, metav1.ListOptions{FieldSelector: "metadata.name=data"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	create(t, cs, ns, claim("data", nil), pod("db", "data"))
	var scheduledAt, boundAt time.Time
	var c *corev1.PersistentVolumeClaim
	timeout := time.After(60 * time.Second)
	for boundAt.IsZero() {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed before the claim was bound")
			}
			got, isClaim := ev.Object.(*corev1.PersistentVolumeClaim)
			if !isClaim {
				continue
			}
			c = got
			if scheduledAt.IsZero() && c.Annotations[selectedNode] != "" {
				scheduledAt = time.Now()
			}
			if c.Status.Phase == corev1.ClaimBound {
				boundAt = time.Now()
			}
		case <-timeout:
			t.Fatalf("claim not bound after 60s: %+v", c)
		}
	}
	if scheduledAt.IsZero() {
		t.Fatalf("claim bound without a selected node; annotations %v", c.Annotations)
	}
	lag := boundAt.Sub(scheduledAt)
	t.Logf("claim bound %s after its pod was scheduled", lag)
	if lag > 2*time.Second {
		t.Errorf("claim bound %s after scheduling, want within 2s", lag)
	}
	if *c.Spec.StorageClassName != devcluster.StorageClassName {
		t.Errorf("claim class %q, want the default %q", *c.Spec.StorageClassName, devcluster.StorageClassName)
	}

	p := waitPodRunning(t, cs, ns, "db")
	pv, err := cs.CoreV1().PersistentVolumes().Get(bg, c.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != volumeDir(pv.Name) {
		t.Errorf("PV source %+v, want hostPath %s", pv.Spec.PersistentVolumeSource, volumeDir(pv.Name))
	}
	if st, err := os.Stat(volumeDir(pv.Name)); err != nil || !st.IsDir() {
		t.Errorf("volume directory: %v", err)
	}
	if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("capacity %s, want 2Gi", got.String())
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("reclaim policy %s, want Delete", pv.Spec.PersistentVolumeReclaimPolicy)
	}
	if na := pv.Spec.NodeAffinity; na == nil || na.Required == nil ||
		na.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != p.Spec.NodeName {
		t.Errorf("node affinity %+v, want the pod's node %s", pv.Spec.NodeAffinity, p.Spec.NodeName)
	}
}

func TestDeploymentWithClaimBecomesAvailable(t *testing.T) {
	t.Parallel()
	cs, ns := clustertest.Client(t), clustertest.Namespace(t)
	create(t, cs, ns, claim("data", nil))
	if _, err := cs.AppsV1().Deployments(ns).Create(bg, deployment("db", 1, "data"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentAvailable(t, cs, ns, "db", 1)
	waitBound(t, cs, ns, "data")
}

func TestDeletePolicyRemovesVolume(t *testing.T) {
	t.Parallel()
	cs := clustertest.Client(t)
	ns := createNamespace(t, cs, "t-reclaim-delete-")
	create(t, cs, ns, claim("data", nil), pod("db", "data"))
	pvName := waitBound(t, cs, ns, "data").Spec.VolumeName
	writeMarker(t, pvName)

	if err := cs.CoreV1().Namespaces().Delete(bg, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "PV "+pvName+" deleted", func() (bool, error) {
		_, err := cs.CoreV1().PersistentVolumes().Get(bg, pvName, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	if _, err := os.Stat(volumeDir(pvName)); !os.IsNotExist(err) {
		t.Errorf("volume directory still there after its PV was deleted: %v", err)
	}
}

func retainClass(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	retain := corev1.PersistentVolumeReclaimRetain
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "retain-" + hex.EncodeToString(b)},
		Provisioner:       devcluster.ProvisionerName,
		ReclaimPolicy:     &retain,
		VolumeBindingMode: &wffc,
	}
	if _, err := cs.StorageV1().StorageClasses().Create(bg, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.StorageV1().StorageClasses().Delete(bg, sc.Name, metav1.DeleteOptions{}) })
	return sc.Name
}

func TestRetainPolicyKeepsVolumeForRebinding(t *testing.T) {
	t.Parallel()
	cs := clustertest.Client(t)
	class := retainClass(t, cs)
	ns := createNamespace(t, cs, "t-reclaim-retain-")
	create(t, cs, ns, claim("data", &class), pod("db", "data"))
	pvName := waitBound(t, cs, ns, "data").Spec.VolumeName
	marker := writeMarker(t, pvName)
	t.Cleanup(func() {
		_ = cs.CoreV1().PersistentVolumes().Delete(bg, pvName, metav1.DeleteOptions{})
		_ = os.RemoveAll(volumeDir(pvName))
	})

	if err := cs.CoreV1().Namespaces().Delete(bg, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNamespaceGone(t, cs, ns)
	eventually(t, 60*time.Second, "PV Released", func() (bool, error) {
		pv, err := cs.CoreV1().PersistentVolumes().Get(bg, pvName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pv.Status.Phase == corev1.VolumeReleased, fmt.Errorf("phase %s", pv.Status.Phase)
	})
	// Give the provisioner a moment in which a wrong Delete would happen.
	time.Sleep(time.Second)
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("retained volume lost its data: %q, %v", b, err)
	}

	patch := []byte(`{"spec":{"claimRef":null}}`)
	if _, err := cs.CoreV1().PersistentVolumes().Patch(bg, pvName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "PV Available", func() (bool, error) {
		pv, err := cs.CoreV1().PersistentVolumes().Get(bg, pvName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pv.Status.Phase == corev1.VolumeAvailable, fmt.Errorf("phase %s", pv.Status.Phase)
	})

	// Pre-binding by volumeName is how data is restored: left to the
	// scheduler, the pod may land on another node and get a new volume.
	ns2 := clustertest.Namespace(t)
	restored := claim("restored", &class)
	restored.Spec.VolumeName = pvName
	create(t, cs, ns2, restored, pod("db", "restored"))
	if got := waitBound(t, cs, ns2, "restored").Spec.VolumeName; got != pvName {
		t.Fatalf("new claim bound to %s, want the retained %s", got, pvName)
	}
	waitPodRunning(t, cs, ns2, "db")
	if b, err := os.ReadFile(marker); err != nil || string(b) != "kept" {
		t.Fatalf("rebound volume lost its data: %q, %v", b, err)
	}
}

// A hand-made PV is bound by the controller manager; the provisioner must
// neither provision for its claim nor touch the PV.
func TestStaticVolumeLeftToBinder(t *testing.T) {
	t.Parallel()
	cs, ns := clustertest.Client(t), clustertest.Namespace(t)
	path := t.TempDir()
	class := "manual-" + ns
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "static-" + ns},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(bg, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().PersistentVolumes().Delete(bg, pv.Name, metav1.DeleteOptions{}) })

	create(t, cs, ns, claim("data", &class))
	c := waitBound(t, cs, ns, "data")
	if c.Spec.VolumeName != pv.Name {
		t.Fatalf("claim bound to %s, want the static %s", c.Spec.VolumeName, pv.Name)
	}
	got, err := cs.CoreV1().PersistentVolumes().Get(bg, pv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if by := got.Annotations["pv.kubernetes.io/provisioned-by"]; by != "" {
		t.Errorf("static PV marked provisioned by %q", by)
	}
	if got.Spec.HostPath.Path != path {
		t.Errorf("static PV path changed to %s", got.Spec.HostPath.Path)
	}
	if _, err := os.Stat(filepath.Join(clustertest.Dir(), "volumes", "pvc-"+string(c.UID))); !os.IsNotExist(err) {
		t.Errorf("provisioner made a volume directory for a statically bound claim: %v", err)
	}
}
