package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
)

// InventoryNamespace holds one inventory ConfigMap per deployed app.
//
// The inventory lives outside the app namespace on purpose: deleting or
// losing the app namespace must not lose the record of cluster-scoped
// objects the app created (CRDs, ClusterRoles, ...), an app may span
// several namespaces, and the record must stay readable while the app
// namespace is Terminating. It holds only object references and hashes of
// desired manifests, never secret values.
const InventoryNamespace = "wild-system"

const inventoryKey = "inventory.json"

// Inventory identifies an app deployment: the objects Apply creates carry
// its labels and are recorded under its name.
type Inventory struct {
	App        string
	InstanceID string
}

// Labels are stamped on every object the app applies; prune only deletes
// objects that still carry all of them.
func (i Inventory) Labels() map[string]string {
	return map[string]string{LabelApp: i.App, LabelInstanceID: i.InstanceID}
}

// Name of the inventory ConfigMap. Several instances may share a cluster,
// so the name includes a short hash of the instance id.
func (i Inventory) Name() string {
	sum := sha256.Sum256([]byte(i.InstanceID))
	return "wild-inventory-" + i.App + "-" + hex.EncodeToString(sum[:])[:8]
}

func (i Inventory) validate() error {
	for _, f := range []struct{ what, v string }{{"app name", i.App}, {"instance id", i.InstanceID}} {
		if f.v == "" {
			return fmt.Errorf("inventory needs a %s", f.what)
		}
		if errs := validation.IsValidLabelValue(f.v); len(errs) > 0 {
			return fmt.Errorf("%s %q cannot be used as a label value: %s", f.what, f.v, strings.Join(errs, "; "))
		}
	}
	if errs := validation.IsDNS1123Label(i.App); len(errs) > 0 {
		return fmt.Errorf("app name %q is not a DNS-1123 label: %s", i.App, strings.Join(errs, "; "))
	}
	return nil
}

// invEntry records one applied object. Hash is the hash of the desired
// manifest; Token summarizes the live object right after apply (uid,
// generation or resourceVersion, and the values of the labels and
// annotations the app sets). When both still match on the next deploy, the
// object cannot have changed on either side and its dry-run is skipped.
type invEntry struct {
	Ref   ObjectRef `json:"ref"`
	Hash  string    `json:"hash,omitempty"`
	Token string    `json:"token,omitempty"`
}

type inventoryDoc struct {
	Entries []invEntry `json:"entries"`
}

func (c *Client) readInventory(ctx context.Context, inv Inventory) ([]invEntry, error) {
	if a := c.prefetch.take(inv.Name()); a != nil {
		entries, _, err := a.get()
		return entries, err
	}
	return c.fetchInventory(ctx, inv)
}

func (c *Client) fetchInventory(ctx context.Context, inv Inventory) ([]invEntry, error) {
	cm, err := c.Clientset.CoreV1().ConfigMaps(InventoryNamespace).Get(ctx, inv.Name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading inventory %s/%s: %w", InventoryNamespace, inv.Name(), c.wrap(err))
	}
	var doc inventoryDoc
	if err := json.Unmarshal([]byte(cm.Data[inventoryKey]), &doc); err != nil {
		return nil, fmt.Errorf("inventory %s/%s is corrupt (%v); delete it to start over, prune will then skip one deploy", InventoryNamespace, inv.Name(), err)
	}
	return doc.Entries, nil
}

// asyncInventory is an inventory being read in the background.
type asyncInventory struct {
	done    chan struct{}
	entries []invEntry
	byKey   map[string]invEntry
	err     error
}

func (c *Client) readInventoryAsync(ctx context.Context, inv Inventory) *asyncInventory {
	if a := c.prefetch.take(inv.Name()); a != nil {
		return a
	}
	return c.fetchInventoryAsync(ctx, inv)
}

func (c *Client) fetchInventoryAsync(ctx context.Context, inv Inventory) *asyncInventory {
	a := &asyncInventory{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.entries, a.err = c.fetchInventory(ctx, inv)
		a.byKey = make(map[string]invEntry, len(a.entries))
		for _, e := range a.entries {
			a.byKey[e.Ref.Key()] = e
		}
	}()
	return a
}

// get waits for the read; the map is shared, callers only read it.
func (a *asyncInventory) get() ([]invEntry, map[string]invEntry, error) {
	<-a.done
	return a.entries, a.byKey, a.err
}

// PrefetchInventory starts reading inv's inventory, for a deploy whose
// first request opens the connection to the API server doing work it
// needs anyway (with NewIdleClient). The next read of that inventory (the
// no-op check's, Apply's, a diff's) takes the result, a write or delete
// of it drops it, and so does drop, which the caller must call when done
// with the app: an answer kept longer could be stale. The caller holds
// the app's lock from before this call until drop, so that nothing else
// writes the inventory in between.
func (c *Client) PrefetchInventory(ctx context.Context, inv Inventory) (drop func()) {
	name := inv.Name()
	c.prefetch.put(name, c.fetchInventoryAsync(ctx, inv))
	return func() { c.prefetch.take(name) }
}

// prefetched holds inventory reads started ahead of their use, each
// taken at most once.
type prefetched struct {
	mu    sync.Mutex
	reads map[string]*asyncInventory
}

func (p *prefetched) put(name string, a *asyncInventory) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reads == nil {
		p.reads = map[string]*asyncInventory{}
	}
	p.reads[name] = a
}

func (p *prefetched) take(name string) *asyncInventory {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.reads[name]
	delete(p.reads, name)
	return a
}

// InventoryRefs lists the objects recorded for an app (nil when none).
func (c *Client) InventoryRefs(ctx context.Context, inv Inventory) ([]ObjectRef, error) {
	entries, err := c.readInventory(ctx, inv)
	refs := make([]ObjectRef, 0, len(entries))
	for _, e := range entries {
		refs = append(refs, e.Ref)
	}
	return refs, err
}

func (c *Client) writeInventory(ctx context.Context, inv Inventory, entries []invEntry) error {
	c.prefetch.take(inv.Name())
	raw, err := json.Marshal(inventoryDoc{Entries: entries})
	if err != nil {
		return err
	}
	nsAC := corev1ac.Namespace(InventoryNamespace)
	if _, err := c.Clientset.CoreV1().Namespaces().Apply(ctx, nsAC, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("creating namespace %s for the inventory: %w", InventoryNamespace, c.wrap(err))
	}
	ac := corev1ac.ConfigMap(inv.Name(), InventoryNamespace).
		WithLabels(inv.Labels()).
		WithData(map[string]string{inventoryKey: string(raw)})
	_, err = c.Clientset.CoreV1().ConfigMaps(InventoryNamespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("writing inventory %s/%s: %w", InventoryNamespace, inv.Name(), c.wrap(err))
	}
	return nil
}

func (c *Client) deleteInventory(ctx context.Context, inv Inventory) error {
	c.prefetch.take(inv.Name())
	err := c.Clientset.CoreV1().ConfigMaps(InventoryNamespace).Delete(ctx, inv.Name(), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting inventory %s/%s: %w", InventoryNamespace, inv.Name(), c.wrap(err))
	}
	return nil
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
