package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/clustertest"
)

// Instance settings and the kubeconfig through the API: bad input is
// refused with one clear line and changes nothing; a read token may look
// but not change; the delete plan and rendered defaults are reads.
func TestSettingsAndPlans(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data, nil)
	d.setupAdmin()
	admin := d.token("admin")
	kc, err := os.ReadFile(clustertest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	d.mustRun(admin, d.do("POST", "/api/v1/instances", admin, map[string]string{"name": "home", "domain": "cloud.example.com", "kubeconfig": string(kc)}))
	cfgFile := filepath.Join(data, "instances", "home", "config.yaml")
	before, _ := os.ReadFile(cfgFile)

	for _, bad := range []map[string]any{
		{"domain": "Not A Domain", "email": "me@example.com", "smtp": map[string]any{}},
		{"domain": "cloud.example.com", "email": "me@example.com", "smtp": map[string]any{"port": "99999"}},
		{"domain": "cloud.example.com", "email": "not an email", "smtp": map[string]any{}},
	} {
		r := d.do("PUT", "/api/v1/instances/home/settings", "cookie", bad)
		if r.status != 400 || strings.Count(strings.TrimSpace(r.body), "\n") > 0 {
			t.Fatalf("bad settings %v: %d %s", bad, r.status, r.body)
		}
	}
	if after, _ := os.ReadFile(cfgFile); string(after) != string(before) {
		t.Fatalf("refused settings changed config.yaml:\n%s", after)
	}
	read := d.token("read")
	if r := d.do("PUT", "/api/v1/instances/home/settings", read, map[string]any{"domain": "x.example.com", "email": "a@example.com", "smtp": map[string]any{}}); r.status != 403 {
		t.Fatalf("a read token set settings: %d %s", r.status, r.body)
	}
	r := d.do("PUT", "/api/v1/instances/home/settings", "cookie", map[string]any{"domain": "cloud.example.com", "email": "ops@example.com",
		"smtp": map[string]any{"host": "smtp.example.com", "port": "2525", "user": "mailer", "from": "noreply@example.com", "tls": false}})
	if r.status != 200 {
		t.Fatalf("set settings: %d %s", r.status, r.body)
	}
	var st struct {
		Email string
		SMTP  struct {
			Host, Port string
			TLS        bool
		}
	}
	d.do("GET", "/api/v1/instances/home/settings", read, nil).json(t, &st)
	if st.Email != "ops@example.com" || st.SMTP.Host != "smtp.example.com" || st.SMTP.Port != "2525" || st.SMTP.TLS {
		t.Fatalf("settings read back: %+v", st)
	}

	kcFile := filepath.Join(data, "instances", "home", "kubeconfig")
	if r := d.do("PUT", "/api/v1/instances/home/kubeconfig", "cookie", map[string]string{"kubeconfig": "clusters: [oops"}); r.status != 400 || !strings.Contains(r.body, "kubeconfig") {
		t.Fatalf("a broken kubeconfig: %d %s", r.status, r.body)
	}
	if got, _ := os.ReadFile(kcFile); string(got) != string(kc) {
		t.Fatal("a refused kubeconfig replaced the old one")
	}
	if r := d.do("PUT", "/api/v1/instances/home/kubeconfig", "cookie", map[string]string{"kubeconfig": string(kc)}); r.status != 200 {
		t.Fatalf("upload kubeconfig: %d %s", r.status, r.body)
	}
	if fi, err := os.Stat(kcFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig after upload: %v %v", fi, err)
	}

	// An added app: what delete would lose, and the form's resolved defaults.
	d.mustRun(admin, d.do("POST", "/api/v1/instances/home/apps", admin, map[string]any{"name": "postgres"}))
	var plan struct {
		Namespace string
		Secrets   []string
		Keeps     []string
	}
	d.do("GET", "/api/v1/instances/home/apps/postgres/delete-plan", read, nil).json(t, &plan)
	if plan.Namespace != "postgres" || len(plan.Secrets) != 1 || plan.Secrets[0] != "apps.postgres.password" || len(plan.Keeps) == 0 {
		t.Fatalf("delete plan: %+v", plan)
	}
	var defaults struct{ Domain, DbHost string }
	d.do("GET", "/api/v1/instances/home/apps/vaultwarden/defaults?dep=db=postgres", read, nil).json(t, &defaults)
	if defaults.Domain != "vaultwarden.cloud.example.com" || !strings.Contains(defaults.DbHost, "postgres") {
		t.Fatalf("rendered defaults: %+v", defaults)
	}
	if r := d.do("GET", "/api/v1/instances/home/apps/vaultwarden/defaults?dep=nonsense", read, nil); r.status != 400 {
		t.Fatalf("a malformed dep: %d %s", r.status, r.body)
	}
	var sec struct {
		Apps map[string]map[string]string
	}
	b, _ := os.ReadFile(filepath.Join(data, "instances", "home", "secrets.yaml"))
	if err := yaml.Unmarshal(b, &sec); err != nil || sec.Apps["postgres"]["password"] == "" {
		t.Fatalf("secrets.yaml: %v", err)
	}
	d.assertNoSecret([]string{sec.Apps["postgres"]["password"]})
}
