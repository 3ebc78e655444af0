package clustertest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReadyPod waits up to 3 minutes for a Ready pod matching selector that is
// not being deleted, and returns it.
func ReadyPod(t testing.TB, ns, selector string) *corev1.Pod {
	t.Helper()
	cs := Client(t)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		for i := range pods.Items {
			if p := &pods.Items[i]; p.DeletionTimestamp == nil && podReady(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Ready pod %q in %s after 3m: %+v", selector, ns, pods.Items)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// JobSucceeds waits up to within for the Job to succeed (it may not exist
// yet: a deploy creates it), and fails with its pods' state if it does not.
func JobSucceeds(t testing.TB, ns, name string, within time.Duration) {
	t.Helper()
	cs := Client(t)
	deadline := time.Now().Add(within)
	for {
		job, err := cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if err == nil && job.Status.Succeeded >= 1 {
			return
		}
		if time.Now().After(deadline) {
			pods, _ := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=" + name})
			t.Fatalf("Job %s/%s did not succeed in %s: %+v; pods %+v", ns, name, within, job.Status, pods.Items)
		}
		time.Sleep(time.Second)
	}
}
