package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/backup"
	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

// TestBrowserBackups drives the backups page of hello, an app without a
// database or volume, so its backup (config strategy) is real on the
// simulated cluster: back up now with live progress, the list, the
// schedule form with its inline errors, and a read token's view.
func TestBrowserBackups(t *testing.T) {
	b := start(t)
	b.deleteAtEnd("hello", "hello", "hello-green")
	b.firstInstance()
	b.addThroughBatch("hello")
	b.run("add hello", chromedp.Navigate(b.base+"/i/home/add/hello"), chromedp.WaitVisible(chromedp.CSS(`form[data-api] button.primary`)))
	b.within(4*time.Minute, "submit hello", chromedp.Click(chromedp.CSS(`form[data-api] button.primary`)), chromedp.WaitVisible(chromedp.CSS(`#deploy`)))
	b.run("deploy hello", chromedp.Click(chromedp.CSS(`#deploy`)))
	b.until("hello deployed", `document.querySelector('#state') && document.querySelector('#state').textContent === 'deployed' && !document.querySelector('#oplog').dataset.follow`)
	b.run("backups page", chromedp.Click(chromedp.CSS(`#backups-link`)), chromedp.WaitVisible(chromedp.CSS(`#backup-now`)), chromedp.WaitVisible(chromedp.CSS(`#no-backups`)))
	b.phone("backups empty")
	b.clean("backups page")

	// The page reloads when the backup ends: keep what the live log
	// showed in the tab's session storage to read it after the reload.
	eval[bool](b, `new MutationObserver(() => { sessionStorage.oplog = document.querySelector('#oplog').textContent }).observe(document.querySelector('#oplog'), {childList: true, characterData: true, subtree: true}) === undefined`)
	b.run("back up now", chromedp.Click(chromedp.CSS(`#backup-now`)))
	b.until("listed as backed up", `document.querySelector('#backups tbody tr') && document.querySelector('#backups tbody tr').textContent.includes('backed-up')`)
	live := b.js(`sessionStorage.oplog || ''`)
	if !strings.Contains(live, "backup") || !strings.Contains(live, "succeeded") {
		t.Fatalf("the live log of the backup: %q", live)
	}
	row := b.text(`#backups tbody tr`)
	for _, want := range []string{"config", "stored)"} {
		if !strings.Contains(row, want) {
			t.Fatalf("backup row lacks %q: %q", want, row)
		}
	}
	id := b.js(`document.querySelector('#backups tbody tr').dataset.backup`)
	if _, err := os.Stat(filepath.Join(b.data, "instances", "home", "backups", "hello", id, "plan.yaml")); err != nil {
		t.Fatalf("the listed backup %q has no recovery plan: %v", id, err)
	}
	if n := eval[int](b, `document.querySelectorAll('#backups [id^=restore-]').length`); n != 1 {
		t.Fatalf("restore offered for %d backups, want 1", n)
	}
	b.clean("back up")

	// A restore drill: the newest backup comes back on a throwaway side
	// (simulated pods here: it proves the objects and the record, not
	// served data), and the page shows the last verified restore.
	b.run("drill", chromedp.Click(chromedp.CSS(`#verify-now`)))
	b.until("drill passed", fmt.Sprintf(`document.querySelector('#last-verified') && document.querySelector('#last-verified').textContent.includes(%q)`, id))
	if s := b.text(`#last-verified`); !strings.Contains(s, "RPO") || !strings.Contains(s, "RTO") {
		t.Fatalf("last verified restore: %q", s)
	}
	if s := b.text(`#backups tbody tr`); !strings.Contains(s, "passed") {
		t.Fatalf("the backup's drill column: %q", s)
	}
	b.clean("drill")

	// Schedule: a negative count and a bad cron are refused beside their
	// fields, and nothing is written.
	b.run("negative count", chromedp.SetValue(chromedp.CSS(`#s-keepDaily`), "-1"), chromedp.Click(chromedp.CSS(`#save-schedule`)),
		waitText(`#s-keepDaily-err`, "0 or more"))
	b.run("bad cron", chromedp.SetValue(chromedp.CSS(`#s-keepDaily`), "7"), chromedp.SetValue(chromedp.CSS(`#s-cron`), "61 3 * * *"),
		chromedp.Click(chromedp.CSS(`#save-schedule`)), waitText(`#s-cron-err`, "invalid schedule"))
	b.forgive("bad cron", "400", 1)
	if strings.Contains(b.config(), "retention") {
		t.Fatalf("a refused schedule was written:\n%s", b.config())
	}
	b.run("save schedule", chromedp.SetValue(chromedp.CSS(`#s-cron`), "0 3 * * *"), chromedp.SetValue(chromedp.CSS(`#s-keepLast`), "3"),
		chromedp.Click(chromedp.CSS(`#save-schedule`)))
	b.until("schedule saved", `document.querySelector('#s-cron') && document.querySelector('#s-cron').defaultValue === '0 3 * * *' && document.querySelector('#s-keepLast').defaultValue === '3'`)
	if s := b.text(`#s-cron-next`); !strings.Contains(s, "03:00") {
		t.Fatalf("the saved schedule's next runs: %q", s)
	}
	inst, err := instance.NewStore(b.data).Open("home")
	if err != nil {
		t.Fatal(err)
	}
	scheds, err := backup.ReadSchedules(inst)
	if err != nil {
		t.Fatalf("the saved schedule does not read back: %v", err)
	}
	if s := scheds["hello"]; s.Cron != "0 3 * * *" || s.Retention.KeepLast != 3 || s.Retention.KeepDaily != 7 || s.Retention.KeepWeekly != 0 {
		t.Fatalf("saved schedule: %+v", s)
	}
	b.phone("backups")
	b.clean("schedule")

	b.restoreToGreen(id)

	// A read token sees the backups, the standby and the schedule, and
	// nothing to press.
	b.asReader(func() {
		b.run("read-only backups", chromedp.Navigate(b.base+"/i/home/apps/hello/backups"), chromedp.WaitVisible(chromedp.CSS(`#backups`)))
		if got := eval[[]string](b, mutating); len(got) > 0 {
			b.shot("failed-readonly-backups")
			t.Fatalf("a read token sees actions on the backups page: %v", got)
		}
		if s := b.text(`#standby`); !strings.Contains(s, "hello-green") {
			t.Fatalf("a read token's standby section: %q", s)
		}
		if v := b.js(`document.querySelector('#s-cron').value`); v != "0 3 * * *" {
			t.Fatalf("a read token's schedule field: %q", v)
		}
		for _, route := range []string{"backup", "restore", "switch", "cleanup", "backups/prune", "verify"} {
			if n := b.fetchStatus("POST", "/api/v1/instances/home/apps/hello/"+route, "'{}'"); n != 403 {
				t.Fatalf("a read token's POST %s: status %d, want 403", route, n)
			}
		}
		b.forgive("read-only backups", "403", 6)
	})
	b.clean("read-only backups")
	b.switchAndCleanup()
}

// restoreToGreen restores backup id through the wizard: the standby
// namespace and its preview host are shown, and the live side is untouched.
func (b *browser) restoreToGreen(id string) {
	b.t.Helper()
	b.run("restore", chromedp.Click(chromedp.CSS(`details.restore summary`)), chromedp.Click(chromedp.CSS(`#restore-`+id)), chromedp.Sleep(time.Second))
	if s := b.js(`(document.querySelector('#standby') ? 'standby ' : '') + document.querySelector('#oplog').textContent`); s != "" {
		b.t.Fatal("the restore ran without its confirmation ticked")
	}
	b.run("confirm restore", chromedp.Click(chromedp.CSS(`#confirm-restore-`+id)), chromedp.Click(chromedp.CSS(`#restore-`+id)))
	b.until("restored", `document.querySelector('#standby-status') && ['restored', 'failed'].includes(document.querySelector('#standby-status').textContent)`)
	if s := b.text(`#standby-status`); s != "restored" {
		b.t.Fatalf("restore to green: %s: %s", s, b.text(`#standby`))
	}
	if s := b.text(`#standby-ns`); s != "hello-green" {
		b.t.Fatalf("standby namespace: %q", s)
	}
	if s := b.text(`#preview-hosts`); !strings.Contains(s, "hello-green.") {
		b.t.Fatalf("standby preview hosts: %q", s)
	}
	kcl := clustertest.Client(b.t)
	if _, err := kcl.AppsV1().Deployments("hello-green").Get(b.ctx, "hello", metav1.GetOptions{}); err != nil {
		b.t.Fatalf("no standby deployment: %v", err)
	}
	if _, err := kcl.AppsV1().Deployments("hello").Get(b.ctx, "hello", metav1.GetOptions{}); err != nil {
		b.t.Fatalf("the live deployment is gone after a restore: %v", err)
	}
	b.phone("restored")
	b.shot("backups")
	b.clean("restore")
}

// switchAndCleanup moves the hosts to green and removes blue, each after
// its confirmation.
func (b *browser) switchAndCleanup() {
	b.t.Helper()
	b.run("switch", chromedp.Navigate(b.base+"/i/home/apps/hello/backups"), chromedp.WaitVisible(chromedp.CSS(`#switch`)),
		chromedp.Click(chromedp.CSS(`#confirm-switch`)), chromedp.Click(chromedp.CSS(`#switch`)))
	b.until("switched", `document.querySelector('#active') && document.querySelector('#active').textContent.includes('green') && document.querySelector('#cleanup')`)
	kcl := clustertest.Client(b.t)
	ing, err := kcl.NetworkingV1().Ingresses("hello-green").List(b.ctx, metav1.ListOptions{})
	if err != nil || len(ing.Items) == 0 || len(ing.Items[0].Spec.Rules) == 0 || ing.Items[0].Spec.Rules[0].Host != "hello.internal.cloud.example.com" {
		b.t.Fatalf("after the switch green does not serve the live host: %v %+v", err, ing)
	}
	// The app's page now shows the copy that serves.
	b.run("app page after switch", chromedp.Navigate(b.base+"/i/home/apps/hello"), chromedp.WaitVisible(chromedp.CSS(`#side`)))
	if side := b.text("#side"); !strings.Contains(side, "green") || !strings.Contains(side, "hello-green") {
		b.t.Fatalf("the app page after the switch says %q", side)
	}
	b.run("back to backups", chromedp.Navigate(b.base+"/i/home/apps/hello/backups"), chromedp.WaitVisible(chromedp.CSS(`#cleanup`)))
	b.run("cleanup", chromedp.Click(chromedp.CSS(`#confirm-cleanup`)), chromedp.Click(chromedp.CSS(`#cleanup`)))
	b.until("cleaned", `document.querySelector('#backups') && !document.querySelector('#standby') && document.querySelector('#backups tbody tr').textContent.includes('cleaned')`)
	if _, err := kcl.AppsV1().Deployments("hello-green").Get(b.ctx, "hello", metav1.GetOptions{}); err != nil {
		b.t.Fatalf("the active green deployment is gone after the cleanup: %v", err)
	}
	if ns, err := kcl.CoreV1().Namespaces().Get(b.ctx, "hello", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		b.t.Fatal("the cleanup left the retired namespace hello")
	}
	b.clean("switch and cleanup")
}

// firstInstance sets the admin password and creates instance home on the
// local cluster through the first-run forms.
func (b *browser) firstInstance() {
	b.t.Helper()
	kc, err := os.ReadFile(clustertest.Kubeconfig(b.t))
	if err != nil {
		b.t.Fatal(err)
	}
	const password = "correct horse battery"
	b.run("setup", chromedp.Navigate(b.setup), chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), password), chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit].primary`)), chromedp.WaitVisible(chromedp.CSS(`#kubeconfig`)))
	b.within(4*time.Minute, "create instance",
		chromedp.SetValue(chromedp.CSS(`#domain`), "cloud.example.com"),
		chromedp.SetValue(chromedp.CSS(`#kubeconfig`), string(kc)),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#att`)),
	)
	b.clean("first instance")
}

// deleteAtEnd deletes app, every side of it, when the test ends, through
// the service layer, and waits until its namespaces are gone: the next
// run (go test -count=2) makes a new instance, which may not deploy into
// namespaces this one owns.
func (b *browser) deleteAtEnd(app string, namespaces ...string) {
	b.t.Cleanup(func() {
		inst, err := instance.NewStore(b.data).Open("home")
		if err != nil {
			return // no instance: the test stopped before deploying
		}
		cat, err := catalog.OpenDir(b.catDir)
		if err != nil {
			b.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := (&lifecycle.Delete{Env: lifecycle.Env{Instance: inst, Catalog: cat}, App: app}).Run(ctx); err != nil {
			b.t.Errorf("deleting %s after the test: %v", app, err)
		}
		kcl := clustertest.Client(b.t)
		for _, ns := range namespaces {
			b.eventually("namespace "+ns+" gone after deleting "+app, 3*time.Minute, func() bool {
				_, err := kcl.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				return apierrors.IsNotFound(err)
			})
		}
	})
}

// addThroughBatch adds apps with the API's add-apps operation, as the page
// script calls the API, and checks its page: an instance-wide run, whose
// way back leads to the instance.
func (b *browser) addThroughBatch(apps ...string) {
	b.t.Helper()
	names, _ := json.Marshal(apps)
	var run struct{ ID, Status string }
	if err := json.Unmarshal([]byte(b.fetchText("POST", "/api/v1/instances/home/apps/batch", fmt.Sprintf(`'{"names": %s}'`, names))), &run); err != nil || run.ID == "" {
		b.t.Fatalf("add-apps answered no run: %+v %v", run, err)
	}
	b.eventually("batch add ends", time.Minute, func() bool {
		json.Unmarshal([]byte(b.fetchText("GET", "/api/v1/operations/"+run.ID, "undefined")), &run)
		return run.Status != "running"
	})
	b.run("batch add page", chromedp.Navigate(b.base+"/i/home/ops/"+run.ID), chromedp.WaitVisible(chromedp.CSS(`#op-back`)))
	if s := b.text(`#op-status`); s != "succeeded" {
		b.t.Fatalf("the batch add %s: %s", run.ID, s)
	}
	if h, s := b.js(`document.querySelector('#op-back').getAttribute('href')`), b.text(`h1`); h != "/i/home" || !strings.Contains(s, "add in home") {
		b.t.Fatalf("an instance-wide run's page: heading %q, way back %q", s, h)
	}
	b.until("the run's log", `document.querySelector('#oplog').textContent.includes('== add succeeded')`)
	if log := b.text(`#oplog`); !strings.Contains(log, "hello: phase_started resolve dependencies") {
		b.t.Fatalf("a run over several apps does not name the app of each line:\n%s", log)
	}
	b.phone("instance-wide run")
	b.shot("op-instance")
	b.clean("batch add")
}
