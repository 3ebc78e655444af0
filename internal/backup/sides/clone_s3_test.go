package sides_test

import (
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/lifecycle"
	"github.com/wild-cloud/wild/internal/testutil"
	"github.com/wild-cloud/wild/internal/testutil/s3server"
)

// TestCloneFromAnS3Repository: instance home backs up to a real S3 server
// (versitygw on loopback); instance lab, in another data directory as on
// another machine, clones hello from that bucket knowing only its
// address, keys and password. Lab's hello serves lab's host, and the
// bucket is only read: not one object in it changes.
func TestCloneFromAnS3Repository(t *testing.T) {
	srv := s3server.Start(t)
	srv.CreateBucket(t, "wild")
	home := newFixture(t, "home", "home.test")
	for k, v := range map[string]string{"endpoint": srv.Endpoint, "bucket": "wild", "prefix": "home/", "region": srv.Region,
		"accessKeyID": srv.AccessKey, "insecure": "true"} {
		if err := home.inst.SetConfig("backup.destination.s3."+k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := home.inst.SetSecret("backup.s3.secretAccessKey", srv.SecretKey); err != nil {
		t.Fatal(err)
	}
	// Its own namespace, gone at the end: the other tests deploy hello too.
	const homeNS = "hello-s3-home"
	t.Cleanup(func() { _ = home.cs.CoreV1().Namespaces().Delete(home.ctx, homeNS, metav1.DeleteOptions{}) })
	if _, err := (&lifecycle.Add{Env: home.lenv(), App: "hello", Set: map[string]string{"namespace": homeNS}}).Run(home.ctx); err != nil {
		t.Fatal(err)
	}
	home.deploy()
	// As if home had added an older hello: the clone says so.
	mf := home.inst.Path("apps", "hello", "manifest.yaml")
	raw, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mf, []byte(strings.Replace(string(raw), "version: 1.10.3", "version: 1.9.0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := (&backup.Backup{Env: home.benv(), App: "hello"}).Run(home.ctx)
	if err != nil {
		t.Fatalf("backup to S3: %v", err)
	}
	pw, err := backup.ExportKey(home.inst)
	if err != nil {
		t.Fatal(err)
	}
	dest, err := backup.ReadDestination(home.inst)
	if err != nil {
		t.Fatal(err)
	}
	bucket := testutil.Tree(t, srv.Dir)

	lab := newFixture(t, "lab", "lab.test")
	const ns = "hello-s3-clone"
	t.Cleanup(func() { _ = lab.cs.CoreV1().Namespaces().Delete(lab.ctx, ns, metav1.DeleteOptions{}) })
	src := &backup.RepositorySource{Destination: backup.Destination{S3: dest.S3}, Password: pw, Instance: "home"}
	cl, err := (&backup.Clone{Env: lab.benv(), Catalog: catalog.Bundled(), App: "hello", Repository: src,
		Set: map[string]string{"namespace": ns}}).Run(lab.ctx)
	if err != nil {
		t.Fatalf("clone from S3: %v", err)
	}
	if cl.ID != res.ID || cl.Namespace != ns {
		t.Errorf("clone result %+v, want backup %s in %s", cl, res.ID, ns)
	}
	if !strings.Contains(strings.Join(cl.Warnings, "\n"), "made by hello 1.9.0; this catalog adds 1.10.3") {
		t.Errorf("the clone of an older version warned %q", cl.Warnings)
	}
	ing, err := lab.cs.NetworkingV1().Ingresses(ns).Get(lab.ctx, "hello", metav1.GetOptions{})
	if err != nil || len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "hello.internal.lab.test" {
		t.Fatalf("lab's hello serves %v (%v), want hello.internal.lab.test", ing, err)
	}
	if after := testutil.Tree(t, srv.Dir); after != bucket {
		t.Error("the clone changed objects in the source bucket")
	}
	// A wrong password opens nothing and adds nothing.
	other := newFixture(t, "other", "other.test")
	bad := *src
	bad.Password += "x"
	_, err = (&backup.Clone{Env: other.benv(), Catalog: catalog.Bundled(), App: "hello", Repository: &bad}).Run(other.ctx)
	if err == nil {
		t.Fatal("a clone with a wrong repository password ran")
	}
	if _, serr := os.Stat(other.inst.AppDir("hello")); !os.IsNotExist(serr) {
		t.Errorf("a clone refused for its password (%v) added the app: %v", err, serr)
	}
	t.Logf("wrong password: %v", err)
}
