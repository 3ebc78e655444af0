// Package scaffold writes a new app package that follows every
// convention of the spec, as a starting point (`wild directory new`).
package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wild-cloud/wild/internal/names"
)

// Options for a new package.
type Options struct {
	Name  string
	Image string // default traefik/whoami:v1.10.3
	Port  string // default 8080
}

// Files returns the package files, by package-relative path.
func Files(o Options) (map[string]string, error) {
	if err := names.Validate("app", o.Name); err != nil {
		return nil, err
	}
	if o.Image == "" {
		o.Image = "traefik/whoami:v1.10.3"
	}
	if o.Port == "" {
		o.Port = "8080"
	}
	r := strings.NewReplacer("__NAME__", o.Name, "__IMAGE__", o.Image, "__PORT__", o.Port)
	out := map[string]string{}
	for f, text := range files {
		out[f] = r.Replace(text)
	}
	return out, nil
}

// Write creates dir/NAME with the package files; it refuses to touch an
// existing directory. It returns the files written.
func Write(dir string, o Options) ([]string, error) {
	fs, err := Files(o)
	if err != nil {
		return nil, err
	}
	pkg := filepath.Join(dir, o.Name)
	if _, err := os.Stat(pkg); err == nil {
		return nil, fmt.Errorf("%s already exists; choose another name or remove it", pkg)
	}
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for f, text := range fs {
		p := filepath.Join(pkg, f)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	sort.Strings(written)
	return written, nil
}

var files = map[string]string{
	"manifest.yaml": `name: __NAME__
is: __NAME__
description: __NAME__, an app for Wild Cloud (describe it in one line).
version: 0.1.0
# To use a database, require it and read its config through .apps.<alias>:
# requires:
#   - name: postgres
#     alias: db
defaultConfig:
  namespace: __NAME__
  image: __IMAGE__
  port: "__PORT__"
  storage: 1Gi
  domain: __NAME__.{{ .cloud.domain }}
  # external-dns points the app's name at the cloud's main record.
  externalDnsTarget: "{{ .cloud.domain }}"
  tlsSecretName: wildcard-wild-cloud-tls
# Generated at add time and stored in secrets.yaml; deploy puts them in the
# __NAME__-secrets Secret under the same keys.
defaultSecrets:
  - key: adminPassword
# What a blue-green restore patches: the volumes by PVC name (and, with a
# database, databases: [{configKey: dbName, secretKeys: [...]}]).
restore:
  volumes:
    - __NAME__-pvc
`,
	"kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {{ .namespace }}
labels:
  - includeSelectors: true
    pairs:
      app: __NAME__
      managedBy: kustomize
      partOf: wild-cloud
resources:
  - namespace.yaml
  - pvc.yaml
  - deployment.yaml
  - service.yaml
  - ingress.yaml
`,
	"namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: {{ .namespace }}
`,
	"pvc.yaml": `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: __NAME__-pvc
spec:
  accessModes:
    - ReadWriteOnce
  resources:
    requests:
      storage: {{ .storage }}
`,
	"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: __NAME__
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      component: web
  template:
    metadata:
      labels:
        component: web
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 65534
        runAsGroup: 65534
        fsGroup: 65534
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: web
          image: {{ .image }}
          ports:
            - name: http
              containerPort: {{ .port }}
          env:
            - name: ADMIN_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: __NAME__-secrets
                  key: adminPassword
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
          readinessProbe:
            tcpSocket:
              port: http
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
            limits:
              memory: 128Mi
          volumeMounts:
            - name: data
              mountPath: /data
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: __NAME__-pvc
`,
	"service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: __NAME__
spec:
  selector:
    component: web
  ports:
    - name: http
      port: {{ .port }}
      targetPort: http
`,
	"ingress.yaml": `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: __NAME__
  annotations:
    external-dns.alpha.kubernetes.io/target: {{ .externalDnsTarget | quote }}
    external-dns.alpha.kubernetes.io/cloudflare-proxied: "false"
spec:
  rules:
    - host: {{ .domain | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: __NAME__
                port:
                  name: http
  tls:
    - hosts:
        - {{ .domain | quote }}
      secretName: {{ .tlsSecretName }}
`,
	"README.md": `# __NAME__

What the app is, what it needs, and what to set after adding it:

    wild app add __NAME__
    wild config set apps.__NAME__.domain __NAME__.example.com
    wild app deploy __NAME__

Check the package with: wild directory lint
`,
}
