// Command floor is the deploy benchmark's lower bound: it creates exactly
// the objects `wild app deploy` would (namespace, app Secret, copied
// dependency Secrets, the kustomize output), one create request each, with
// no checks, inventory, waiting or idempotency. Benchmark use only.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
)

func main() {
	instDir := flag.String("instance", "", "instance directory")
	flag.Parse()
	if err := run(*instDir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(instDir string, apps []string) error {
	inst := &instance.Instance{Name: filepath.Base(instDir), Dir: instDir}
	kc, err := inst.Kubeconfig()
	if err != nil {
		return err
	}
	c, err := kube.NewClient(kc)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	nsOf := map[string]string{}
	for _, app := range apps {
		if err := deployApp(ctx, c, inst, app, nsOf); err != nil {
			return fmt.Errorf("%s: %w", app, err)
		}
	}
	fmt.Fprintf(os.Stderr, "floor: %d apps in %s\n", len(apps), time.Since(start))
	return nil
}

func deployApp(ctx context.Context, c *kube.Client, inst *instance.Instance, app string, nsOf map[string]string) error {
	objs, err := kube.Build(inst.AppDir(app))
	if err != nil {
		return err
	}
	ns := ""
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			ns = o.GetName()
		}
	}
	nsOf[app] = ns
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	sec, err := inst.ReadSecrets()
	if err != nil {
		return err
	}
	data := map[string][]byte{}
	prefix := "apps." + app + "."
	for p, n := range sec.Leaves([]string{"apps", app}) {
		data[strings.TrimPrefix(p, prefix)] = []byte(n.Value)
	}
	if _, err := c.Clientset.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: app + "-secrets"}, Data: data}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := copyDepSecrets(ctx, c, inst, app, ns, nsOf); err != nil {
		return err
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		gvk := o.GroupVersionKind()
		m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		if _, err := c.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func copyDepSecrets(ctx context.Context, c *kube.Client, inst *instance.Instance, app, ns string, nsOf map[string]string) error {
	b, err := os.ReadFile(filepath.Join(inst.AppDir(app), catalog.ManifestFile))
	if err != nil {
		return err
	}
	m, err := catalog.ParseManifest(app, b)
	if err != nil {
		return err
	}
	compiled := allYAML(inst.AppDir(app))
	for _, dep := range m.InstalledAs {
		name := dep + "-secrets"
		if !bytes.Contains(compiled, []byte(name)) {
			continue
		}
		src, err := c.Clientset.CoreV1().Secrets(nsOf[dep]).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: src.Data, Type: src.Type}
		if _, err := c.Clientset.CoreV1().Secrets(ns).Create(ctx, cp, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func allYAML(dir string) []byte {
	var b bytes.Buffer
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") && e.Name() != catalog.ManifestFile {
			c, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			b.Write(c)
		}
	}
	return b.Bytes()
}
