package lifecycle

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/directory"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/catalog/migrate"
)

// Packages migrated from the older format deploy to the real control
// plane with their dependencies: the Secret keys they reference exist and
// their generator files are rendered.
func TestMigratedPackagesDeploy(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "new")
	res, err := migrate.Run("../catalog/migrate/testdata/old", dst, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lint.Errors > 0 {
		t.Fatalf("migrated packages have lint errors: %v", res.Lint.Findings)
	}
	for _, app := range []string{"postgres", "mysql"} {
		sub, err := fs.Sub(directory.FS, app)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(dst, app), sub); err != nil {
			t.Fatal(err)
		}
	}
	c := newClusterEnv(t)
	if c.Catalog, err = catalog.OpenDir(dst); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"postgres", "mysql", "forge", "blog"} {
		c.add(app)
	}
	for _, app := range []string{"forge", "blog"} {
		r := c.mustDeploy(app, func(d *Deploy) { d.WithDeps = true })
		if !r.Ready {
			t.Fatalf("%s not ready: %+v", app, r)
		}
	}
	forge := c.secret("forge", "forge-secrets").Data
	for _, k := range []string{"dbPassword", "secretKey", "db.password"} {
		if len(forge[k]) == 0 {
			t.Errorf("forge-secrets lacks %s, which the migrated manifests reference", k)
		}
	}
	// forge reads the database password from its own Secret (db.password,
	// copied at add); blog reads mysql-secrets, which deploy copies.
	if len(c.secret("blog", "mysql-secrets").Data["password"]) == 0 || len(c.secret("blog", "blog-secrets").Data["dbPassword"]) == 0 {
		t.Error("blog's secrets are missing")
	}
	cms, err := c.kc.CoreV1().ConfigMaps(c.ns("forge")).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "forge-env") {
			found = true
			if cm.Data["FORGE__server__DOMAIN"] != "forge.example.com" || strings.Contains(cm.Data["FORGE__database__HOST"], "{{") {
				t.Errorf("forge-env not rendered: %v", cm.Data)
			}
		}
	}
	if !found {
		t.Error("the generated forge-env ConfigMap was not deployed")
	}
}
