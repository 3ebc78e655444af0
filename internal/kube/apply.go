package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wild-cloud/wild/internal/change"
	"github.com/wild-cloud/wild/internal/problem"
)

// The apply actions, from the shared change vocabulary.
const (
	ActionCreated    = change.Created
	ActionConfigured = change.Configured
	ActionUnchanged  = change.Unchanged
	ActionPruned     = change.Pruned
	ActionRecreated  = change.Recreated
	ActionSkipped    = change.Skipped
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// DryRun asks the server to validate every change without persisting it.
	DryRun bool
	// Prune deletes objects of the previous inventory that are gone from the
	// manifests and still carry the app's labels. Namespaces are never
	// pruned: removing one is `wild app delete`'s job.
	Prune bool
	// Inventory names the app; required.
	Inventory Inventory
	// WaitTimeout bounds waiting for new CRDs to be established and for a
	// recreated Job to be gone. Default 60s.
	WaitTimeout time.Duration
	// Concurrency bounds parallel requests. Default 8.
	Concurrency int
}

// Apply server-side applies objs with FieldManager, forcing conflicts, in
// two stages (CRDs and Namespaces first, then the rest). Every object gets
// the inventory labels. A Job whose template changed is deleted and
// recreated; an unchanged (e.g. completed) Job is left alone. The applied
// set is recorded in the app's inventory, and with Prune, objects of the
// previous inventory that are no longer wanted are deleted. Prune is
// skipped when any apply failed, so a partial deploy never deletes.
//
// objs are not modified. On error the returned Result still lists what was
// done, for the operation record.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (*Result, error) {
	if err := opts.Inventory.validate(); err != nil {
		return nil, err
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 60 * time.Second
	}
	desired, err := prepare(objs, opts.Inventory)
	if err != nil {
		return nil, err
	}
	// The inventory is read while the first objects are fetched: a no-op
	// deploy is bound by round trips. Nothing is written before it is in.
	inv := c.readInventoryAsync(ctx, opts.Inventory)
	res := &Result{DryRun: opts.DryRun}
	var entries []invEntry
	var errs []error
	defs, rest := splitStages(desired)
	for i, stage := range [][]*unstructured.Unstructured{defs, rest} {
		changes, stageEntries, err := c.applyStage(ctx, stage, inv, opts)
		res.Changes = append(res.Changes, changes...)
		entries = append(entries, stageEntries...)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if i == 0 && !opts.DryRun {
			if err := c.waitCRDs(ctx, stage, opts.WaitTimeout); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	prev, _, err := inv.get()
	if err != nil {
		return res, err
	}
	if len(errs) == 0 && opts.Prune {
		pruned, err := c.prune(ctx, prev, desired, opts)
		res.Changes = append(res.Changes, pruned...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if opts.DryRun {
		return res, errors.Join(errs...)
	}
	if len(errs) > 0 || !opts.Prune {
		// Keep remembering what the app created before, so a later deploy
		// can still prune it.
		entries = keepOld(entries, prev, res.Changes)
	}
	if !sameEntries(prev, entries) {
		if err := c.writeInventory(ctx, opts.Inventory, entries); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// applyStage applies objects concurrently; order within a stage does not
// matter to the API server, and Kubernetes controllers converge regardless.
func (c *Client) applyStage(ctx context.Context, objs []*unstructured.Unstructured, inv *asyncInventory, opts ApplyOptions) ([]Change, []invEntry, error) {
	changes := make([]Change, len(objs))
	entries := make([]*invEntry, len(objs))
	errs := make([]error, len(objs))
	forEach(len(objs), opts.Concurrency, func(i int) {
		changes[i], entries[i], errs[i] = c.applyOne(ctx, objs[i], inv, opts)
	})
	var out []invEntry
	var done []Change
	for i := range objs {
		if errs[i] != nil {
			continue
		}
		done = append(done, changes[i])
		if entries[i] != nil {
			out = append(out, *entries[i])
		}
	}
	return done, out, errors.Join(errs...)
}

// forEach runs fn for 0..n-1 with at most limit goroutines.
func forEach(n, limit int, fn func(i int)) {
	if limit <= 0 {
		limit = defaultConcurrent
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

func (c *Client) applyOne(ctx context.Context, obj *unstructured.Unstructured, inv *asyncInventory, opts ApplyOptions) (Change, *invEntry, error) {
	ref := RefOf(obj)
	ch := Change{Ref: ref, DryRun: opts.DryRun}
	ri, err := c.resource(ref)
	if err != nil && opts.DryRun && errors.Is(err, errUnknownKind) {
		ch.Action, ch.Message = ActionCreated, "not validated by the server: its kind is not installed yet (a CRD in the same deploy?)"
		return ch, nil, nil
	}
	if err != nil {
		return ch, nil, err
	}
	hash := objectHash(obj)
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	_, byKey, invErr := inv.get()
	if invErr != nil {
		return ch, nil, invErr
	}
	var prev *invEntry
	if e, ok := byKey[ref.Key()]; ok {
		prev = &e
	}
	if apierrors.IsNotFound(err) {
		ch.Action = ActionCreated
		return c.create(ctx, obj, ch, hash, opts.DryRun)
	}
	if err != nil {
		return ch, nil, fmt.Errorf("reading %s: %w", ref, c.wrap(err))
	}
	if prev != nil && prev.Hash == hash && prev.Token == liveToken(live, obj) {
		ch.Action = ActionUnchanged
		return ch, prev, nil
	}
	dry, err := ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		if isJob(ref) && ssaerrors.IsImmutableError(err) {
			return c.recreate(ctx, obj, live, ch, hash, opts)
		}
		return ch, nil, applyError(ref, c.wrap(err))
	}
	if !drifted(live, dry) {
		ch.Action = ActionUnchanged
		return ch, entryFor(obj, live, hash), nil
	}
	ch.Action = ActionConfigured
	if opts.DryRun {
		ch.Diff = unifiedDiff(ref, displayYAML(live), displayYAML(dry))
		return ch, nil, nil
	}
	applied, err := ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return ch, nil, applyError(ref, c.wrap(err))
	}
	return ch, entryFor(obj, applied, hash), nil
}

func (c *Client) create(ctx context.Context, obj *unstructured.Unstructured, ch Change, hash string, dryRun bool) (Change, *invEntry, error) {
	ri, _ := c.resource(ch.Ref)
	ao := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		ao.DryRun = []string{metav1.DryRunAll}
		ch.Diff = unifiedDiff(ch.Ref, "", displayYAML(obj))
	}
	applied, err := ri.Apply(ctx, ch.Ref.Name, obj, ao)
	if dryRun && apierrors.IsNotFound(err) && ch.Ref.Namespace != "" {
		ch.Message = fmt.Sprintf("not validated by the server: namespace %s does not exist yet", ch.Ref.Namespace)
		return ch, nil, nil
	}
	if err != nil {
		return ch, nil, applyError(ch.Ref, c.wrap(err))
	}
	if dryRun {
		return ch, nil, nil
	}
	return ch, entryFor(obj, applied, hash), nil
}

// recreate replaces a Job whose template changed: a Job's pod template is
// immutable, so the only way to run the new spec is a new Job.
func (c *Client) recreate(ctx context.Context, obj, live *unstructured.Unstructured, ch Change, hash string, opts ApplyOptions) (Change, *invEntry, error) {
	ch.Action = ActionRecreated
	if opts.DryRun {
		ch.Diff = unifiedDiff(ch.Ref, displayYAML(live), displayYAML(obj))
		return ch, nil, nil
	}
	ri, _ := c.resource(ch.Ref)
	// Background: the Job object goes at once and its old pods are garbage
	// collected, so the new Job can be created without waiting on them.
	bg := metav1.DeletePropagationBackground
	uid := live.GetUID()
	err := ri.Delete(ctx, ch.Ref.Name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return ch, nil, fmt.Errorf("deleting %s to recreate it with its new spec: %w", ch.Ref, c.wrap(err))
	}
	if err := c.waitGone(ctx, ch.Ref, uid, opts.WaitTimeout); err != nil {
		return ch, nil, err
	}
	applied, err := ri.Apply(ctx, ch.Ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return ch, nil, applyError(ch.Ref, c.wrap(err))
	}
	return ch, entryFor(obj, applied, hash), nil
}

func (c *Client) waitGone(ctx context.Context, ref ObjectRef, uid types.UID, timeout time.Duration) error {
	ri, err := c.resource(ref)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && live.GetUID() != uid) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s to be deleted: %w", ref, c.wrap(err))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is still being deleted after %s (finalizers: %s)", ref, timeout, strings.Join(live.GetFinalizers(), ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isJob(ref ObjectRef) bool { return ref.Group == "batch" && ref.Kind == "Job" }

func applyError(ref ObjectRef, err error) error {
	if IsUnreachable(err) {
		return fmt.Errorf("applying %s: %w", ref, err)
	}
	if ssaerrors.IsImmutableError(err) {
		return &problem.Error{Code: problem.Conflict, Message: "applying " + ref.String(), Err: err,
			Hint: &problem.Hint{Action: "app.delete", Text: "the field cannot change in place; delete the app and deploy it again"}}
	}
	return fmt.Errorf("applying %s: %w", ref, err)
}

// drifted compares the live object with the server's dry-run result of
// applying the desired one. Fields the app does not set keep their live
// value in the dry-run result, so fields owned by controllers (status,
// defaults, replicas under an autoscaler the app leaves unset) never count.
func drifted(live, dry *unstructured.Unstructured) bool {
	if !apiequality.Semantic.DeepEqual(live.GetLabels(), dry.GetLabels()) ||
		!apiequality.Semantic.DeepEqual(live.GetAnnotations(), dry.GetAnnotations()) {
		return true
	}
	return !apiequality.Semantic.DeepEqual(bodyOf(live), bodyOf(dry))
}

func bodyOf(u *unstructured.Unstructured) map[string]any {
	m := maps.Clone(u.Object)
	delete(m, "metadata")
	delete(m, "status")
	return m
}
