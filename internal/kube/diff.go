package kube

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	ssaerrors "github.com/fluxcd/pkg/ssa/errors"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/merge"
)

// ObjectDiff compares one desired object with the cluster.
type ObjectDiff struct {
	Ref ObjectRef
	// Action is what a deploy would do, in the shared change vocabulary.
	Action Action
	// Unified is a unified diff, live (---) against desired (+++), of the
	// fields the app sets. Secret values are replaced by redaction markers.
	Unified string
}

// Diff compares desired objects with the live ones the way Apply would see
// them: it stamps the inventory labels, server-side dry-run applies each
// object and compares the result with the live object, so fields owned by
// controllers (status, defaults) never count as drift. Objects recorded in
// the inventory but no longer desired are reported as pruned. Nothing is
// changed in the cluster.
func (c *Client) Diff(ctx context.Context, objs []*unstructured.Unstructured, inv Inventory) ([]ObjectDiff, error) {
	if err := inv.validate(); err != nil {
		return nil, err
	}
	desired, err := prepare(objs, inv)
	if err != nil {
		return nil, err
	}
	defs, rest := splitStages(desired)
	ordered := append(defs, rest...)
	out := make([]ObjectDiff, len(ordered))
	errs := make([]error, len(ordered))
	forEach(len(ordered), 0, func(i int) {
		out[i], errs[i] = c.diffOne(ctx, ordered[i])
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	prev, err := c.readInventory(ctx, inv)
	if err != nil {
		return nil, err
	}
	pruned, err := c.prune(ctx, prev, desired, ApplyOptions{DryRun: true, Inventory: inv})
	if err != nil {
		return nil, err
	}
	for _, p := range pruned {
		if p.Action == ActionPruned {
			out = append(out, ObjectDiff{Ref: p.Ref, Action: ActionPruned})
		}
	}
	return out, nil
}

// Drifted reports whether any diff is not "unchanged".
func Drifted(diffs []ObjectDiff) bool {
	for _, d := range diffs {
		if d.Action.Changed() {
			return true
		}
	}
	return false
}

func (c *Client) diffOne(ctx context.Context, obj *unstructured.Unstructured) (ObjectDiff, error) {
	ref := RefOf(obj)
	d := ObjectDiff{Ref: ref}
	ri, err := c.resource(ref)
	if err != nil {
		return d, err
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d.Action, d.Unified = ActionCreated, unifiedDiff(ref, "", displayYAML(obj))
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("reading %s: %w", ref, c.wrap(err))
	}
	dry, err := ri.Apply(ctx, ref.Name, obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		if isJob(ref) && ssaerrors.IsImmutableError(err) {
			d.Action, d.Unified = ActionRecreated, unifiedDiff(ref, displayYAML(live), displayYAML(obj))
			return d, nil
		}
		return d, fmt.Errorf("dry-run of %s: %w", ref, c.wrap(err))
	}
	if !drifted(live, dry) {
		d.Action = ActionUnchanged
		return d, nil
	}
	d.Action, d.Unified = ActionConfigured, unifiedDiff(ref, displayYAML(live), displayYAML(dry))
	return d, nil
}

// redactKey is random per process: a marker shows whether a value changed
// within one diff, but cannot be compared across runs or brute-forced
// offline the way a plain hash of a short password could.
var redactKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}()

func redactValue(v string) string {
	m := hmac.New(sha256.New, redactKey)
	m.Write([]byte(v))
	return "<redacted " + hex.EncodeToString(m.Sum(nil))[:8] + ">"
}

// displayYAML renders an object for a diff: server bookkeeping and status
// are dropped, and a Secret's values are redacted. Values in data are
// decoded before hashing so that data and stringData of the same value get
// the same marker.
func displayYAML(u *unstructured.Unstructured) string {
	cp := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"} {
		unstructured.RemoveNestedField(cp.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(cp.Object, "status")
	if ann := cp.GetAnnotations(); ann != nil {
		// It embeds the whole last applied object, Secret values included.
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		if len(ann) == 0 {
			ann = nil
		}
		cp.SetAnnotations(ann)
	}
	if isSecret(cp) {
		redactSecret(cp)
	}
	raw, err := yaml.Marshal(cp.Object)
	if err != nil {
		return fmt.Sprintf("# cannot render %s: %v\n", RefOf(u), err)
	}
	return string(raw)
}

func isSecret(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Secret" && u.GroupVersionKind().Group == ""
}

func redactSecret(u *unstructured.Unstructured) {
	data, _, _ := unstructured.NestedMap(u.Object, "data")
	for k, v := range data {
		s, _ := v.(string)
		if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
			s = string(dec)
		}
		data[k] = redactValue(s)
	}
	if data != nil {
		_ = unstructured.SetNestedMap(u.Object, data, "data")
	}
	sdata, _, _ := unstructured.NestedMap(u.Object, "stringData")
	for k, v := range sdata {
		s, _ := v.(string)
		sdata[k] = redactValue(s)
	}
	if sdata != nil {
		_ = unstructured.SetNestedMap(u.Object, sdata, "stringData")
	}
}

// unifiedDiff renders a line diff of an object with three lines of context.
func unifiedDiff(ref ObjectRef, from, to string) string {
	return merge.Unified("live/"+ref.String(), "desired/"+ref.String(), from, to)
}
