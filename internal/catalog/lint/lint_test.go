package lint_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/catalog/lint"
)

// The bundled catalog is the example every author copies: it must pass
// with no error and no warning. This is how `make test` lints it.
func TestBundledCatalogIsClean(t *testing.T) {
	r, err := lint.Directory(directory.FS)
	if err != nil {
		t.Fatal(err)
	}
	if r.Packages < 10 {
		t.Fatalf("linted %d packages; the bundled catalog has more", r.Packages)
	}
	for _, f := range r.Findings {
		t.Errorf("%s", f)
	}
}

const dbManifest = `name: db
is: postgres
defaultConfig:
  namespace: db
  host: db.db.svc.cluster.local
  port: "5432"
defaultSecrets:
  - key: password
`

const appManifest = `name: app
is: app
requires:
  - name: postgres
    alias: db
defaultConfig:
  namespace: app
  image: app:1.0
  domain: app.{{ .cloud.domain }}
  externalDnsTarget: "{{ .cloud.domain }}"
  tlsSecretName: wildcard-wild-cloud-tls
  dbHost: "{{ .apps.db.host }}"
  dbName: app
defaultSecrets:
  - key: dbPassword
requiredSecrets:
  - db.password
restore:
  databases:
    - configKey: dbName
  volumes: [app-pvc]
`

const appKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {{ .namespace }}
labels:
  - includeSelectors: true
    pairs:
      app: app
resources:
  - deployment.yaml
  - ingress.yaml
  - pvc.yaml
  - job.yaml
configMapGenerator:
  - name: app-env
    envs: [app.env]
`

const appDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    metadata:
      labels:
        component: web
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: {{ .image }}
          env:
            - name: DB_HOST
              value: {{ .dbHost | quote }}
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: app-secrets
                  key: dbPassword
            - name: DB_ADMIN
              valueFrom:
                secretKeyRef:
                  name: postgres-secrets
                  key: password
          securityContext:
            allowPrivilegeEscalation: false
`

const appIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
  annotations:
    external-dns.alpha.kubernetes.io/target: {{ .externalDnsTarget | quote }}
spec:
  rules:
    - host: {{ .domain | quote }}
  tls:
    - hosts: [{{ .domain | quote }}]
      secretName: {{ .tlsSecretName }}
`

const appPVC = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: app-pvc
`

const appJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: app-db-init
spec:
  template:
    metadata:
      labels:
        component: db-init
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: db-init
          image: postgres
          securityContext:
            allowPrivilegeEscalation: false
          command:
            - sh
            - -c
            - |
              psql -c "CREATE EXTENSION IF NOT EXISTS vector"
`

func base() fstest.MapFS {
	return fstest.MapFS{
		"db/manifest.yaml":       {Data: []byte(dbManifest)},
		"app/manifest.yaml":      {Data: []byte(appManifest)},
		"app/kustomization.yaml": {Data: []byte(appKustomization)},
		"app/deployment.yaml":    {Data: []byte(appDeployment)},
		"app/ingress.yaml":       {Data: []byte(appIngress)},
		"app/pvc.yaml":           {Data: []byte(appPVC)},
		"app/job.yaml":           {Data: []byte(appJob)},
		"app/app.env":            {Data: []byte("DOMAIN={{ .domain }}\n")},
		"app/README.md":          {Data: []byte("Reach it at {{ .domain }}.\n")},
	}
}

func run(t *testing.T, fsys fstest.MapFS) *lint.Report {
	t.Helper()
	r, err := lint.Directory(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestValidPackageIsClean(t *testing.T) {
	for _, f := range run(t, base()).Findings {
		t.Errorf("%s", f)
	}
}

func edit(fsys fstest.MapFS, file, old, new string) {
	s := string(fsys[file].Data)
	if !strings.Contains(s, old) {
		panic(file + " lacks " + old)
	}
	fsys[file] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
}

// One failing package per rule: each case breaks the valid package in one
// way and expects that rule at that file and line.
func TestEachRule(t *testing.T) {
	for _, tc := range []struct {
		rule     string
		severity lint.Severity
		file     string
		line     int
		msg      string
		break_   func(f fstest.MapFS)
	}{
		{lint.RuleUnknownKey, lint.Warning, "app/manifest.yaml", 2, `unknown key "install"`, func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "is: app\n", "install: true\n") }},
		{lint.RuleDuplicateKey, lint.Error, "app/manifest.yaml", 3, `duplicate key "is"`, func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "is: app\n", "is: app\nis: app\n") }},
		{lint.RuleDuplicateKey, lint.Error, "app/pvc.yaml", 5, `duplicate key "name"`, func(f fstest.MapFS) {
			edit(f, "app/pvc.yaml", "  name: app-pvc\n", "  name: app-pvc\n  name: app-pvc2\n")
		}},
		{lint.RuleNameMismatch, lint.Error, "app/manifest.yaml", 1, `differs from the package directory`, func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "name: app\n", "name: other\n") }},
		{lint.RuleInvalidName, lint.Error, "app/manifest.yaml", 1, "invalid app name", func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "name: app\n", "name: App_1\n") }},
		{lint.RuleInvalidName, lint.Error, "Bad_Dir", 0, "package directory", func(f fstest.MapFS) { f["Bad_Dir/manifest.yaml"] = &fstest.MapFile{Data: []byte("name: bad\n")} }},
		{lint.RuleManifest, lint.Error, "app/manifest.yaml", 3, "requires must be a list", func(f fstest.MapFS) {
			edit(f, "app/manifest.yaml", "requires:\n  - name: postgres\n    alias: db\n", "requires: postgres\n")
		}},
		{lint.RuleTemplateKey, lint.Error, "app/deployment.yaml", 15, ".imageTag is not defined in defaultConfig", func(f fstest.MapFS) { edit(f, "app/deployment.yaml", "{{ .image }}", "{{ .imageTag }}") }},
		{lint.RuleTemplateKey, lint.Error, "app/manifest.yaml", 12, ".apps.cache", func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "{{ .apps.db.host }}", "{{ .apps.cache.host }}") }},
		{lint.RuleTemplateKey, lint.Error, "app/manifest.yaml", 12, "postgres's defaultConfig has no hostname", func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "{{ .apps.db.host }}", "{{ .apps.db.hostname }}") }},
		{lint.RuleTemplateKey, lint.Error, "app/app.env", 1, ".domian is not defined", func(f fstest.MapFS) { edit(f, "app/app.env", ".domain", ".domian") }},
		{lint.RuleTemplate, lint.Error, "app/ingress.yaml", 10, "template syntax error", func(f fstest.MapFS) { edit(f, "app/ingress.yaml", "{{ .domain | quote }}", "{{ .domain | quote ") }},
		{lint.RuleUnquotedTemplate, lint.Error, "app/manifest.yaml", 10, "quote the template", func(f fstest.MapFS) { edit(f, "app/manifest.yaml", `"{{ .cloud.domain }}"`, `{{ .cloud.domain }}`) }},
		{lint.RuleUnrendered, lint.Warning, "app/app.ini", 2, "not rendered", func(f fstest.MapFS) {
			f["app/app.ini"] = &fstest.MapFile{Data: []byte("[server]\nDOMAIN = {{ .domain }}\n")}
		}},
		{lint.RuleSecretKey, lint.Error, "app/deployment.yaml", 23, `add "apps.app.dbPassword" to defaultSecrets`, func(f fstest.MapFS) { edit(f, "app/deployment.yaml", "key: dbPassword", "key: apps.app.dbPassword") }},
		{lint.RuleSecretKey, lint.Error, "app/deployment.yaml", 28, `postgres's defaultSecrets has no "apps.postgres.password"`, func(f fstest.MapFS) { edit(f, "app/deployment.yaml", "key: password", "key: apps.postgres.password") }},
		{lint.RuleSecretKey, lint.Error, "app/deployment.yaml", 28, "require mysql", func(f fstest.MapFS) { edit(f, "app/deployment.yaml", "name: postgres-secrets", "name: mysql-secrets") }},
		{lint.RuleRequiredSecret, lint.Error, "app/manifest.yaml", 17, `postgres's defaultSecrets has no "pass"`, func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "- db.password", "- db.pass") }},
		{lint.RuleComponentLabel, lint.Warning, "app/deployment.yaml", 7, "component label", func(f fstest.MapFS) { edit(f, "app/deployment.yaml", "component: web", "tier: web") }},
		{lint.RuleSecurityContext, lint.Warning, "app/deployment.yaml", 7, "pod securityContext", func(f fstest.MapFS) {
			edit(f, "app/deployment.yaml", "      securityContext:\n        runAsNonRoot: true\n", "")
		}},
		{lint.RuleSecurityContext, lint.Warning, "app/deployment.yaml", 14, "container web has no securityContext", func(f fstest.MapFS) {
			edit(f, "app/deployment.yaml", "          securityContext:\n            allowPrivilegeEscalation: false\n", "")
		}},
		{lint.RuleExternalDNS, lint.Warning, "app/ingress.yaml", 1, "external-dns", func(f fstest.MapFS) {
			edit(f, "app/ingress.yaml", "    external-dns.alpha.kubernetes.io/target: {{ .externalDnsTarget | quote }}\n", "    x: y\n")
		}},
		{lint.RuleTLSSecret, lint.Warning, "app/ingress.yaml", 12, `"app-tls" is not a wildcard certificate`, func(f fstest.MapFS) { edit(f, "app/ingress.yaml", "{{ .tlsSecretName }}", "app-tls") }},
		{lint.RuleDBInitIdempotent, lint.Warning, "app/job.yaml", 22, "fails once the object exists", func(f fstest.MapFS) { edit(f, "app/job.yaml", "IF NOT EXISTS ", "") }},
		{lint.RuleKustomizeLabels, lint.Warning, "app/kustomization.yaml", 1, "includeSelectors", func(f fstest.MapFS) {
			edit(f, "app/kustomization.yaml", "includeSelectors: true", "includeSelectors: false")
		}},
		{lint.RuleRemoteResource, lint.Error, "app/kustomization.yaml", 13, "remote resources", func(f fstest.MapFS) {
			edit(f, "app/kustomization.yaml", "  - job.yaml\n", "  - job.yaml\n  - https://github.com/example/app//deploy?ref=v1\n")
		}},
		{lint.RuleRestoreMissing, lint.Warning, "app/manifest.yaml", 1, "no restore: declaration", func(f fstest.MapFS) {
			edit(f, "app/manifest.yaml", "restore:\n  databases:\n    - configKey: dbName\n  volumes: [app-pvc]\n", "")
		}},
		{lint.RuleRestoreMissing, lint.Warning, "app/pvc.yaml", 1, "PersistentVolumeClaim app-pvc is not in restore.volumes", func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "  volumes: [app-pvc]\n", "") }},
		{lint.RuleRestoreVolume, lint.Error, "app/manifest.yaml", 18, `no PersistentVolumeClaim of that name`, func(f fstest.MapFS) { edit(f, "app/manifest.yaml", "[app-pvc]", "[app-pvc, app-data]") }},
		{lint.RuleYAML, lint.Error, "app/pvc.yaml", 5, "not valid YAML", func(f fstest.MapFS) { edit(f, "app/pvc.yaml", "  name: app-pvc\n", "  name: app-pvc\n   bad: [\n") }},
	} {
		t.Run(tc.rule+"/"+tc.msg, func(t *testing.T) {
			fsys := base()
			tc.break_(fsys)
			r := run(t, fsys)
			found := false
			for _, f := range r.Findings {
				if f.Rule == tc.rule && f.File == tc.file && f.Severity == tc.severity && strings.Contains(f.Message, tc.msg) {
					found = true
					if f.Line != tc.line {
						t.Errorf("%s: line %d, want %d", f, f.Line, tc.line)
					}
				}
			}
			if !found {
				t.Errorf("no %s %s at %s:%d containing %q; got:", tc.severity, tc.rule, tc.file, tc.line, tc.msg)
				for _, f := range r.Findings {
					t.Logf("  %s", f)
				}
			}
			if tc.severity == lint.Error && r.Errors == 0 || tc.severity == lint.Warning && r.Warnings == 0 {
				t.Errorf("counts: %d errors, %d warnings", r.Errors, r.Warnings)
			}
		})
	}
}

// Every problem is reported, not only the first.
func TestReportsAllProblems(t *testing.T) {
	fsys := base()
	edit(fsys, "app/deployment.yaml", "{{ .image }}", "{{ .imageTag }}")
	edit(fsys, "app/ingress.yaml", "{{ .tlsSecretName }}", "app-tls")
	edit(fsys, "app/manifest.yaml", "is: app\n", "is: app\nfuture: 1\n")
	fsys["other/manifest.yaml"] = &fstest.MapFile{Data: []byte("name: different\n")}
	r := run(t, fsys)
	rules := map[string]bool{}
	for _, f := range r.Findings {
		rules[f.Rule] = true
	}
	for _, want := range []string{lint.RuleTemplateKey, lint.RuleTLSSecret, lint.RuleUnknownKey, lint.RuleNameMismatch} {
		if !rules[want] {
			t.Errorf("missing %s in %v", want, r.Findings)
		}
	}
	if r.Errors != 2 || r.Warnings != 2 {
		t.Errorf("%d errors, %d warnings; want 2 and 2: %v", r.Errors, r.Warnings, r.Findings)
	}
}

// Linting one package still checks its dependencies against its siblings,
// and reports only its own findings.
func TestOnePackage(t *testing.T) {
	fsys := base()
	edit(fsys, "app/manifest.yaml", "- db.password", "- db.pass")
	fsys["other/manifest.yaml"] = &fstest.MapFile{Data: []byte("name: different\n")}
	r, err := lint.Packages(fsys, "app")
	if err != nil {
		t.Fatal(err)
	}
	if r.Packages != 1 || len(r.Findings) != 1 || r.Findings[0].Rule != lint.RuleRequiredSecret {
		t.Errorf("%+v", r)
	}
}
