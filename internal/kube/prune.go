package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// prune deletes previous-inventory objects that are not desired anymore
// and still carry all the app's labels, in reverse apply order.
func (c *Client) prune(ctx context.Context, prev []invEntry, desired []*unstructured.Unstructured, opts ApplyOptions) ([]Change, error) {
	want := map[string]bool{}
	for _, o := range desired {
		want[RefOf(o).Key()] = true
	}
	var stale []ObjectRef
	for _, e := range prev {
		if !want[e.Ref.Key()] && !(e.Ref.Kind == "Namespace" && e.Ref.Group == "") {
			stale = append(stale, e.Ref)
		}
	}
	sort.SliceStable(stale, func(i, j int) bool { return kindRank(stale[i].Kind) > kindRank(stale[j].Kind) })
	var changes []Change
	var errs []error
	for _, ref := range stale {
		ch, err := c.pruneOne(ctx, ref, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	return changes, errors.Join(errs...)
}

func (c *Client) pruneOne(ctx context.Context, ref ObjectRef, opts ApplyOptions) (*Change, error) {
	ri, err := c.resource(ref)
	if err != nil {
		// The kind itself is gone (its CRD was removed): nothing to delete.
		if errors.Is(err, errUnknownKind) {
			return nil, nil
		}
		return nil, err
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s before pruning it: %w", ref, c.wrap(err))
	}
	ch := &Change{Ref: ref, DryRun: opts.DryRun}
	if !isSubset(opts.Inventory.Labels(), live.GetLabels()) {
		ch.Action = ActionSkipped
		ch.Message = "not pruned: it no longer carries this app's labels"
		return ch, nil
	}
	ch.Action = ActionPruned
	bg := metav1.DeletePropagationBackground
	uid := live.GetUID()
	do := metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}}
	if opts.DryRun {
		do.DryRun = []string{metav1.DryRunAll}
	}
	if err := ri.Delete(ctx, ref.Name, do); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("pruning %s: %w", ref, c.wrap(err))
	}
	return ch, nil
}

// DeleteInventory deletes every object recorded for the app that still
// carries its labels, then the inventory itself. `wild app delete` calls it
// besides deleting the namespace, so cluster-scoped objects go too.
func (c *Client) DeleteInventory(ctx context.Context, inv Inventory, dryRun bool) (*Result, error) {
	if err := inv.validate(); err != nil {
		return nil, err
	}
	prev, err := c.readInventory(ctx, inv)
	if err != nil {
		return nil, err
	}
	opts := ApplyOptions{DryRun: dryRun, Inventory: inv}
	res := &Result{DryRun: dryRun}
	res.Changes, err = c.prune(ctx, prev, nil, opts)
	if err != nil || dryRun {
		return res, err
	}
	return res, c.deleteInventory(ctx, inv)
}
