package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// kstatus statuses, re-exported so callers need not import kstatus.
const (
	StatusCurrent     = string(status.CurrentStatus)
	StatusInProgress  = string(status.InProgressStatus)
	StatusFailed      = string(status.FailedStatus)
	StatusTerminating = string(status.TerminatingStatus)
	StatusNotFound    = string(status.NotFoundStatus)
	StatusUnknown     = string(status.UnknownStatus)
)

// ResourceStatus is the kstatus of one object, plus why it is not ready.
type ResourceStatus struct {
	Ref     ObjectRef
	Status  string
	Message string
	// Reasons explain a workload that is not ready from its pods, e.g.
	// "pod web-1: Pending: Unschedulable: 0/3 nodes are available: ...".
	// Filled in only when Wait gives up.
	Reasons []string
}

func (s ResourceStatus) String() string {
	out := s.Ref.String() + " is " + s.Status
	if s.Message != "" {
		out += ": " + s.Message
	}
	if len(s.Reasons) > 0 {
		out += " (" + strings.Join(s.Reasons, "; ") + ")"
	}
	return out
}

// WaitTimeoutError lists the resources that were not Current in time.
type WaitTimeoutError struct {
	Timeout  time.Duration
	NotReady []ResourceStatus
}

func (e *WaitTimeoutError) Error() string {
	parts := make([]string, len(e.NotReady))
	for i, s := range e.NotReady {
		parts[i] = s.String()
	}
	return fmt.Sprintf("not ready after %s: %s", e.Timeout, strings.Join(parts, "; "))
}

// waitInterval is how often Wait polls; short because the local cluster
// answers in milliseconds and a deploy should finish as soon as it can.
const waitInterval = 500 * time.Millisecond

// Wait polls the objects until kstatus says all are Current. progress, if
// not nil, receives every poll's statuses. On timeout it returns a
// *WaitTimeoutError naming each resource not ready and, for workloads,
// the waiting reasons of their pods.
func (c *Client) Wait(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration, progress func([]ResourceStatus)) error {
	if len(objs) == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		statuses, err := c.statuses(ctx, objs)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(statuses)
		}
		notReady := notCurrent(statuses)
		if len(notReady) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return c.timeoutError(ctx, objs, notReady, timeout)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return c.timeoutError(context.Background(), objs, notReady, timeout)
			}
			return ctx.Err()
		case <-time.After(waitInterval):
		}
	}
}

// Ready reads the objects' statuses once and reports whether all are
// Current, without Wait's explanation of what is not: for a caller that
// only warns (a dependency under --no-wait), that explanation costs
// requests per pod.
//
// Deployed tells whether the objects show the app deployed under inv:
// each exists, is not being deleted and carries inv's labels, which Apply
// stamps on everything it applies. That is what the app's inventory would
// tell, so a caller that gets true need not read it. Because a deploy
// goes on or refuses by it, the objects are read from etcd (a quorum
// read), not from the API server's watch cache, which could still show
// a dependency deleted a moment ago.
func (c *Client) Ready(ctx context.Context, objs []*unstructured.Unstructured, inv Inventory) (ready, deployed bool, err error) {
	statuses, lives, err := c.readStatuses(ctx, objs)
	if err != nil {
		return false, false, err
	}
	deployed = len(objs) > 0
	for _, live := range lives {
		deployed = deployed && live != nil && live.GetDeletionTimestamp() == nil && isSubset(inv.Labels(), live.GetLabels())
	}
	return len(notCurrent(statuses)) == 0, deployed, nil
}

func notCurrent(statuses []ResourceStatus) []ResourceStatus {
	var out []ResourceStatus
	for _, s := range statuses {
		if s.Status != StatusCurrent {
			out = append(out, s)
		}
	}
	return out
}

func (c *Client) timeoutError(ctx context.Context, objs []*unstructured.Unstructured, notReady []ResourceStatus, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	byRef := map[ObjectRef]*unstructured.Unstructured{}
	for _, o := range objs {
		byRef[RefOf(o)] = o
	}
	for i := range notReady {
		notReady[i].Reasons = c.podReasons(ctx, byRef[notReady[i].Ref])
	}
	return &WaitTimeoutError{Timeout: timeout, NotReady: notReady}
}

// statuses fetches every object (a quorum read) and computes its kstatus.
func (c *Client) statuses(ctx context.Context, objs []*unstructured.Unstructured) ([]ResourceStatus, error) {
	statuses, _, err := c.readStatuses(ctx, objs)
	return statuses, err
}

// readStatuses is statuses with the objects read, nil where one does not
// exist.
func (c *Client) readStatuses(ctx context.Context, objs []*unstructured.Unstructured) ([]ResourceStatus, []*unstructured.Unstructured, error) {
	out := make([]ResourceStatus, len(objs))
	lives := make([]*unstructured.Unstructured, len(objs))
	errs := make([]error, len(objs))
	forEach(len(objs), 0, func(i int) {
		out[i], lives[i], errs[i] = c.statusOf(ctx, RefOf(objs[i]))
	})
	return out, lives, errors.Join(errs...)
}

func (c *Client) statusOf(ctx context.Context, ref ObjectRef) (ResourceStatus, *unstructured.Unstructured, error) {
	rs := ResourceStatus{Ref: ref}
	ri, err := c.resource(ref)
	if err != nil {
		return rs, nil, err
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		rs.Status, rs.Message = StatusNotFound, "does not exist"
		return rs, nil, nil
	}
	if err != nil {
		return rs, nil, fmt.Errorf("reading %s: %w", ref, c.wrap(err))
	}
	return computeStatus(ref, live), live, nil
}

// podReasons explains a not-ready workload from its pods' states.
func (c *Client) podReasons(ctx context.Context, obj *unstructured.Unstructured) []string {
	pods, err := c.podsOf(ctx, obj)
	if err != nil {
		return []string{"cannot list its pods: " + err.Error()}
	}
	var out []string
	for _, p := range pods {
		if ready, reason := podReadiness(&p); !ready {
			out = append(out, "pod "+p.Name+": "+reason)
		}
		if len(out) == 3 {
			break
		}
	}
	if len(out) == 0 && obj != nil && isWorkload(obj.GetKind()) && len(pods) == 0 {
		out = append(out, "no pods exist yet")
	}
	return out
}

// ReadinessSet is what a readiness warning needs to read of objs: their
// workloads, whose pods become ready only once their volumes are bound,
// their config exists and their namespace is active; all of objs when
// there is no workload. For a database app that is one read instead of
// four (namespace, Service, PVC, Deployment), in every deploy of each app
// that depends on it.
func ReadinessSet(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if isWorkload(o.GetKind()) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return objs
	}
	return out
}

func isWorkload(kind string) bool {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		return true
	}
	return false
}

// podsOf lists the pods selected by a workload's spec.selector.
func (c *Client) podsOf(ctx context.Context, obj *unstructured.Unstructured) ([]corev1.Pod, error) {
	if obj == nil || !isWorkload(obj.GetKind()) {
		return nil, nil
	}
	raw, ok, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	sel := &metav1.LabelSelector{}
	if ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, sel); err != nil {
			return nil, err
		}
	} else if obj.GetKind() == "Job" {
		// Jobs usually get their selector from the server.
		sel.MatchLabels = map[string]string{"job-name": obj.GetName()}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	list, err := c.Clientset.CoreV1().Pods(obj.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, c.wrap(err)
	}
	return list.Items, nil
}

// podReadiness says whether a pod is ready and, if not, the most specific
// reason known: a container's waiting or failure reason, the scheduler's
// message, or the phase.
func podReadiness(p *corev1.Pod) (bool, string) {
	if p.DeletionTimestamp != nil {
		return false, "Terminating"
	}
	if p.Status.Phase == corev1.PodSucceeded {
		return true, "Completed"
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
				return false, joinReason(fmt.Sprintf("container %s waiting: %s", cs.Name, w.Reason), w.Message)
			}
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				return false, joinReason(fmt.Sprintf("container %s terminated: %s (exit %d)", cs.Name, t.Reason, t.ExitCode), t.Message)
			}
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
			return false, joinReason(string(p.Status.Phase)+": "+orDefault(cond.Reason, "not scheduled"), cond.Message)
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			if cond.Status == corev1.ConditionTrue {
				return true, "Ready"
			}
			return false, joinReason(string(p.Status.Phase)+": not ready", orDefault(cond.Message, cond.Reason))
		}
	}
	return false, orDefault(string(p.Status.Phase), "Unknown")
}

func joinReason(reason, msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return reason
	}
	return reason + ": " + msg
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
