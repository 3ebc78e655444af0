package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LiveState is one instance's deployed objects, read with one LIST per
// kind (across namespaces, by the instance label) instead of requests per
// app and object: `wild app list` and Wild Central read every app's state
// at once, and its cost must not grow with requests per app.
type LiveState struct {
	instanceID  string
	inventories map[string][]invEntry // by inventory ConfigMap name
	objects     map[string]*unstructured.Unstructured
	secrets     map[string]*corev1.Secret // namespace/name
	namespaces  map[string]string         // name -> phase
	nsObjects   map[string]*corev1.Namespace
	listed      map[schema.GroupKind]bool
	// fetched caches GETs of Secrets the listing cannot hold (copy
	// sources without the instance label: wildcard TLS certificates).
	fetchMu sync.Mutex
	fetched map[string]*corev1.Secret
}

func newLiveState(instanceID string) *LiveState {
	return &LiveState{instanceID: instanceID, inventories: map[string][]invEntry{}, objects: map[string]*unstructured.Unstructured{},
		secrets: map[string]*corev1.Secret{}, namespaces: map[string]string{}, nsObjects: map[string]*corev1.Namespace{},
		listed: map[schema.GroupKind]bool{}, fetched: map[string]*corev1.Secret{}}
}

// ReadLiveState lists the inventories, namespaces and every kind the
// inventories record, each once.
func (c *Client) ReadLiveState(ctx context.Context, instanceID string) (*LiveState, error) {
	return c.readLiveState(ctx, instanceID, LabelInstanceID+"="+instanceID, "0")
}

// ReadConsistentLiveState is ReadLiveState with consistent LISTs: the
// cluster as of the moment the reads start, every write acknowledged
// before then included. A no-op deploy may skip its writes on what this
// says (UnchangedIn), so it must never vouch for an object a user has
// already deleted; ReadLiveState's watch cache may still hold it.
func (c *Client) ReadConsistentLiveState(ctx context.Context, instanceID string) (*LiveState, error) {
	return c.readLiveState(ctx, instanceID, LabelInstanceID+"="+instanceID, "")
}

// ReadAppLiveState is ReadLiveState for one app: the same lists, narrowed
// to the app's labels (`wild app status`).
func (c *Client) ReadAppLiveState(ctx context.Context, inv Inventory) (*LiveState, error) {
	return c.readLiveState(ctx, inv.InstanceID, LabelInstanceID+"="+inv.InstanceID+","+LabelApp+"="+inv.App, "0")
}

func (c *Client) readLiveState(ctx context.Context, instanceID, selector, rv string) (*LiveState, error) {
	// ResourceVersion "0": served from the API server's watch cache at
	// once. A consistent LIST first waits for that cache to catch up with
	// etcd, which under load took 40-90 ms per kind, more than the rest of
	// `wild app list`. The cache trails by milliseconds, and staleness can
	// only make the listing vouch for an earlier state the cluster really
	// had, or send an app to the exact per-object check.
	sel := metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv}
	ls := newLiveState(instanceID)
	cms, err := c.Clientset.CoreV1().ConfigMaps(InventoryNamespace).List(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("listing inventories in %s: %w", InventoryNamespace, c.wrap(err))
	}
	kinds := map[schema.GroupKind]string{}
	for _, cm := range cms.Items {
		var doc inventoryDoc
		if json.Unmarshal([]byte(cm.Data[inventoryKey]), &doc) != nil {
			continue // corrupt: the app's check falls back to the full diff
		}
		ls.inventories[cm.Name] = doc.Entries
		for _, e := range doc.Entries {
			kinds[e.Ref.GVK().GroupKind()] = e.Ref.Version
		}
	}
	var mu sync.Mutex
	lists := []func() error{
		func() error { return ls.readNamespaces(ctx, c, rv) },
		func() error { return ls.readSecrets(ctx, c, sel) },
	}
	for gk, version := range kinds {
		lists = append(lists, func() error {
			items, err := c.listKind(ctx, gk.WithVersion(version), sel)
			if err != nil || items == nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			ls.listed[gk] = true
			for i := range items {
				ls.objects[RefOf(&items[i]).Key()] = &items[i]
			}
			return nil
		})
	}
	errs := make([]error, len(lists))
	forEach(len(lists), 0, func(i int) { errs[i] = lists[i]() })
	return ls, errors.Join(errs...)
}

// listKind lists one kind; nil items when the cluster no longer knows it
// (a CRD removed), so the apps using it get the full check.
func (c *Client) listKind(ctx context.Context, gvk schema.GroupVersionKind, sel metav1.ListOptions) ([]unstructured.Unstructured, error) {
	m, err := c.mapping(gvk)
	if errors.Is(err, errUnknownKind) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	list, err := c.Dynamic.Resource(m.Resource).List(ctx, sel)
	if apierrors.IsNotFound(err) {
		// Discovery still knew the kind, the server no longer serves it
		// (its CRD was just removed): the same as unknown.
		c.Mapper.Reset()
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", m.Resource.Resource, c.wrap(err))
	}
	return list.Items, nil
}

func (ls *LiveState) readNamespaces(ctx context.Context, c *Client, rv string) error {
	list, err := c.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		return fmt.Errorf("listing namespaces: %w", c.wrap(err))
	}
	for i := range list.Items {
		ns := &list.Items[i]
		ls.namespaces[ns.Name] = phaseOf(ns)
		ls.nsObjects[ns.Name] = ns
	}
	return nil
}

func (ls *LiveState) readSecrets(ctx context.Context, c *Client, sel metav1.ListOptions) error {
	list, err := c.Clientset.CoreV1().Secrets("").List(ctx, sel)
	if err != nil {
		return fmt.Errorf("listing secrets: %w", c.wrap(err))
	}
	for i := range list.Items {
		s := &list.Items[i]
		ls.secrets[s.Namespace+"/"+s.Name] = s
	}
	return nil
}

// NamespacePhase is NamespacePhase as of the listing.
func (ls *LiveState) NamespacePhase(ns string) string {
	if p, ok := ls.namespaces[ns]; ok {
		return p
	}
	return PhaseNotFound
}

// Deployed reports whether the app has a non-empty inventory.
func (ls *LiveState) Deployed(inv Inventory) bool { return len(ls.inventories[inv.Name()]) > 0 }

// AppCheck is an app's state as seen in a LiveState.
type AppCheck struct {
	// Known is false when the listing cannot decide (an object missing or
	// relabeled, a kind not listed, a record without fingerprints): the
	// caller must use Status and Diff instead.
	Known bool
	// Statuses are the kstatus of the desired objects, in order.
	Statuses []ResourceStatus
	// Clean means no drift: every object is as the last apply left it.
	Clean bool
}

// Check compares desired objects (as a deploy would apply them: secret
// hash stamped) and the app Secret's data with the listing. An object
// whose inventory fingerprint (desired hash and live token, see invEntry)
// still matches cannot have changed on either side, the same rule Apply
// uses to skip its dry run; anything else is left to the full diff.
func (ls *LiveState) Check(objs []*unstructured.Unstructured, inv Inventory, secretNS, secretName string, secretData map[string][]byte) AppCheck {
	desired, err := prepare(objs, inv)
	if err != nil {
		return AppCheck{}
	}
	return ls.check(desired, inv, secretNS, secretName, secretData)
}

// check is Check on objects already prepared (labelled copies), for a
// caller that has them: preparing copies every object.
func (ls *LiveState) check(desired []*unstructured.Unstructured, inv Inventory, secretNS, secretName string, secretData map[string][]byte) AppCheck {
	entries := map[string]invEntry{}
	for _, e := range ls.inventories[inv.Name()] {
		entries[e.Ref.Key()] = e
	}
	out := AppCheck{Known: true, Clean: true, Statuses: make([]ResourceStatus, 0, len(desired))}
	for _, d := range desired {
		ref := RefOf(d)
		live := ls.objects[ref.Key()]
		if !ls.listed[ref.GVK().GroupKind()] || live == nil {
			return AppCheck{}
		}
		out.Statuses = append(out.Statuses, computeStatus(ref, live))
		e, ok := entries[ref.Key()]
		delete(entries, ref.Key())
		if !ok || e.Hash != objectHash(d) || e.Token != liveToken(live, d) {
			out.Clean = false
		}
	}
	if len(entries) > 0 {
		// Recorded but no longer desired: a deploy would prune them.
		out.Clean = false
	}
	if !ls.secretClean(secretNS, secretName, secretData, inv.Labels()) {
		out.Clean = false
	}
	return out
}

// secretClean is writeSecret's "unchanged" rule on the listed Secret.
func (ls *LiveState) secretClean(ns, name string, data map[string][]byte, labels map[string]string) bool {
	s := ls.secrets[ns+"/"+name]
	return s != nil && s.Type == corev1.SecretTypeOpaque && secretKeyDiff(s.Data, data) == "" && isSubset(labels, s.Labels)
}

func computeStatus(ref ObjectRef, live *unstructured.Unstructured) ResourceStatus {
	rs := ResourceStatus{Ref: ref}
	res, err := status.Compute(live)
	if err != nil {
		rs.Status, rs.Message = StatusUnknown, err.Error()
		return rs
	}
	rs.Status, rs.Message = string(res.Status), res.Message
	return rs
}
