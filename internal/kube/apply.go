package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Action is what Apply did (or, in a dry run, would do) to one object.
type Action string

const (
	ActionCreated    Action = "created"
	ActionConfigured Action = "configured"
	ActionUnchanged  Action = "unchanged"
	ActionPruned     Action = "pruned"
	ActionRecreated  Action = "recreated"
	// ActionSkipped marks an object prune left alone because it no longer
	// carries the app's labels (someone else took it over).
	ActionSkipped Action = "skipped"
)

// Change is the outcome for one object.
type Change struct {
	Ref    ObjectRef
	Action Action
	DryRun bool
	// Diff is a unified diff of the changed fields in a dry run (Secret
	// values redacted), or for Secrets the names of changed keys.
	Diff string
	// Message explains an unusual outcome, e.g. a dry-run create that the
	// server could not validate because its namespace does not exist yet.
	Message string
}

// Result lists per-object changes in apply order, then prunes.
type Result struct {
	DryRun  bool
	Changes []Change
}

// Count returns how many changes have the action.
func (r *Result) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Changed reports whether anything was (or would be) modified.
func (r *Result) Changed() bool {
	for _, c := range r.Changes {
		if c.Action != ActionUnchanged && c.Action != ActionSkipped {
			return true
		}
	}
	return false
}

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
	prev, err := c.readInventory(ctx, opts.Inventory)
	if err != nil {
		return nil, err
	}
	prevByKey := map[string]invEntry{}
	for _, e := range prev {
		prevByKey[e.Ref.Key()] = e
	}
	res := &Result{DryRun: opts.DryRun}
	var entries []invEntry
	var errs []error
	defs, rest := splitStages(desired)
	for i, stage := range [][]*unstructured.Unstructured{defs, rest} {
		changes, stageEntries, err := c.applyStage(ctx, stage, prevByKey, opts)
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

// prepare deep-copies, validates and labels the objects.
func prepare(objs []*unstructured.Unstructured, inv Inventory) ([]*unstructured.Unstructured, error) {
	seen := map[string]bool{}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		ref := RefOf(o)
		if ref.Kind == "" || ref.Version == "" || ref.Name == "" {
			return nil, fmt.Errorf("manifest object %s is missing apiVersion, kind or metadata.name", ref)
		}
		if seen[ref.Key()] {
			return nil, fmt.Errorf("manifests contain %s twice", ref)
		}
		seen[ref.Key()] = true
		cp := o.DeepCopy()
		cp.SetLabels(mergeMaps(cp.GetLabels(), inv.Labels()))
		out = append(out, cp)
	}
	return out, nil
}

// kindOrder applies what other objects depend on first (after fluxcd ssa's
// ReconcileOrder); unknown kinds go after these, webhooks last.
var kindOrder = []string{"CustomResourceDefinition", "Namespace", "ClusterRole", "PriorityClass", "StorageClass",
	"IngressClass", "ClusterRoleBinding", "ResourceQuota", "ServiceAccount", "Role", "RoleBinding", "ConfigMap",
	"Secret", "Service", "LimitRange", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet",
	"DaemonSet", "Job", "CronJob", "PodDisruptionBudget"}

func kindRank(kind string) int {
	switch kind {
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
		return len(kindOrder) + 1
	}
	if i := slices.Index(kindOrder, kind); i >= 0 {
		return i
	}
	return len(kindOrder)
}

func splitStages(objs []*unstructured.Unstructured) (defs, rest []*unstructured.Unstructured) {
	sorted := slices.Clone(objs)
	sort.SliceStable(sorted, func(i, j int) bool { return kindRank(sorted[i].GetKind()) < kindRank(sorted[j].GetKind()) })
	for _, o := range sorted {
		if o.GetKind() == "CustomResourceDefinition" || (o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "") {
			defs = append(defs, o)
		} else {
			rest = append(rest, o)
		}
	}
	return defs, rest
}

// applyStage applies objects concurrently; order within a stage does not
// matter to the API server, and Kubernetes controllers converge regardless.
func (c *Client) applyStage(ctx context.Context, objs []*unstructured.Unstructured, prev map[string]invEntry, opts ApplyOptions) ([]Change, []invEntry, error) {
	changes := make([]Change, len(objs))
	entries := make([]*invEntry, len(objs))
	errs := make([]error, len(objs))
	forEach(len(objs), opts.Concurrency, func(i int) {
		var p *invEntry
		if e, ok := prev[RefOf(objs[i]).Key()]; ok {
			p = &e
		}
		changes[i], entries[i], errs[i] = c.applyOne(ctx, objs[i], p, opts)
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

func (c *Client) applyOne(ctx context.Context, obj *unstructured.Unstructured, prev *invEntry, opts ApplyOptions) (Change, *invEntry, error) {
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
		return fmt.Errorf("applying %s: %w; the field cannot change in place, delete the app (wild app delete) and deploy it again", ref, err)
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

func objectHash(u *unstructured.Unstructured) string {
	raw, _ := json.Marshal(u.Object) // map keys are sorted by encoding/json
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// liveToken changes whenever the live object may have been changed by
// someone else: a new uid (recreated), a new generation (spec edits bump
// it) or, for kinds without generation, a new resourceVersion, or a
// different value of a label or annotation the app sets.
func liveToken(live, desired *unstructured.Unstructured) string {
	var b strings.Builder
	b.WriteString(string(live.GetUID()))
	if g := live.GetGeneration(); g > 0 {
		b.WriteString("/g" + strconv.FormatInt(g, 10))
	} else if owned := ownedFields(live); owned != "" {
		// Kinds without a generation (PVC, Service, ConfigMap) change
		// resourceVersion whenever a controller binds or updates them. Our
		// field manager's entry changes only when someone takes over a field
		// we own (an Update or a forced apply transfers ownership), which is
		// exactly drift.
		b.WriteString("/f" + owned)
	} else {
		b.WriteString("/rv" + live.GetResourceVersion())
	}
	for _, pair := range []struct{ want, have map[string]string }{
		{desired.GetLabels(), live.GetLabels()}, {desired.GetAnnotations(), live.GetAnnotations()},
	} {
		for _, k := range slices.Sorted(maps.Keys(pair.want)) {
			b.WriteString("\x00" + k + "=" + pair.have[k])
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:12])
}

// ownedFields is the fieldsV1 set of FieldManager's apply entry, "" if none.
func ownedFields(live *unstructured.Unstructured) string {
	for _, m := range live.GetManagedFields() {
		if m.Manager == FieldManager && m.Operation == metav1.ManagedFieldsOperationApply && m.Subresource == "" && m.FieldsV1 != nil {
			return m.APIVersion + string(m.FieldsV1.Raw)
		}
	}
	return ""
}

func entryFor(desired, live *unstructured.Unstructured, hash string) *invEntry {
	return &invEntry{Ref: RefOf(desired), Hash: hash, Token: liveToken(live, desired)}
}

// keepOld adds previous entries that were neither re-applied nor pruned.
func keepOld(entries, prev []invEntry, changes []Change) []invEntry {
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Ref.Key()] = true
	}
	for _, ch := range changes {
		if ch.Action == ActionPruned {
			have[ch.Ref.Key()] = true
		}
	}
	for _, e := range prev {
		if !have[e.Ref.Key()] {
			// Unknown hash/token: the next deploy re-checks it with a dry run.
			entries = append(entries, invEntry{Ref: e.Ref})
		}
	}
	return entries
}

func sameEntries(a, b []invEntry) bool {
	key := func(es []invEntry) []string {
		s := make([]string, len(es))
		for i, e := range es {
			s[i] = e.Ref.Key() + "|" + e.Ref.Version + "|" + e.Hash + "|" + e.Token
		}
		slices.Sort(s)
		return s
	}
	return slices.Equal(key(a), key(b))
}

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

// waitCRDs waits for applied CRDs to be Established so that the next stage
// can use their kinds.
func (c *Client) waitCRDs(ctx context.Context, defs []*unstructured.Unstructured, timeout time.Duration) error {
	var crds []*unstructured.Unstructured
	for _, o := range defs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		}
	}
	if len(crds) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.Wait(wctx, crds, timeout, nil); err != nil {
		return err
	}
	c.Mapper.Reset()
	return nil
}
