package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

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
