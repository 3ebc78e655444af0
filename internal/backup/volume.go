package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// volumeStrategy keeps the files of the app's PVCs: a short-lived helper
// pod mounts each claim and streams a tar of it through exec, so it works
// on any cluster and storage. Restore creates `{pvc}-{color}` in the
// standby namespace and unpacks into it.
type volumeStrategy struct{ pvcs []string }

// DefaultHelperImage runs the helper pod when no pod of the app mounts
// the claim (whose image is then used: it is already on that node).
var DefaultHelperImage = "busybox:1.36"

// tarCreate archives the mounted claim. The app keeps running, so the
// copy is crash-consistent, like a power cut: GNU tar's status 1 ("file
// changed as we read it") is expected then and accepted; every other
// failure fails the backup. Databases get their consistent copy from
// their own strategy.
const tarCreate = `tar -C /data --numeric-owner -cf - . || [ $? -eq 1 ]`

func (volumeStrategy) Name() string { return "volume" }

func volumeFile(pvc string) string { return "volume/" + pvc + ".tar" }

func (s *volumeStrategy) Backup(ctx context.Context, a *App) ([]Stream, map[string]string, error) {
	var streams []Stream
	for _, pvc := range s.pvcs {
		live := a.liveName(pvc, "-")
		if _, err := a.Kube.Clientset.CoreV1().PersistentVolumeClaims(a.Namespace).Get(ctx, live, metav1.GetOptions{}); err != nil {
			return nil, nil, fmt.Errorf("volume %s of %s: %w", live, a.Name, err)
		}
		name := volumeFile(pvc)
		streams = append(streams, Stream{Name: name, Open: func(ctx context.Context) (io.ReadCloser, error) {
			px, stop, err := helperPod(ctx, a, a.Namespace, live, true)
			if err != nil {
				return nil, err
			}
			r := px.streamOut(ctx, "archive volume "+live, tarCreate, func(n int64) { a.progress(name, n) })
			return &closeAlso{ReadCloser: r, after: stop}, nil
		}})
	}
	return streams, map[string]string{"pvcs": strings.Join(s.pvcs, ",")}, nil
}

func (s *volumeStrategy) Restore(ctx context.Context, a *App, in Reader, e *StrategyEntry) error {
	e.Restore = map[string]string{}
	for _, pvc := range s.pvcs {
		target := pvc + "-" + a.Color
		if err := copyClaim(ctx, a, a.liveName(pvc, "-"), target); err != nil {
			return err
		}
		if err := s.unpack(ctx, a, in, pvc, target); err != nil {
			return err
		}
		e.Restore[pvc] = target
	}
	return nil
}

func (s *volumeStrategy) unpack(ctx context.Context, a *App, in Reader, pvc, target string) error {
	r, err := in(ctx, volumeFile(pvc))
	if err != nil {
		return err
	}
	defer r.Close()
	px, stop, err := helperPod(ctx, a, a.standbyNamespace(), target, false)
	if err != nil {
		return err
	}
	defer stop()
	return px.streamIn(ctx, "restore volume "+target, `tar -C /data --numeric-owner -xf -`, r, func(n int64) { a.progress(volumeFile(pvc), n) })
}

// Remove leaves the claims to the retired namespace, which cleanup
// deletes with everything in it.
func (s *volumeStrategy) Remove(ctx context.Context, a *App, e *StrategyEntry) (string, error) {
	return "", nil
}

// copyClaim creates the standby claim like the live one (class, size,
// access modes), once.
func copyClaim(ctx context.Context, a *App, live, target string) error {
	pvcs := a.Kube.Clientset.CoreV1().PersistentVolumeClaims
	src, err := pvcs(a.Namespace).Get(ctx, live, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read volume %s: %w", live, err)
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: target, Labels: src.Labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: src.Spec.AccessModes, StorageClassName: src.Spec.StorageClassName,
			Resources:  corev1.VolumeResourceRequirements{Requests: src.Spec.Resources.Requests},
			VolumeMode: src.Spec.VolumeMode,
		},
	}
	_, err = pvcs(a.standbyNamespace()).Create(ctx, claim, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create volume %s: %w", target, err)
	}
	return nil
}

// helperPod starts a pod mounting claim at /data and returns how to exec
// in it and how to delete it. It runs on the node of a pod already using
// the claim (a ReadWriteOnce volume can be mounted only there) with that
// pod's image and tolerations.
func helperPod(ctx context.Context, a *App, ns, claim string, readOnly bool) (podExec, func(), error) {
	pods := a.Kube.Clientset.CoreV1().Pods(ns)
	spec := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		// Bounds a helper a crashed run left behind.
		ActiveDeadlineSeconds: ptr(int64(6 * 3600)),
		Containers: []corev1.Container{{
			Name: "helper", Image: DefaultHelperImage, ImagePullPolicy: corev1.PullIfNotPresent,
			Command:      []string{"sleep", "21600"},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: readOnly}},
		}},
		Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}}}},
	}
	like(ctx, a, &spec)
	name := "wild-backup-" + claim
	if len(name) > 63 {
		name = name[:63]
	}
	_ = pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	if err := waitPodGone(ctx, a, ns, name); err != nil {
		return podExec{}, nil, err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"wild.cloud/backup-helper": "true"}}, Spec: spec}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return podExec{}, nil, fmt.Errorf("start the helper pod for volume %s: %w", claim, err)
	}
	stop := func() {
		_ = pods.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	}
	if err := waitPodRunning(ctx, a, ns, name); err != nil {
		stop()
		return podExec{}, nil, fmt.Errorf("helper pod for volume %s: %w", claim, err)
	}
	return podExec{kube: a.Kube, namespace: ns, pod: name, container: "helper"}, stop, nil
}

// like copies node, image and tolerations from a live pod of the app,
// when there is one, onto the helper.
func like(ctx context.Context, a *App, spec *corev1.PodSpec) {
	pods, err := a.Kube.Clientset.CoreV1().Pods(a.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	claims := map[string]bool{}
	for _, p := range spec.Volumes {
		claims[p.PersistentVolumeClaim.ClaimName] = true
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || len(p.Spec.Containers) == 0 || p.Labels["wild.cloud/backup-helper"] != "" {
			continue
		}
		spec.NodeSelector = p.Spec.NodeSelector
		spec.Tolerations = p.Spec.Tolerations
		spec.Containers[0].Image = p.Spec.Containers[0].Image
		spec.Containers[0].ImagePullPolicy = p.Spec.Containers[0].ImagePullPolicy
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && claims[v.PersistentVolumeClaim.ClaimName] {
				spec.NodeName = p.Spec.NodeName
			}
		}
		if spec.NodeName != "" {
			return
		}
	}
}

func waitPodRunning(ctx context.Context, a *App, ns, name string) error {
	return poll(ctx, 3*time.Minute, func() (bool, error) {
		p, err := a.Kube.Clientset.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("it ended (%s): %s", p.Status.Phase, p.Status.Message)
		}
		return p.Status.Phase == corev1.PodRunning, nil
	})
}

func waitPodGone(ctx context.Context, a *App, ns, name string) error {
	return poll(ctx, time.Minute, func() (bool, error) {
		_, err := a.Kube.Clientset.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func poll(ctx context.Context, limit time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func ptr[T any](v T) *T { return &v }

// closeAlso runs after once its reader is closed.
type closeAlso struct {
	io.ReadCloser
	after func()
}

func (c *closeAlso) Close() error {
	err := c.ReadCloser.Close()
	if c.after != nil {
		c.after()
		c.after = nil
	}
	return err
}

// sumFiles is the sha256 of every regular file in a claim, by path
// relative to its root.
const sumFiles = `cd /data && find . -type f -exec sha256sum {} +`

// restoredSums asks a helper pod on claim for its files' checksums.
func restoredSums(ctx context.Context, a *App, claim string) (map[string]string, error) {
	px, stop, err := helperPod(ctx, a, a.standbyNamespace(), claim, true)
	if err != nil {
		return nil, err
	}
	defer stop()
	out, err := px.run(ctx, sumFiles)
	if err != nil {
		return nil, fmt.Errorf("checksum the files of %s: %w", claim, err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if sum, name, ok := strings.Cut(line, "  "); ok {
			sums[cleanPath(name)] = sum
		}
	}
	return sums, nil
}

// archivedSums reads the claim's tar from the snapshot and checksums its
// regular files, as the drill's reference for what a restore must hold.
func archivedSums(ctx context.Context, in Reader, pvc string) (map[string]string, error) {
	r, err := in(ctx, volumeFile(pvc))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	sums := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return sums, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the archive of %s: %w", pvc, err)
		}
		if h.Typeflag == tar.TypeLink {
			sums[cleanPath(h.Name)] = sums[cleanPath(h.Linkname)]
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		hs := sha256.New()
		if _, err := io.Copy(hs, tr); err != nil {
			return nil, fmt.Errorf("read the archive of %s: %w", pvc, err)
		}
		sums[cleanPath(h.Name)] = hex.EncodeToString(hs.Sum(nil))
	}
}

func cleanPath(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }
