package side

import (
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/wild-cloud/wild/internal/catalog"
)

// Renames is what makes a copy of an app, all taken from the manifest's
// `restore:` field (databases by config key, volumes by PVC name), so
// patching never guesses from env var names.
type Renames struct {
	Namespace string
	Databases map[string]string // live name -> copy's name
	Volumes   map[string]string // PVC -> copy's PVC
	// Preview, when set, gives Ingress hosts this color (a standby
	// before its switch) and records them in Hosts.
	Preview string
	Hosts   map[string]string // Ingress host -> preview host
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

// Objects renames copies of the app's compiled objects into the copy:
// namespace, database names in env values, claimNames, and with Preview
// the Ingress hosts. The claims a restore created are left out, so a
// deploy never recreates (or prunes) them.
func (r *Renames) Objects(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		o = o.DeepCopy()
		switch {
		case o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1":
			o.SetName(r.Namespace)
		case o.GetKind() == "PersistentVolumeClaim" && r.Volumes[o.GetName()] != "":
			continue
		case o.GetKind() == "Ingress" && r.Preview != "":
			RewriteIngressHosts(o, r.host)
		}
		if o.GetNamespace() != "" {
			o.SetNamespace(r.Namespace)
		}
		if p, ok := podSpecPaths[o.GetKind()]; ok {
			r.patchPodSpec(o, p)
		}
		out = append(out, o)
	}
	return out
}

func (r *Renames) patchPodSpec(o *unstructured.Unstructured, p []string) {
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
					em["value"] = r.RewriteDB(v)
				}
			}
		}
	}
	vols, _ := spec["volumes"].([]any)
	for _, v := range vols {
		vm, _ := v.(map[string]any)
		pvc, _ := vm["persistentVolumeClaim"].(map[string]any)
		if name, _ := pvc["claimName"].(string); r.Volumes[name] != "" {
			pvc["claimName"] = r.Volumes[name]
		}
	}
	_ = unstructured.SetNestedMap(o.Object, spec, p...)
}

// RewriteIngressHosts maps every host of an Ingress, in its rules and its
// TLS entries alike, so a certificate never names a host the rules left.
func RewriteIngressHosts(o *unstructured.Unstructured, to func(string) string) {
	rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
	for _, rule := range rules {
		if rm, ok := rule.(map[string]any); ok {
			if h, ok := rm["host"].(string); ok {
				rm["host"] = to(h)
			}
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
func (r *Renames) host(h string) string {
	first, rest, _ := strings.Cut(h, ".")
	p := first + "-" + r.Preview
	if rest != "" {
		p += "." + rest
	}
	if r.Hosts == nil {
		r.Hosts = map[string]string{}
	}
	r.Hosts[h] = p
	return p
}

// RewriteDB renames a database in a value that is exactly its name or a
// connection URL ending in /NAME (before any ?query).
func (r *Renames) RewriteDB(v string) string {
	for from, to := range r.Databases {
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

// SecretData renames the database in the Secret values the manifest's
// `restore:` declares as embedding it (a connection URL, say), in place.
func (r *Renames) SecretData(data map[string][]byte, restore *catalog.Restore) {
	if restore == nil {
		return
	}
	for _, db := range restore.Databases {
		for _, k := range db.SecretKeys {
			if v, ok := data[k]; ok {
				data[k] = []byte(r.RewriteDB(string(v)))
			}
		}
	}
}
