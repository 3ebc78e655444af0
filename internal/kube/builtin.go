package kube

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// builtinMappings are the REST mappings of kinds Kubernetes has served
// under these group-versions since 1.22 (the oldest wild supports): their
// resource names and scope are fixed by the API, so resolving them needs
// no discovery. Without this table every process loaded and decoded the
// whole discovery cache (every group-version's resource list) before its
// first request, a tenth of a no-op deploy's CPU. Other kinds, CRDs
// among them, still go through discovery.
var builtinMappings = func() map[schema.GroupVersionKind]meta.RESTMapping {
	out := map[schema.GroupVersionKind]meta.RESTMapping{}
	add := func(group, version, kind, resource string, scope meta.RESTScope) {
		gvk := schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
		out[gvk] = meta.RESTMapping{Resource: gvk.GroupVersion().WithResource(resource), GroupVersionKind: gvk, Scope: scope}
	}
	ns, cluster := meta.RESTScopeNamespace, meta.RESTScopeRoot
	add("", "v1", "Namespace", "namespaces", cluster)
	add("", "v1", "ConfigMap", "configmaps", ns)
	add("", "v1", "Secret", "secrets", ns)
	add("", "v1", "Service", "services", ns)
	add("", "v1", "ServiceAccount", "serviceaccounts", ns)
	add("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", ns)
	add("", "v1", "PersistentVolume", "persistentvolumes", cluster)
	add("", "v1", "Pod", "pods", ns)
	add("apps", "v1", "Deployment", "deployments", ns)
	add("apps", "v1", "StatefulSet", "statefulsets", ns)
	add("apps", "v1", "DaemonSet", "daemonsets", ns)
	add("apps", "v1", "ReplicaSet", "replicasets", ns)
	add("batch", "v1", "Job", "jobs", ns)
	add("batch", "v1", "CronJob", "cronjobs", ns)
	add("networking.k8s.io", "v1", "Ingress", "ingresses", ns)
	add("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", ns)
	add("networking.k8s.io", "v1", "IngressClass", "ingressclasses", cluster)
	add("rbac.authorization.k8s.io", "v1", "Role", "roles", ns)
	add("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", ns)
	add("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", cluster)
	add("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", cluster)
	add("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", ns)
	add("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", ns)
	add("storage.k8s.io", "v1", "StorageClass", "storageclasses", cluster)
	return out
}()
