package kube

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SecretNotFoundError is returned by CopySecret when the source is missing,
// so callers can downgrade it to a warning (e.g. a TLS wildcard copy).
type SecretNotFoundError struct {
	Namespace, Name string
}

func (e *SecretNotFoundError) Error() string {
	return fmt.Sprintf("secret %s not found in namespace %s", e.Name, e.Namespace)
}

// ApplySecret makes the Secret hold exactly data (type Opaque), overwriting
// any hand edit: keys added by hand are removed too, because secrets.yaml is
// the source of truth (edge case 4 in lifecycle/doc.go). The returned Change never holds values;
// its Diff lists changed key names only.
func (c *Client) ApplySecret(ctx context.Context, ns, name string, data map[string][]byte, labels map[string]string, dryRun bool) (Change, error) {
	return c.writeSecret(ctx, ns, name, corev1.SecretTypeOpaque, data, labels, nil, dryRun, c.getSecret(ctx, ns, name))
}

// CopySecret copies a Secret (data and type, e.g. kubernetes.io/tls) from
// one namespace to another, adding labels and a copied-from annotation. A
// missing source is a *SecretNotFoundError.
func (c *Client) CopySecret(ctx context.Context, fromNS, name, toNS string, labels map[string]string, dryRun bool) (Change, error) {
	// Source and copy are read at once: every deploy of an app with
	// dependencies does this, and a no-op is bound by round trips.
	dst := make(chan liveSecret, 1)
	go func() { dst <- c.getSecret(ctx, toNS, name) }()
	src, err := c.Clientset.CoreV1().Secrets(fromNS).Get(ctx, name, metav1.GetOptions{})
	live := <-dst
	if apierrors.IsNotFound(err) {
		return Change{}, &SecretNotFoundError{Namespace: fromNS, Name: name}
	}
	if err != nil {
		return Change{}, fmt.Errorf("reading secret %s/%s: %w", fromNS, name, c.wrap(err))
	}
	ann := map[string]string{AnnotationCopied: fromNS + "/" + name}
	return c.writeSecret(ctx, toNS, name, src.Type, src.Data, labels, ann, dryRun, live)
}

// liveSecret is the result of reading a Secret.
type liveSecret struct {
	s   *corev1.Secret
	err error
}

func (c *Client) getSecret(ctx context.Context, ns, name string) liveSecret {
	s, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	return liveSecret{s, err}
}

func (c *Client) writeSecret(ctx context.Context, ns, name string, typ corev1.SecretType, data map[string][]byte, labels, ann map[string]string, dryRun bool, got liveSecret) (Change, error) {
	ref := ObjectRef{Version: "v1", Kind: "Secret", Namespace: ns, Name: name}
	ch := Change{Ref: ref, DryRun: dryRun}
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	api := c.Clientset.CoreV1().Secrets(ns)
	desired := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: ann},
		Type:       typ,
		Data:       data,
	}
	live, err := got.s, got.err
	switch {
	case apierrors.IsNotFound(err):
		ch.Action, ch.Diff = ActionCreated, secretKeyDiff(nil, data)
		if _, err := api.Create(ctx, desired, metav1.CreateOptions{FieldManager: FieldManager, DryRun: dry}); err != nil && !(dryRun && apierrors.IsNotFound(err)) {
			return ch, fmt.Errorf("creating secret %s/%s: %w", ns, name, c.wrap(err))
		}
		return ch, nil
	case err != nil:
		return ch, fmt.Errorf("reading secret %s/%s: %w", ns, name, c.wrap(err))
	}
	ch.Diff = secretKeyDiff(live.Data, data)
	if live.Type != typ {
		// The type of a Secret is immutable.
		ch.Action = ActionRecreated
		if dryRun {
			return ch, nil
		}
		if err := api.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return ch, fmt.Errorf("replacing secret %s/%s (type %s → %s): %w", ns, name, live.Type, typ, c.wrap(err))
		}
		if _, err := api.Create(ctx, desired, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			return ch, fmt.Errorf("recreating secret %s/%s: %w", ns, name, c.wrap(err))
		}
		return ch, nil
	}
	if ch.Diff == "" && isSubset(labels, live.Labels) && isSubset(ann, live.Annotations) {
		ch.Action = ActionUnchanged
		return ch, nil
	}
	ch.Action = ActionConfigured
	upd := live.DeepCopy()
	upd.Data, upd.StringData = data, nil
	upd.Labels = mergeMaps(upd.Labels, labels)
	upd.Annotations = mergeMaps(upd.Annotations, ann)
	if _, err := api.Update(ctx, upd, metav1.UpdateOptions{FieldManager: FieldManager, DryRun: dry}); err != nil {
		return ch, fmt.Errorf("updating secret %s/%s: %w", ns, name, c.wrap(err))
	}
	return ch, nil
}

// secretKeyDiff names the keys that differ, never their values.
func secretKeyDiff(old, new map[string][]byte) string {
	var added, changed, removed []string
	for k, v := range new {
		ov, ok := old[k]
		switch {
		case !ok:
			added = append(added, k)
		case !bytes.Equal(ov, v):
			changed = append(changed, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			removed = append(removed, k)
		}
	}
	var parts []string
	for _, p := range []struct {
		label string
		keys  []string
	}{{"added", added}, {"changed", changed}, {"removed", removed}} {
		if len(p.keys) > 0 {
			slices.Sort(p.keys)
			parts = append(parts, fmt.Sprintf("%s keys: %s", p.label, strings.Join(p.keys, ", ")))
		}
	}
	return strings.Join(parts, "; ")
}

func isSubset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func mergeMaps(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]string{}
	}
	maps.Copy(dst, src)
	return dst
}

// SecretHash fingerprints secret data so a change can roll pods without
// revealing values. The hash is over every key and value, length-prefixed
// so that keys and values cannot be shifted into each other.
//
// A hash of one short, human-chosen password can be guessed by anyone able
// to read the Deployment; generated secrets (the default) are long and random.
func SecretHash(data map[string][]byte) string {
	h := sha256.New()
	h.Write([]byte("wild-cloud.io/secret-hash/v1\x00"))
	var n [8]byte
	for _, k := range slices.Sorted(maps.Keys(data)) {
		for _, b := range [][]byte{[]byte(k), data[k]} {
			binary.BigEndian.PutUint64(n[:], uint64(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// SecretHashAnnotation is the pod-template annotation key that carries the
// hash of the named secret. Each secret has its own key, so stamping the app
// Secret and a copied dependency Secret do not overwrite each other.
func SecretHashAnnotation(secretName string) string {
	const prefix = "secret-hash.wild-cloud.io/"
	if len(secretName) <= 63 {
		return prefix + secretName
	}
	sum := sha256.Sum256([]byte(secretName))
	return prefix + secretName[:46] + "-" + hex.EncodeToString(sum[:])[:16]
}

// StampSecretHash sets the secret-hash annotation on the pod template of
// every Deployment, StatefulSet and DaemonSet that references secretName
// (env valueFrom.secretKeyRef, envFrom.secretRef, secret and projected
// volumes). A new hash changes the template, so the workload rolls its pods
// and they read the new values. Jobs are left alone: their template is
// immutable. It returns the stamped objects as Kind/namespace/name.
func StampSecretHash(objs []*unstructured.Unstructured, secretName, hash string) (stamped []string) {
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet":
		default:
			continue
		}
		podSpec, ok, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
		if !ok || !podSpecUsesSecret(podSpec, secretName) {
			continue
		}
		ann, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "annotations")
		if ann == nil {
			ann = map[string]string{}
		}
		ann[SecretHashAnnotation(secretName)] = hash
		_ = unstructured.SetNestedStringMap(o.Object, ann, "spec", "template", "metadata", "annotations")
		stamped = append(stamped, RefOf(o).String())
	}
	return stamped
}

func podSpecUsesSecret(spec map[string]any, name string) bool {
	for _, field := range []string{"containers", "initContainers"} {
		containers, _, _ := unstructured.NestedSlice(spec, field)
		for _, c := range containers {
			cm, _ := c.(map[string]any)
			if containerUsesSecret(cm, name) {
				return true
			}
		}
	}
	vols, _, _ := unstructured.NestedSlice(spec, "volumes")
	for _, v := range vols {
		vm, _ := v.(map[string]any)
		if s, _, _ := unstructured.NestedString(vm, "secret", "secretName"); s == name {
			return true
		}
		sources, _, _ := unstructured.NestedSlice(vm, "projected", "sources")
		for _, src := range sources {
			sm, _ := src.(map[string]any)
			if s, _, _ := unstructured.NestedString(sm, "secret", "name"); s == name {
				return true
			}
		}
	}
	return false
}

func containerUsesSecret(c map[string]any, name string) bool {
	env, _, _ := unstructured.NestedSlice(c, "env")
	for _, e := range env {
		em, _ := e.(map[string]any)
		if s, _, _ := unstructured.NestedString(em, "valueFrom", "secretKeyRef", "name"); s == name {
			return true
		}
	}
	envFrom, _, _ := unstructured.NestedSlice(c, "envFrom")
	for _, e := range envFrom {
		em, _ := e.(map[string]any)
		if s, _, _ := unstructured.NestedString(em, "secretRef", "name"); s == name {
			return true
		}
	}
	return false
}

// WildcardTLSSecrets are the instance's wildcard certificates, which
// cert-manager keeps in CertManagerNamespace; an app's namespace gets a
// copy of each one its Ingresses reference.
var WildcardTLSSecrets = []string{"wildcard-wild-cloud-tls", "wildcard-internal-wild-cloud-tls"}

// CertManagerNamespace holds the wildcard certificates.
const CertManagerNamespace = "cert-manager"
