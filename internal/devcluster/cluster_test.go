package devcluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
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

func TestMain(m *testing.M) {
	if os.Getenv(devcluster.HogEnv) != "" {
		devcluster.HogMemory()
	}
	clustertest.Main(m)
}

var bg = context.Background()

// eventually polls cond until it reports done, failing the test with the
// last error after timeout. Timeouts are generous: they only bound how long
// a broken cluster takes to fail, they are not performance assertions.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		done, err := cond()
		if done {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func labels(app string) map[string]string { return map[string]string{"app": app} }

func podSpec(claim string) corev1.PodSpec {
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}
	if claim != "" {
		spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
		}}}
	}
	return spec
}

func deployment(name string, replicas int32, claim string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(name)},
				Spec:       podSpec(claim),
			},
		},
	}
}

func claim(name string, class *string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("2Gi"),
			}},
		},
	}
}

func pod(name, claim string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: podSpec(claim)}
}

func waitDeploymentAvailable(t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	eventually(t, 60*time.Second, "deployment "+name+" Available", func() (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(bg, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == replicas {
				return true, nil
			}
		}
		return false, fmt.Errorf("available %d/%d, conditions %v", d.Status.AvailableReplicas, replicas, d.Status.Conditions)
	})
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	t.Parallel()
	cs, ns := clustertest.Client(t), clustertest.Namespace(t)
	if _, err := cs.AppsV1().Deployments(ns).Create(bg, deployment("web", 2, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentAvailable(t, cs, ns, "web", 2)

	pods, err := cs.CoreV1().Pods(ns).List(bg, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
			t.Errorf("pod %s: phase %s on node %q, want Running on a node", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
	}
}

// Job pods complete through kwok's default "pod-complete" stage, which
// moves Running pods owned by a Job to Succeeded; no configuration needed.
func TestJobCompletes(t *testing.T) {
	t.Parallel()
	cs, ns := clustertest.Client(t), clustertest.Namespace(t)
	spec := podSpec("")
	spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "db-init"},
		Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(bg, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "job Complete", func() (bool, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(bg, "db-init", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 1, fmt.Errorf("succeeded=%d", j.Status.Succeeded)
			}
		}
		return false, fmt.Errorf("conditions %v", j.Status.Conditions)
	})
}

func createNamespace(t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(bg, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "default ServiceAccount", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns.Name).Get(bg, "default", metav1.GetOptions{})
		return err == nil, err
	})
	return ns.Name
}

func waitNamespaceGone(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	eventually(t, 90*time.Second, "namespace "+ns+" to be deleted", func() (bool, error) {
		n, err := cs.CoreV1().Namespaces().Get(bg, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return false, fmt.Errorf("phase %s, conditions %v", n.Status.Phase, n.Status.Conditions)
	})
}

func TestNamespaceDeletionCompletes(t *testing.T) {
	t.Parallel()
	cs := clustertest.Client(t)
	ns := createNamespace(t, cs, "t-delete-")
	if _, err := cs.AppsV1().Deployments(ns).Create(bg, deployment("web", 1, ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"a": "b"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(bg, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeploymentAvailable(t, cs, ns, "web", 1)

	if err := cs.CoreV1().Namespaces().Delete(bg, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNamespaceGone(t, cs, ns)
}

func TestFinalizerKeepsNamespaceTerminating(t *testing.T) {
	t.Parallel()
	cs := clustertest.Client(t)
	ns := createNamespace(t, cs, "t-stuck-")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"wild.cloud/test-hold"}}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(bg, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(bg, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace controller reports what blocks it; once it does, it
	// has tried and the namespace must still be there, Terminating.
	eventually(t, 60*time.Second, "NamespaceFinalizersRemaining condition", func() (bool, error) {
		n, err := cs.CoreV1().Namespaces().Get(bg, ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NamespaceFinalizersRemaining && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, fmt.Errorf("phase %s, conditions %v", n.Status.Phase, n.Status.Conditions)
	})
	time.Sleep(2 * time.Second)
	n, err := cs.CoreV1().Namespaces().Get(bg, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("finalizer-blocked namespace: %v", err)
	}
	if n.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("phase %s, want Terminating", n.Status.Phase)
	}

	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(bg, "held", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNamespaceGone(t, cs, ns)
}

// The API server stays down for a while, as in a long fault test: its
// clients back off meanwhile, yet once it is started again the cluster
// must work at once (a new namespace gets its ServiceAccount promptly).
func TestAPIServerStopAndStart(t *testing.T) {
	cs := clustertest.Client(t)
	clustertest.StopAPIServer(t)
	ctx, cancel := context.WithTimeout(bg, 5*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Fatal("API server answered while stopped")
	}
	time.Sleep(10 * time.Second)
	clustertest.StartAPIServer(t)
	s, err := devcluster.Status(clustertest.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Components {
		if !c.Running {
			t.Errorf("%s not running after StartAPIServer", c.Name)
		}
	}
	start := time.Now()
	clustertest.Namespace(t)
	t.Logf("first namespace usable %s after the restart", time.Since(start))
}

// TestStorageClassIsDefault checks the class Up creates.
func TestStorageClassIsDefault(t *testing.T) {
	sc, err := clustertest.Client(t).StorageV1().StorageClasses().Get(bg, devcluster.StorageClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("class %s is not the default: %v", sc.Name, sc.Annotations)
	}
	if sc.ReclaimPolicy == nil || *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("reclaim policy %v, want Delete", sc.ReclaimPolicy)
	}
	if sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		t.Errorf("binding mode %v, want WaitForFirstConsumer", sc.VolumeBindingMode)
	}
	if sc.Provisioner != devcluster.ProvisionerName {
		t.Errorf("provisioner %s, want %s", sc.Provisioner, devcluster.ProvisionerName)
	}
}

func volumeDir(pv string) string { return filepath.Join(clustertest.Dir(), "volumes", pv) }

func writeMarker(t *testing.T, pv string) string {
	t.Helper()
	p := filepath.Join(volumeDir(pv), "marker.txt")
	if err := os.WriteFile(p, []byte("kept"), 0o644); err != nil {
		t.Fatalf("write into the volume: %v", err)
	}
	return p
}
