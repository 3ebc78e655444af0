package catalog_test

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/render"
)

// sampleContext is what an instance's config.yaml provides to manifests.
func sampleContext() map[string]any {
	return map[string]any{
		"cloud": map[string]any{
			"domain":         "cloud.example.com",
			"internalDomain": "internal.cloud.example.com",
			"smtp": map[string]any{
				"host": "smtp.example.com", "port": 587, "user": "mailer",
				"from": "noreply@cloud.example.com", "tls": true,
			},
		},
		"cluster":  map[string]any{"name": "wild"},
		"operator": map[string]any{"email": "ops@example.com"},
		"apps":     map[string]any{},
	}
}

// added is an app as `wild app add` would leave it, enough for templates.
type added struct {
	pkg     *catalog.Package
	config  map[string]any
	secrets map[string]any
	deps    map[string]*added // ref -> dependency
}

// addAll mimics the add flow for every bundled app: dependencies first,
// each requires ref mapped to the one app whose `is` matches.
func addAll(t testing.TB, e *render.Engine) map[string]*added {
	t.Helper()
	pkgs, err := catalog.Bundled().List()
	if err != nil {
		t.Fatalf("bundled catalog: %v", err)
	}
	byIs := map[string][]*catalog.Package{}
	for _, p := range pkgs {
		byIs[p.Manifest.Is] = append(byIs[p.Manifest.Is], p)
	}
	done := map[string]*added{}
	var add func(p *catalog.Package, stack []string) *added
	add = func(p *catalog.Package, stack []string) *added {
		if a := done[p.Name]; a != nil {
			return a
		}
		if slices.Contains(stack, p.Name) {
			t.Fatalf("dependency cycle: %v -> %s", stack, p.Name)
		}
		a := &added{pkg: p, deps: map[string]*added{}}
		ctx := sampleContext()
		apps := ctx["apps"].(map[string]any)
		for _, r := range p.Manifest.Requires {
			cands := byIs[r.Name]
			if len(cands) != 1 {
				t.Fatalf("%s requires %s: %d apps in the catalog are %q, want exactly 1", p.Name, r.Name, len(cands), r.Name)
			}
			dep := add(cands[0], append(stack, p.Name))
			a.deps[r.Ref()] = dep
			apps[r.Ref()] = dep.config
		}
		ctx["app"] = map[string]any{}
		n, err := e.Node(p.Name+"/manifest.yaml", p.Manifest.DefaultConfig, ctx)
		if err != nil {
			t.Fatalf("render defaultConfig: %v", err)
		}
		a.config = map[string]any{}
		if n != nil {
			if err := n.Decode(&a.config); err != nil {
				t.Fatalf("%s: decode rendered defaultConfig: %v", p.Name, err)
			}
		}
		ctx["app"] = a.config
		a.secrets = map[string]any{}
		ctx["secrets"] = a.secrets
		for i, s := range p.Manifest.DefaultSecrets {
			if !s.HasDefault {
				a.secrets[s.Key] = fmt.Sprintf("Gen3rated%02dSecretValue0123456789", i)
				continue
			}
			v, err := e.String(p.Name+"/manifest.yaml", s.Line, s.Default, ctx)
			if err != nil {
				t.Fatalf("render defaultSecrets %s: %v", s.Key, err)
			}
			a.secrets[s.Key] = v
		}
		for _, rs := range p.Manifest.RequiredSecrets {
			ref, key, _ := strings.Cut(rs, ".")
			v, ok := a.deps[ref].secrets[key]
			if !ok {
				t.Fatalf("%s: requiredSecret %s: dependency %s has no secret %q", p.Name, rs, a.deps[ref].pkg.Name, key)
			}
			a.secrets[rs] = v
		}
		done[p.Name] = a
		return a
	}
	for _, p := range pkgs {
		add(p, nil)
	}
	return done
}

func TestBundledCatalogHasTheIssueApps(t *testing.T) {
	pkgs, err := catalog.Bundled().List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*catalog.Manifest{}
	for _, p := range pkgs {
		got[p.Name] = p.Manifest
	}
	want := map[string][]string{ // app -> required app types
		"postgres": nil, "mysql": nil, "redis": nil, "memcached": nil,
		"ghost": {"mysql"}, "gitea": {"postgres"}, "listmonk": {"postgres"},
		"immich": {"postgres", "redis"}, "vaultwarden": {"postgres"},
		"nextcloud": {"postgres", "redis"}, "hello": nil,
	}
	for app, deps := range want {
		m := got[app]
		if m == nil {
			t.Errorf("bundled catalog lacks %s", app)
			continue
		}
		var req []string
		for _, r := range m.Requires {
			req = append(req, r.Name)
		}
		if !slices.Equal(req, deps) {
			t.Errorf("%s requires %v, want %v", app, req, deps)
		}
	}
}

// TestBundledCatalogCompiles is the issue's "every app adds and compiles
// cleanly": each app's config is rendered from its manifest with its real
// dependencies, every resource template is rendered, Kustomize builds the
// result, and every object is decoded strictly into its Kubernetes type
// and checked against the package conventions.
func TestBundledCatalogCompiles(t *testing.T) {
	e := render.New()
	apps := addAll(t, e)
	if len(apps) < 11 {
		t.Fatalf("only %d apps in the bundled catalog", len(apps))
	}
	for name, a := range apps {
		t.Run(name, func(t *testing.T) {
			files, err := a.pkg.Compile(e, a.config)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			fsys := filesys.MakeFsInMemory()
			for f, data := range files {
				if strings.Contains(string(data), "<no value>") {
					t.Errorf("%s renders <no value>", f)
				}
				if err := fsys.WriteFile(path.Join("/app", f), data); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"kustomization.yaml", "namespace.yaml", "README.md"} {
				if _, ok := files[f]; !ok {
					t.Errorf("package has no %s", f)
				}
			}
			resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, "/app")
			if err != nil {
				t.Fatalf("kustomize build: %v", err)
			}
			checkResources(t, a, resMap.Resources())
		})
	}
}

func checkResources(t *testing.T, a *added, res []*resource.Resource) {
	ns := fmt.Sprint(a.config["namespace"])
	if ns != a.pkg.Name {
		t.Errorf("defaultConfig namespace = %q, want the app name %q", ns, a.pkg.Name)
	}
	for _, k := range []string{"namespace", "image"} {
		if _, ok := a.config[k]; !ok {
			t.Errorf("defaultConfig has no %q", k)
		}
	}
	wantLabels := map[string]string{"app": a.pkg.Name, "managedBy": "kustomize", "partOf": "wild-cloud"}
	kinds := map[string]int{}
	hasPVC := false
	var workloads []*corev1.PodTemplateSpec
	var deployments []*appsv1.Deployment
	for _, r := range res {
		kind := r.GetKind()
		kinds[kind]++
		id := kind + "/" + r.GetName()
		labels := r.GetLabels()
		for k, v := range wantLabels {
			if labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", id, k, labels[k], v)
			}
		}
		for k := range labels {
			if strings.HasPrefix(k, "app.kubernetes.io/") {
				t.Errorf("%s: Helm-style label %s; use component: ...", id, k)
			}
		}
		if kind != "Namespace" && r.GetNamespace() != ns {
			t.Errorf("%s: namespace %q, want %q", id, r.GetNamespace(), ns)
		}
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		switch kind {
		case "Namespace":
			var o corev1.Namespace
			strict(t, id, y, &o)
			if o.Name != ns {
				t.Errorf("Namespace %q, want %q", o.Name, ns)
			}
		case "Deployment":
			var o appsv1.Deployment
			strict(t, id, y, &o)
			deployments = append(deployments, &o)
			workloads = append(workloads, &o.Spec.Template)
			for k, v := range wantLabels {
				if o.Spec.Selector.MatchLabels[k] != v {
					t.Errorf("%s: selector lacks %s=%s (includeSelectors)", id, k, v)
				}
			}
			if o.Spec.Selector.MatchLabels["component"] == "" {
				t.Errorf("%s: selector has no component label", id)
			}
		case "Service":
			var o corev1.Service
			strict(t, id, y, &o)
			if o.Spec.Selector["component"] == "" || o.Spec.Selector["app"] != a.pkg.Name {
				t.Errorf("%s: selector %v should carry app and component", id, o.Spec.Selector)
			}
		case "PersistentVolumeClaim":
			var o corev1.PersistentVolumeClaim
			strict(t, id, y, &o)
			hasPVC = true
			if o.Spec.StorageClassName != nil {
				t.Errorf("%s: storageClassName set; the default class must be used", id)
			}
			if _, ok := o.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
				t.Errorf("%s: no storage request", id)
			}
		case "Ingress":
			var o networkingv1.Ingress
			strict(t, id, y, &o)
			checkIngress(t, a, id, &o)
		case "Job":
			var o batchv1.Job
			strict(t, id, y, &o)
			workloads = append(workloads, &o.Spec.Template)
			if o.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
				t.Errorf("%s: restartPolicy %q, want OnFailure", id, o.Spec.Template.Spec.RestartPolicy)
			}
			if o.Spec.BackoffLimit == nil {
				t.Errorf("%s: no backoffLimit", id)
			}
			if o.Spec.TTLSecondsAfterFinished != nil {
				t.Errorf("%s: ttlSecondsAfterFinished is deploy's decision", id)
			}
		default:
			t.Errorf("%s: unexpected kind %s", id, kind)
		}
	}
	if kinds["Namespace"] != 1 {
		t.Errorf("want exactly one Namespace, got %d", kinds["Namespace"])
	}
	if kinds["Deployment"]+kinds["StatefulSet"] == 0 {
		t.Errorf("no workload")
	}
	if len(a.pkg.Manifest.Requires) > 0 && kinds["Job"] == 0 {
		t.Errorf("app requires a database but has no db-init Job")
	}
	for _, d := range deployments {
		if hasPVC && usesPVC(&d.Spec.Template) && d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("Deployment/%s mounts a PVC but its strategy is %q, want Recreate", d.Name, d.Spec.Strategy.Type)
		}
	}
	for _, w := range workloads {
		checkPod(t, a, w)
	}
}

func usesPVC(p *corev1.PodTemplateSpec) bool {
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			return true
		}
	}
	return false
}

func checkIngress(t *testing.T, a *added, id string, o *networkingv1.Ingress) {
	domain := fmt.Sprint(a.config["domain"])
	if len(o.Spec.Rules) == 0 || o.Spec.Rules[0].Host != domain {
		t.Errorf("%s: host should be the configured domain %q", id, domain)
	}
	if len(o.Spec.TLS) != 1 {
		t.Fatalf("%s: want one tls entry", id)
	}
	secret := o.Spec.TLS[0].SecretName
	target, hasTarget := o.Annotations["external-dns.alpha.kubernetes.io/target"]
	switch secret {
	case "wildcard-wild-cloud-tls":
		if !hasTarget || target != "cloud.example.com" {
			t.Errorf("%s: public app needs external-dns target cloud.example.com, got %q", id, target)
		}
		if !strings.HasSuffix(domain, ".cloud.example.com") {
			t.Errorf("%s: public domain %q", id, domain)
		}
	case "wildcard-internal-wild-cloud-tls":
		if hasTarget {
			t.Errorf("%s: internal app must not have an external-dns annotation", id)
		}
		if !strings.HasSuffix(domain, ".internal.cloud.example.com") {
			t.Errorf("%s: internal domain %q", id, domain)
		}
	default:
		t.Errorf("%s: tls secret %q is not one of the wildcard certificates", id, secret)
	}
}

// checkPod applies the security requirements and checks every Secret
// reference resolves to a key the app (or its dependency) really has.
func checkPod(t *testing.T, a *added, p *corev1.PodTemplateSpec) {
	sc := p.Spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("pod %v: needs runAsNonRoot and a non-zero runAsUser", p.Labels)
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod %v: needs seccompProfile RuntimeDefault", p.Labels)
	}
	if p.Labels["component"] == "" {
		t.Errorf("pod template has no component label")
	}
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		csc := c.SecurityContext
		if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
			csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: needs allowPrivilegeEscalation false and drop ALL", c.Name)
		}
		if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
			t.Errorf("container %s: image %q is not pinned", c.Name, c.Image)
		}
		for _, env := range c.Env {
			if env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
				if strings.Contains(env.Value, "$(") {
					t.Errorf("container %s env %s: runtime substitution; use a secret", c.Name, env.Name)
				}
				continue
			}
			checkSecretRef(t, a, c.Name+" env "+env.Name, env.ValueFrom.SecretKeyRef)
		}
	}
}

func checkSecretRef(t *testing.T, a *added, where string, ref *corev1.SecretKeySelector) {
	if ref.Name == a.pkg.Name+"-secrets" {
		if _, ok := a.secrets[ref.Key]; !ok {
			t.Errorf("%s: key %q is not among %s's secrets (defaultSecrets + requiredSecrets)", where, ref.Key, a.pkg.Name)
		}
		return
	}
	for _, dep := range a.deps {
		if ref.Name == dep.pkg.Name+"-secrets" {
			if _, ok := dep.secrets[ref.Key]; !ok {
				t.Errorf("%s: dependency secret %s has no key %q", where, ref.Name, ref.Key)
			}
			return
		}
	}
	t.Errorf("%s: secret %q is neither %s-secrets nor a dependency's", where, ref.Name, a.pkg.Name)
}

func strict(t *testing.T, id string, y []byte, into any) {
	t.Helper()
	if err := sigsyaml.UnmarshalStrict(y, into); err != nil {
		t.Errorf("%s is not a valid object: %v\n%s", id, err, y)
	}
}

// TestBundledPackagesParse checks each template file parses, and that
// the manifests survive Marshal/ParseManifest unchanged.
func TestBundledPackagesParse(t *testing.T) {
	e := render.New()
	pkgs, err := catalog.Bundled().List()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		files, err := p.Files()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := p.FS.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			data.Close()
			if !catalog.IsTemplate(f) || f == catalog.ManifestFile {
				continue
			}
			b, _ := readAll(p, f)
			if err := e.Check(p.Name+"/"+f, b); err != nil {
				t.Errorf("%v", err)
			}
		}
		out, err := p.Manifest.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := catalog.ParseManifest("roundtrip", out)
		if err != nil {
			t.Fatalf("%s: marshalled manifest does not parse: %v\n%s", p.Name, err, out)
		}
		if back.Name != p.Manifest.Name || len(back.DefaultSecrets) != len(p.Manifest.DefaultSecrets) ||
			!slices.Equal(back.RequiredSecrets, p.Manifest.RequiredSecrets) || !slices.Equal(back.Requires, p.Manifest.Requires) {
			t.Errorf("%s: roundtrip changed the manifest:\n%s", p.Name, out)
		}
		var a, b any
		_ = p.Manifest.DefaultConfig.Decode(&a)
		_ = back.DefaultConfig.Decode(&b)
		ya, _ := yaml.Marshal(a)
		yb, _ := yaml.Marshal(b)
		if string(ya) != string(yb) {
			t.Errorf("%s: defaultConfig changed in roundtrip", p.Name)
		}
	}
}

func readAll(p *catalog.Package, f string) ([]byte, error) {
	return fs.ReadFile(p.FS, f)
}
