package kube

import (
	"context"
	"errors"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wild-cloud/wild/internal/names"
)

// DeployState is what a deploy would write, for Unchanged to compare with
// the cluster in one round of concurrent reads.
type DeployState struct {
	Inventory Inventory
	// Objects as Apply would get them (secret hash stamped).
	Objects   []*unstructured.Unstructured
	Namespace string
	Owner     Owner
	// The app Secret written from secrets.yaml.
	SecretName string
	SecretData map[string][]byte
	// Copies are Secrets copied into Namespace (CopySecret).
	Copies []SecretSource
}

// SecretSource names a Secret copied into the app's namespace. An
// Optional source may be missing: the deploy then only warns (a wildcard
// TLS certificate cert-manager has not issued yet), so Unchanged lists it
// in Missing instead of answering false.
type SecretSource struct {
	Namespace, Name string
	Optional        bool
}

// NoopResult is what Unchanged found when nothing needs writing.
type NoopResult struct {
	// Changes lists every object, the Secret and its copies as unchanged,
	// as Apply, ApplySecret and CopySecret would have.
	Changes []Change
	// Statuses are the kstatus of the objects as listed.
	Statuses []ResourceStatus
	// Missing are the optional copy sources that do not exist.
	Missing []SecretSource
}

// Unchanged reports whether a deploy of s would change nothing: the
// namespace is active and owned, every object's inventory fingerprint
// (desired hash and live token) still matches, nothing recorded needs
// pruning, and the Secret and its copies hold the desired data. It reads
// the inventory, the namespace, every object, the Secret, its copies and
// their sources, all at once, instead of the sequential reads of a deploy
// (namespace, secrets, then the objects): a no-op redeploy is bound by
// round trips. The rule is Apply's
// own, so drift (a changed token) or a deleted or relabeled object (not
// listed) answers false, and the caller runs the full deploy, which
// repairs it. Any read error also answers false.
func (c *Client) Unchanged(ctx context.Context, s DeployState) (*NoopResult, bool) {
	desired, ok := s.desired()
	if !ok {
		return nil, false
	}
	r := &noopReads{ls: newLiveState(s.Inventory.InstanceID), sources: make([]*corev1.Secret, len(s.Copies))}
	reads := []func() error{
		func() error {
			entries, err := c.readInventory(ctx, s.Inventory)
			r.ls.inventories[s.Inventory.Name()] = entries
			return err
		},
		func() error { return r.secret(ctx, c, s.Namespace, s.SecretName) },
	}
	// The namespace is usually one of the app's objects: read it once.
	nsKey := ObjectRef{Version: "v1", Kind: "Namespace", Name: s.Namespace}.Key()
	nsDesired := slices.ContainsFunc(desired, func(d *unstructured.Unstructured) bool { return RefOf(d).Key() == nsKey })
	if !nsDesired {
		reads = append(reads, func() error {
			ns, err := c.Clientset.CoreV1().Namespaces().Get(ctx, s.Namespace, metav1.GetOptions{})
			r.ns = ns
			return err
		})
	}
	for _, d := range desired {
		reads = append(reads, func() error { return r.get(ctx, c, RefOf(d)) })
	}
	for _, src := range s.Copies {
		reads = append(reads, func() error { return r.secret(ctx, c, s.Namespace, src.Name) })
	}
	for i, src := range s.Copies {
		reads = append(reads, func() error {
			sec, err := c.Clientset.CoreV1().Secrets(src.Namespace).Get(ctx, src.Name, metav1.GetOptions{})
			if src.Optional && apierrors.IsNotFound(err) {
				return nil // r.sources[i] stays nil: missing
			}
			r.sources[i] = sec
			return err
		})
	}
	errs := make([]error, len(reads))
	// All at once: the point is one round trip, and there are few.
	forEach(len(reads), len(reads), func(i int) { errs[i] = reads[i]() })
	if errors.Join(errs...) != nil {
		return nil, false
	}
	if live := r.ls.objects[nsKey]; nsDesired && live != nil {
		var ns corev1.Namespace
		if runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &ns) != nil {
			return nil, false
		}
		r.ns = &ns
	}
	return r.decide(s, desired)
}

// UnchangedIn is Unchanged answered from a consistent listing of the
// instance (ReadConsistentLiveState), so a deploy of many apps reads the
// cluster with one LIST per kind instead of a GET per object of each app.
// Only the copy sources the listing cannot hold (no instance label) are
// read, each once per listing. The rule is Unchanged's, and the answer is
// as of the listing: the caller must not use it after writing anything
// this app's state depends on.
func (c *Client) UnchangedIn(ctx context.Context, s DeployState, ls *LiveState) (*NoopResult, bool) {
	desired, ok := s.desired()
	if !ok {
		return nil, false
	}
	r := &noopReads{ls: ls, ns: ls.nsObjects[s.Namespace], sources: make([]*corev1.Secret, len(s.Copies))}
	for i, src := range s.Copies {
		sec, err := ls.source(ctx, c, src)
		if err != nil {
			return nil, false
		}
		r.sources[i] = sec
	}
	return r.decide(s, desired)
}

// source is a copy source from the listing, else read once and kept; nil
// when an optional one is missing.
func (ls *LiveState) source(ctx context.Context, c *Client, src SecretSource) (*corev1.Secret, error) {
	key := src.Namespace + "/" + src.Name
	if sec := ls.secrets[key]; sec != nil {
		return sec, nil
	}
	ls.fetchMu.Lock()
	defer ls.fetchMu.Unlock()
	if sec, ok := ls.fetched[key]; ok {
		return sec, nil
	}
	sec, err := c.Clientset.CoreV1().Secrets(src.Namespace).Get(ctx, src.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && src.Optional {
		sec, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	ls.fetched[key] = sec
	return sec, nil
}

// desired is the objects as Apply would send them; false when no check
// can vouch for them (a reserved namespace, objects Apply would refuse).
func (s DeployState) desired() ([]*unstructured.Unstructured, bool) {
	if names.IsReservedNamespace(s.Namespace) {
		return nil, false
	}
	desired, err := prepare(s.Objects, s.Inventory)
	return desired, err == nil
}

// decide applies Apply's rule to what was read.
func (r *noopReads) decide(s DeployState, desired []*unstructured.Unstructured) (*NoopResult, bool) {
	if r.ns == nil || phaseOf(r.ns) != PhaseActive || !ownedBy(r.ns, s.Owner) {
		return nil, false
	}
	chk := r.ls.check(desired, s.Inventory, s.Namespace, s.SecretName, s.SecretData)
	if !chk.Known || !chk.Clean {
		return nil, false
	}
	res := &NoopResult{Statuses: chk.Statuses}
	res.Changes = append(res.Changes, unchanged(ObjectRef{Version: "v1", Kind: "Secret", Namespace: s.Namespace, Name: s.SecretName}))
	for i, src := range s.Copies {
		if r.sources[i] == nil {
			res.Missing = append(res.Missing, src)
			continue
		}
		if !r.ls.copyClean(src, r.sources[i], s.Namespace, s.Inventory.Labels()) {
			return nil, false
		}
		res.Changes = append(res.Changes, unchanged(ObjectRef{Version: "v1", Kind: "Secret", Namespace: s.Namespace, Name: src.Name}))
	}
	for _, d := range desired {
		res.Changes = append(res.Changes, unchanged(RefOf(d)))
	}
	return res, true
}

func unchanged(ref ObjectRef) Change { return Change{Ref: ref, Action: ActionUnchanged} }

// noopReads collects Unchanged's concurrent reads.
type noopReads struct {
	mu      sync.Mutex
	ls      *LiveState
	ns      *corev1.Namespace
	sources []*corev1.Secret
}

// get reads one object by name: a GET is a quorum read answered at once,
// where a consistent LIST may wait for the API server's watch cache to
// catch up (tens of ms under load). A missing object is left out, so
// Check answers "not known" and the full deploy recreates it.
func (r *noopReads) get(ctx context.Context, c *Client, ref ObjectRef) error {
	ri, err := c.resource(ref)
	if err != nil {
		return err
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	return r.keep(err, func() {
		r.ls.listed[ref.GVK().GroupKind()] = true
		r.ls.objects[ref.Key()] = live
	})
}

// secret reads a Secret of the app's namespace; a missing one is left out.
func (r *noopReads) secret(ctx context.Context, c *Client, ns, name string) error {
	sec, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	return r.keep(err, func() { r.ls.secrets[ns+"/"+name] = sec })
}

// keep stores a read's result under the lock; NotFound stores nothing and
// is no error.
func (r *noopReads) keep(err error, store func()) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	store()
	return nil
}

// copyClean is writeSecret's "unchanged" rule for a copy of src.
func (ls *LiveState) copyClean(src SecretSource, from *corev1.Secret, ns string, labels map[string]string) bool {
	s := ls.secrets[ns+"/"+src.Name]
	ann := map[string]string{AnnotationCopied: src.Namespace + "/" + src.Name}
	return s != nil && from != nil && s.Type == from.Type && secretKeyDiff(s.Data, from.Data) == "" &&
		isSubset(labels, s.Labels) && isSubset(ann, s.Annotations)
}
