package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
)

// ClearOptions tunes ClearTerminating. Zero values take the spec's defaults
// (3 attempts, 5 seconds apart).
type ClearOptions struct {
	Attempts int
	Wait     time.Duration
	// Progress receives one line per action taken, for the operation record.
	Progress func(string)
}

// leftover is an object still inside a Terminating namespace.
type leftover struct {
	ref        ObjectRef
	resource   schema.GroupVersionResource
	finalizers []string
	deleting   bool
}

func (l leftover) String() string {
	if len(l.finalizers) == 0 {
		return l.ref.String()
	}
	return fmt.Sprintf("%s (finalizer %s)", l.ref, strings.Join(l.finalizers, ", "))
}

// ClearTerminating gets a namespace stuck in Terminating to NotFound, so the
// user never needs kubectl (the "stuck" state, edge case 1 in lifecycle/doc.go).
//
// Each attempt removes the finalizers of the objects left inside and deletes
// the ones not yet being deleted, then calls the namespace finalize
// subresource once no content is left, and waits. The namespace finalizer
// is forced with content still present only on the last attempt, because
// doing so earlier leaves those objects in etcd, where they reappear when
// the namespace is created again. An Active or missing namespace is left
// alone. The final error names every object and finalizer still blocking.
func (c *Client) ClearTerminating(ctx context.Context, ns string, opts ClearOptions) error {
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Wait <= 0 {
		opts.Wait = 5 * time.Second
	}
	say := opts.Progress
	if say == nil {
		say = func(string) {}
	}
	var remaining []leftover
	for attempt := 1; attempt <= opts.Attempts; attempt++ {
		phase, err := c.NamespacePhase(ctx, ns)
		if err != nil || phase != PhaseTerminating {
			return err
		}
		remaining, err = c.unblockContent(ctx, ns, say)
		if err != nil {
			return err
		}
		last := attempt == opts.Attempts
		if len(remaining) == 0 || last {
			if len(remaining) > 0 {
				say(fmt.Sprintf("forcing namespace %s finalize with objects left: %s", ns, joinLeftovers(remaining)))
			}
			if err := c.finalizeNamespace(ctx, ns, say); err != nil {
				return err
			}
		}
		gone, err := c.waitNamespaceGone(ctx, ns, opts.Wait)
		if err != nil || gone {
			return err
		}
		say(fmt.Sprintf("namespace %s still Terminating after attempt %d of %d", ns, attempt, opts.Attempts))
	}
	return c.stillBlocked(ctx, ns, opts.Attempts, remaining)
}

// unblockContent strips finalizers from, and deletes, what is left in the
// namespace, and returns what is still there afterwards.
func (c *Client) unblockContent(ctx context.Context, ns string, say func(string)) ([]leftover, error) {
	left, err := c.namespaceContent(ctx, ns)
	if err != nil || len(left) == 0 {
		return left, err
	}
	zero := int64(0)
	bg := metav1.DeletePropagationBackground
	for _, l := range left {
		ri := c.Dynamic.Resource(l.resource).Namespace(ns)
		if len(l.finalizers) > 0 {
			patch := []byte(`{"metadata":{"finalizers":null}}`)
			if _, err := ri.Patch(ctx, l.ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("removing finalizers from %s: %w", l.ref, c.wrap(err))
			}
			say(fmt.Sprintf("removed finalizer %s from %s", strings.Join(l.finalizers, ", "), l.ref))
		}
		if !l.deleting {
			err := ri.Delete(ctx, l.ref.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, PropagationPolicy: &bg})
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("deleting %s: %w", l.ref, c.wrap(err))
			}
		}
	}
	return c.namespaceContent(ctx, ns)
}

// namespaceContent lists every object of every listable namespaced kind in
// the namespace. Kinds whose discovery fails are skipped: the namespace
// controller reports those in the namespace conditions, which stillBlocked
// includes in its message.
func (c *Client) namespaceContent(ctx context.Context, ns string) ([]leftover, error) {
	c.Discovery.Invalidate()
	lists, err := c.Discovery.ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovering resource kinds: %w", c.wrap(err))
	}
	var (
		mu   sync.Mutex
		out  []leftover
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, defaultConcurrent)
	)
	for _, list := range lists {
		gv, _ := schema.ParseGroupVersion(list.GroupVersion)
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerbs(r.Verbs, "list", "delete") || r.Kind == "Event" {
				continue
			}
			gvr := gv.WithResource(r.Name)
			kind := r.Kind
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				items, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) && !apierrors.IsForbidden(err) {
						errs = append(errs, c.wrap(err))
					}
					return
				}
				for _, it := range items.Items {
					out = append(out, leftover{
						ref:        ObjectRef{Group: gv.Group, Version: gv.Version, Kind: kind, Namespace: ns, Name: it.GetName()},
						resource:   gvr,
						finalizers: it.GetFinalizers(),
						deleting:   it.GetDeletionTimestamp() != nil,
					})
				}
			}()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("listing what is left in namespace %s: %w", ns, errs[0])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ref.String() < out[j].ref.String() })
	return out, nil
}

func hasVerbs(have []string, want ...string) bool {
	n := 0
	for _, w := range want {
		for _, h := range have {
			if h == w {
				n++
				break
			}
		}
	}
	return n == len(want)
}

// finalizeNamespace empties spec.finalizers through the finalize
// subresource and drops any metadata.finalizers on the namespace itself.
func (c *Client) finalizeNamespace(ctx context.Context, ns string, say func(string)) error {
	obj, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", ns, c.wrap(err))
	}
	if len(obj.Finalizers) > 0 {
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := c.Clientset.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing finalizers of namespace %s: %w", ns, c.wrap(err))
		}
		say(fmt.Sprintf("removed finalizer %s from namespace %s", strings.Join(obj.Finalizers, ", "), ns))
	}
	if len(obj.Spec.Finalizers) == 0 {
		return nil
	}
	names := make([]string, 0, len(obj.Spec.Finalizers))
	for _, f := range obj.Spec.Finalizers {
		names = append(names, string(f))
	}
	obj.Spec.Finalizers = []corev1.FinalizerName{}
	if _, err := c.Clientset.CoreV1().Namespaces().Finalize(ctx, obj, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing namespace %s: %w", ns, c.wrap(err))
	}
	say(fmt.Sprintf("finalized namespace %s (removed %s)", ns, strings.Join(names, ", ")))
	return nil
}

func (c *Client) stillBlocked(ctx context.Context, ns string, attempts int, remaining []leftover) error {
	var why []string
	for _, l := range remaining {
		why = append(why, l.String())
	}
	if obj, err := c.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		for _, f := range obj.Spec.Finalizers {
			why = append(why, "namespace finalizer "+string(f))
		}
		for _, f := range obj.Finalizers {
			why = append(why, "namespace finalizer "+f)
		}
		for _, cond := range obj.Status.Conditions {
			if cond.Status == corev1.ConditionTrue {
				why = append(why, fmt.Sprintf("%s: %s", cond.Type, cond.Message))
			}
		}
	}
	if len(why) == 0 {
		why = append(why, "nothing visible; the namespace controller may not be running")
	}
	return fmt.Errorf("namespace %s is still Terminating after %d attempts; blocked by: %s", ns, attempts, strings.Join(why, "; "))
}

func joinLeftovers(ls []leftover) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}
