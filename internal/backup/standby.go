package backup

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// renames is what a restore renames for the standby, all taken from the
// manifest's `restore:` field (databases by config key, volumes by PVC
// name), so patching never guesses from env var names.
type renames struct {
	namespace string
	databases map[string]string // live name -> standby name
	volumes   map[string]string // PVC -> standby PVC
	color     string
	hosts     map[string]string // Ingress host -> standby preview host
}

// podSpecPaths are where workloads keep their pod spec.
var podSpecPaths = map[string][]string{
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
	"Pod":         {"spec"},
}

// standbyObjects renames the app's compiled objects into the standby:
// namespace, database names in env values, claimNames, and Ingress hosts
// (to a preview host until the switch). The claims the volume strategy
// created are left out, so the standby deployment never recreates them.
func standbyObjects(objs []*unstructured.Unstructured, r *renames) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		o = o.DeepCopy()
		switch {
		case o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1":
			o.SetName(r.namespace)
		case o.GetKind() == "PersistentVolumeClaim" && r.volumes[o.GetName()] != "":
			continue
		case o.GetKind() == "Ingress":
			r.patchIngress(o)
		}
		if o.GetNamespace() != "" {
			o.SetNamespace(r.namespace)
		}
		if p, ok := podSpecPaths[o.GetKind()]; ok {
			r.patchPodSpec(o, p)
		}
		out = append(out, o)
	}
	return out
}

func (r *renames) patchPodSpec(o *unstructured.Unstructured, p []string) {
	spec, ok, _ := unstructured.NestedMap(o.Object, p...)
	if !ok {
		return
	}
	for _, key := range []string{"containers", "initContainers"} {
		cs, _ := spec[key].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			env, _ := cm["env"].([]any)
			for _, e := range env {
				em, _ := e.(map[string]any)
				if v, ok := em["value"].(string); ok {
					em["value"] = r.rewriteDB(v)
				}
			}
		}
	}
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		vm, _ := v.(map[string]any)
		pvc, _ := vm["persistentVolumeClaim"].(map[string]any)
		if name, _ := pvc["claimName"].(string); r.volumes[name] != "" {
			pvc["claimName"] = r.volumes[name]
		}
	}
	_ = unstructured.SetNestedMap(o.Object, spec, p...)
}

func (r *renames) patchIngress(o *unstructured.Unstructured) {
	rewriteIngressHosts(o, func(h string) string { return r.host(h) })
}

// rewriteIngressHosts maps every host of an Ingress, in its rules and its
// TLS entries alike, so a certificate never names a host the rules left.
func rewriteIngressHosts(o *unstructured.Unstructured, to func(string) string) {
	rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
	for _, rule := range rules {
		rm, _ := rule.(map[string]any)
		if h, ok := rm["host"].(string); ok {
			rm["host"] = to(h)
		}
	}
	_ = unstructured.SetNestedSlice(o.Object, rules, "spec", "rules")
	tls, _, _ := unstructured.NestedSlice(o.Object, "spec", "tls")
	for _, t := range tls {
		tm, _ := t.(map[string]any)
		hosts, _ := tm["hosts"].([]any)
		for i, h := range hosts {
			if s, ok := h.(string); ok {
				hosts[i] = to(s)
			}
		}
	}
	if len(tls) > 0 {
		_ = unstructured.SetNestedSlice(o.Object, tls, "spec", "tls")
	}
}

// host is the standby's preview host: the first label gets the color,
// so it stays under the same wildcard certificate and DNS record.
func (r *renames) host(h string) string {
	first, rest, _ := strings.Cut(h, ".")
	p := first + "-" + r.color
	if rest != "" {
		p += "." + rest
	}
	if r.hosts == nil {
		r.hosts = map[string]string{}
	}
	r.hosts[h] = p
	return p
}

// rewriteDB renames a database in a value that is exactly its name or a
// connection URL ending in /NAME (before any ?query).
func (r *renames) rewriteDB(v string) string {
	for from, to := range r.databases {
		if v == from {
			return to
		}
		re := regexp.MustCompile(`(://[^/\s]*/)` + regexp.QuoteMeta(from) + `(\?|$)`)
		if re.MatchString(v) {
			return re.ReplaceAllString(v, "${1}"+to+"${2}")
		}
	}
	return v
}

// marshalObjects writes objects as one multi-document YAML file.
func marshalObjects(objs []*unstructured.Unstructured) ([]byte, error) {
	var b strings.Builder
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("encode %s/%s: %w", o.GetKind(), o.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return []byte(b.String()), nil
}
