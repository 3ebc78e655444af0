package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

// Namespace phases as reported by NamespacePhase.
const (
	PhaseActive      = "Active"
	PhaseTerminating = "Terminating"
	PhaseNotFound    = "NotFound"
)

// NamespacePhase returns "Active", "Terminating" or "NotFound".
func (c *Client) NamespacePhase(ctx context.Context, ns string) (string, error) {
	obj, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return PhaseNotFound, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading namespace %s: %w", ns, c.wrap(err))
	}
	return phaseOf(obj), nil
}

// IsNamespaceTerminating reports whether err is the API server refusing a
// write because the object's namespace is being deleted.
func IsNamespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}

func phaseOf(ns *corev1.Namespace) string {
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return PhaseTerminating
	}
	return PhaseActive
}

// Owner identifies who a namespace belongs to.
type Owner struct {
	Instance   string // human name, for messages
	InstanceID string // stable identity; compared for ownership
	App        string
}

// OwnershipError refuses to deploy into a namespace that another instance
// or another app owns.
type OwnershipError struct {
	Namespace string
	Want      Owner
	Have      Owner
}

func (e *OwnershipError) Error() string { return e.problem().Error() }

func (e *OwnershipError) foreign() string {
	have := e.Have.Instance
	switch {
	case have == "":
		have = "id " + e.Have.InstanceID
	case have == e.Want.Instance:
		// Two instances of one name (a data dir set up again, a second
		// machine): only the id tells them apart.
		have = fmt.Sprintf("another %s, id %s", have, e.Have.InstanceID)
	}
	return fmt.Sprintf("namespace %s belongs to another Wild Cloud instance (%s, app %s); deploying app %s of instance %s there would overwrite that instance's objects; use another namespace in the app's kustomization or delete the app from that instance first",
		e.Namespace, have, e.Have.App, e.Want.App, e.Want.Instance)
}

// Unwrap returns the typed problem with its advice.
func (e *OwnershipError) Unwrap() error { return e.problem() }

func (e *OwnershipError) problem() *problem.Error {
	if e.Have.InstanceID != e.Want.InstanceID {
		return problem.New(problem.Conflict, e.foreign())
	}
	return problem.New(problem.Conflict, fmt.Sprintf("namespace %s belongs to app %s of this instance; two apps sharing a namespace would prune and overwrite each other", e.Namespace, e.Have.App)).
		With("app.delete", fmt.Sprintf("give app %s its own namespace in its kustomization or delete %s first", e.Want.App, e.Have.App), "app", e.Have.App)
}

// EnsureNamespace creates the namespace or stamps ownership annotations on
// an existing unowned one. It refuses (with *OwnershipError) a namespace
// whose annotations name another instance id or another app, and refuses
// a Terminating namespace (call ClearTerminating first).
func (c *Client) EnsureNamespace(ctx context.Context, ns string, owner Owner, dryRun bool) (created bool, err error) {
	if names.IsReservedNamespace(ns) {
		return false, fmt.Errorf("app %s may not deploy into the system namespace %s; set its own namespace in the app's kustomization", owner.App, ns)
	}
	live, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		created = true
	case err != nil:
		return false, fmt.Errorf("reading namespace %s: %w", ns, c.wrap(err))
	case live.DeletionTimestamp != nil:
		return false, fmt.Errorf("namespace %s is Terminating; it must be cleared before deploying", ns)
	default:
		if err := checkOwner(ns, live.Annotations, owner); err != nil {
			return false, err
		}
		if ownedBy(live, owner) {
			return false, nil
		}
	}
	if dryRun {
		return created, nil
	}
	ac := corev1ac.Namespace(ns).
		WithAnnotations(map[string]string{AnnotationInstID: owner.InstanceID, AnnotationInst: owner.Instance, AnnotationApp: owner.App}).
		WithLabels(map[string]string{LabelApp: owner.App, LabelInstanceID: owner.InstanceID})
	_, err = c.Clientset.CoreV1().Namespaces().Apply(ctx, ac, metav1.ApplyOptions{FieldManager: OwnershipFieldManager, Force: true})
	if err != nil {
		return false, fmt.Errorf("creating namespace %s: %w", ns, c.wrap(err))
	}
	return created, nil
}

func checkOwner(ns string, ann map[string]string, want Owner) error {
	have := Owner{Instance: ann[AnnotationInst], InstanceID: ann[AnnotationInstID], App: ann[AnnotationApp]}
	if have.InstanceID != "" && have.InstanceID != want.InstanceID {
		return &OwnershipError{Namespace: ns, Want: want, Have: have}
	}
	if have.App != "" && have.App != want.App {
		return &OwnershipError{Namespace: ns, Want: want, Have: have}
	}
	return nil
}

func ownedBy(ns *corev1.Namespace, o Owner) bool {
	a, l := ns.Annotations, ns.Labels
	return a[AnnotationInstID] == o.InstanceID && a[AnnotationApp] == o.App && a[AnnotationInst] == o.Instance &&
		l[LabelApp] == o.App && l[LabelInstanceID] == o.InstanceID
}

// DeleteNamespace deletes a namespace and waits up to wait for it to be
// gone. gone is false when it is still Terminating after wait; the caller
// may then ClearTerminating. A namespace that does not exist counts as gone.
func (c *Client) DeleteNamespace(ctx context.Context, ns string, wait time.Duration) (gone bool, err error) {
	bg := metav1.DeletePropagationBackground
	err = c.Clientset.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("deleting namespace %s: %w", ns, c.wrap(err))
	}
	return c.waitNamespaceGone(ctx, ns, wait)
}

func (c *Client) waitNamespaceGone(ctx context.Context, ns string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		phase, err := c.NamespacePhase(ctx, ns)
		if err != nil {
			return false, err
		}
		if phase == PhaseNotFound {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
