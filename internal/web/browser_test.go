package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/catalogtest"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/daemon"
	"github.com/wild-cloud/wild/internal/web"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// browser is a real headless Chromium on a real daemon.
type browser struct {
	t      *testing.T
	ctx    context.Context
	base   string
	setup  string
	data   string // the daemon's data directory
	catDir string // the catalog it serves, which a test may change
	mu     sync.Mutex
	errors []string
}

func chromium(t *testing.T) string {
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: apt-get install chromium (make test installs it as root)")
	return ""
}

func start(t *testing.T) *browser {
	t.Helper()
	catDir, cat := catalogtest.Copy(t)
	b := &browser{t: t, data: t.TempDir(), catDir: catDir}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{
			DataDir: b.data, Listen: "127.0.0.1:0", UI: web.New,
			Catalog:   cat,
			Log:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Heartbeat: 200 * time.Millisecond, Grace: 2 * time.Second,
			Ready: func(base, setup string) { b.base, b.setup = base, setup; close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	// Run once without a timeout: the first Run starts the browser for the
	// life of bctx.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	b.ctx = bctx
	return b
}

// void drops an action's value, to chain it with others.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// eventually retries cond (which may span page loads) until it holds.
func (b *browser) eventually(step string, d time.Duration, cond func() bool) {
	b.t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			b.shot("failed-" + step)
			b.t.Fatalf("%s: not within %s", step, d)
		}
	}
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.within(time.Minute, step, actions...)
}

// within runs a step that may take up to d (a deploy).
func (b *browser) within(d time.Duration, step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	// A step acts on a page whose script runs: before that, a click
	// would submit a form natively.
	b.eventually(step+": page ready", time.Minute, func() bool {
		return b.js(`String(document.readyState === 'complete' && document.documentElement.dataset.ready === '1')`) == "true" || b.js(`location.href`) == "about:blank"
	})
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + step)
		b.t.Fatalf("%s: %v", step, err)
	}
}

// clean fails on any JavaScript error or console error so far.
func (b *browser) clean(step string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		b.t.Fatalf("%s: browser errors: %s", step, strings.Join(b.errors, "\n"))
	}
}

// forgive drops the console's record of the n HTTP errors a step caused
// on purpose (Chromium logs every failed request, a little later).
func (b *browser) forgive(step, status string, n int) {
	b.t.Helper()
	found := 0
	b.eventually(step+": failed requests logged", 10*time.Second, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		var kept []string
		for _, e := range b.errors {
			if strings.Contains(e, "status of "+status) {
				found++
				continue
			}
			kept = append(kept, e)
		}
		b.errors = kept
		return found >= n
	})
}

// phone checks the current page at 375 px: nothing wider than the screen,
// then goes back to a wide window.
func (b *browser) phone(step string) {
	b.t.Helper()
	b.run(step+" at 375px", chromedp.EmulateViewport(375, 800))
	if width := eval[int](b, `document.documentElement.scrollWidth`); width > 375 {
		wide := eval[[]string](b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376).slice(0,5).map(e => e.tagName+'.'+e.className)`)
		b.shot("phone-" + step)
		b.t.Fatalf("%s: page is %d px wide at 375 px: %v", step, width, wide)
	}
	b.shot("phone-" + strings.ReplaceAll(step, " ", "-"))
	b.run(step+" wide", chromedp.EmulateViewport(1280, 900))
	b.unlabeled(step)
}

// unlabeled fails on a visible form field without a label.
func (b *browser) unlabeled(step string) {
	b.t.Helper()
	missing := eval[[]string](b, `[...document.querySelectorAll('input:not([type=hidden]),select,textarea')].filter(e => !(e.labels && e.labels.length)).map(e => e.name || e.id)`)
	if len(missing) > 0 {
		b.t.Fatalf("%s: fields without a label: %v", step, missing)
	}
}

// text reads an element's visible text. A page that reloads itself (when
// an operation it follows ends) can replace the element between finding
// and reading it ("No node with given id found"): then it reads the new
// page's.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	for {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err == nil {
			return s
		}
		if !strings.Contains(err.Error(), "No node with given id") || ctx.Err() != nil {
			b.t.Fatalf("read %s: %v", sel, err)
		}
	}
}

// shot saves a PNG when WILD_SCREENSHOTS names a directory.
func (b *browser) shot(name string) {
	dir := os.Getenv("WILD_SCREENSHOTS")
	if dir == "" {
		return
	}
	if png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Poll[bool](fmt.Sprintf(`!!document.querySelector(%q) && document.querySelector(%q).textContent.includes(%q)`, sel, sel, want), chromedp.WithPollingTimeout(3*time.Minute)))
}

func TestBrowserJourney(t *testing.T) {
	b := start(t)
	kc, err := os.ReadFile(clustertest.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	const password = "correct horse battery"

	// 1. First-run setup from the link wild serve prints.
	b.run("setup", chromedp.Navigate(b.setup), chromedp.WaitVisible(chromedp.CSS(`#password`)))
	b.phone("setup")
	b.shot("setup")
	b.run("set password",
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.SendKeys(chromedp.CSS(`#confirm`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit].primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#kubeconfig`)),
	)
	b.clean("setup")

	// 2. Sign out and in again.
	b.run("sign out", chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#password`)))
	b.phone("login")
	b.shot("login")
	b.run("login",
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#kubeconfig`)),
	)
	b.clean("login")

	// The first instance, from its form.
	b.phone("new instance")
	b.within(4*time.Minute, "create instance",
		chromedp.SetValue(chromedp.CSS(`#domain`), "cloud.example.com"),
		chromedp.SetValue(chromedp.CSS(`#kubeconfig`), string(kc)),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#att`)),
	)
	b.clean("create instance")
	if s := b.text("main"); !strings.Contains(s, "No apps yet") {
		t.Fatalf("home of a new instance: %q", s)
	}

	// Catalog: search and add postgres.
	b.run("catalog", chromedp.Click(chromedp.CSS(`a[href$="/catalog"]`)), chromedp.WaitVisible(chromedp.CSS(`#q`)))
	b.phone("catalog")
	b.shot("catalog")
	// The search is a GET: wait for the new page (hello, which does not
	// match, is gone) before touching its cards.
	b.run("search", chromedp.SendKeys(chromedp.CSS(`#q`), "postgres"), chromedp.Submit(chromedp.CSS(`#q`)),
		chromedp.WaitNotPresent(chromedp.CSS(`li[data-app=hello]`)),
		chromedp.WaitVisible(chromedp.CSS(`li[data-app=postgres]`)))
	cards := eval[int](b, `document.querySelectorAll('li.pkg').length`)
	if cards < 1 || !strings.Contains(b.text(`li[data-app=postgres]`), "Add") {
		t.Fatalf("search postgres: %d cards", cards)
	}
	b.run("add postgres", chromedp.Click(chromedp.CSS(`li[data-app=postgres] a.button`)), chromedp.WaitVisible(chromedp.CSS(`form[data-api] button.primary`)))
	b.phone("add postgres")
	b.within(4*time.Minute, "submit postgres", chromedp.Click(chromedp.CSS(`form[data-api] button.primary`)), chromedp.WaitVisible(chromedp.CSS(`#deploy`)))
	b.clean("add postgres")

	// 3. vaultwarden needs postgres: the picker offers it; a bad port is
	// caught beside its field and fixed.
	b.run("add vaultwarden", chromedp.Navigate(b.base+"/i/home/add/vaultwarden"), chromedp.WaitVisible(chromedp.CSS(`#f-port`)))
	b.phone("add vaultwarden")
	b.shot("add-form")
	if s := b.text(`fieldset.deps`); !strings.Contains(s, "postgres") {
		t.Fatalf("dependency picker: %q", s)
	}
	// Templated defaults show what they resolve to in this instance.
	if s := b.text(`#f-domain-tpl`); !strings.Contains(s, "vaultwarden.cloud.example.com") {
		t.Fatalf("templated default preview of domain: %q", s)
	}
	if s := b.text(`#f-dbHost-tpl`); !strings.Contains(s, "postgres") {
		t.Fatalf("templated default preview of dbHost: %q", s)
	}
	b.run("bad port", chromedp.SetValue(chromedp.CSS(`#f-port`), "80a80"), chromedp.Click(chromedp.CSS(`form[data-api] button.primary`)),
		waitText(`#f-port-err`, "whole number"))
	url := eval[string](b, `location.href`)
	if !strings.HasSuffix(url, "/add/vaultwarden") {
		t.Fatalf("a bad port submitted the form: now at %s", url)
	}
	b.within(4*time.Minute, "fix port", chromedp.SetValue(chromedp.CSS(`#f-port`), "8080"), chromedp.Click(chromedp.CSS(`form[data-api] button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#deploy`)))
	b.clean("add vaultwarden")
	if s := b.text(`#state`); s != "added" {
		t.Fatalf("vaultwarden state after add: %q", s)
	}

	// 4+5. Deploy, reload mid-deploy, and see the log continue to Ready.
	// The deploy may finish before the reload on the simulated cluster;
	// when it is still running the reloaded page must reattach to it.
	b.run("deploy", chromedp.Click(chromedp.CSS(`#deploy`)), chromedp.Sleep(300*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#state`)))
	if follow := eval[string](b, `(document.querySelector('#oplog') && document.querySelector('#oplog').dataset.follow) || ''`); follow != "" {
		// The page reloads itself when the operation ends, so read the
		// log as it grows, across that navigation.
		seen := ""
		b.eventually("log continues", 4*time.Minute, func() bool {
			ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
			defer cancel()
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`((document.querySelector('#oplog')||{}).textContent||'') + '|' + ((document.querySelector('#state')||{}).textContent||'')`))
			if err != nil {
				return false
			}
			log, state, _ := strings.Cut(s, "|")
			if len(log) > len(seen) {
				seen = log
			}
			return strings.Contains(seen, "succeeded") || state == "deployed"
		})
		if seen != "" && !strings.Contains(seen, "apply") {
			t.Fatalf("reattached log lacks the start of the operation: %q", seen)
		}
	} else {
		t.Log("deploy finished before the reload; no reattach to check")
	}
	b.eventually("deployed", 4*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#state')||{}).textContent||''`))
		return err == nil && s == "deployed"
	})
	b.clean("deploy")
	b.phone("app")
	b.shot("app")
	if s := b.text(`main`); !strings.Contains(s, "Deployment") || !strings.Contains(s, "Current") {
		t.Fatalf("app page shows no resources: %q", s)
	}
	html := eval[string](b, `document.documentElement.outerHTML`)
	if !strings.Contains(html, "••••") {
		t.Fatal("secrets are not shown masked")
	}

	// The home page now lists the app as deployed.
	b.run("home", chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS(`li[data-app=vaultwarden]`)))
	if s := b.text(`li[data-app=vaultwarden]`); !strings.Contains(s, "deployed") {
		t.Fatalf("home: %q", s)
	}
	b.phone("home")
	b.shot("home")
	b.clean("home")

	// The operations history keeps each operation's full log.
	b.run("app again", chromedp.Navigate(b.base+"/i/home/apps/vaultwarden"), chromedp.WaitVisible(chromedp.CSS(`ul.ops a`)))
	b.run("op log", chromedp.Click(chromedp.CSS(`ul.ops a`)), chromedp.WaitVisible(chromedp.CSS(`#oplog`)))
	b.within(2*time.Minute, "op log replayed", waitText(`#oplog`, "succeeded"))
	if s := b.text(`#oplog`); !strings.Contains(s, "apply") || !strings.Contains(s, "wait") {
		t.Fatalf("operation log lacks its phases: %q", s)
	}
	b.phone("operation")
	b.shot("operation")
	b.clean("operation")

	b.oneClickDependency()
	b.settings(string(kc))
	b.editAndRedeploy()
	b.reconcileDrift()
	b.updateThroughReview()
	b.rollback()
	b.readOnly()
	b.deleteWithConfirmation()
}

// vaultwarden is the app page the later steps work on.
func (b *browser) vaultwarden() string { return b.base + "/i/home/apps/vaultwarden" }

// js evaluates expr and returns its string value, "" while the page is
// between loads.
func (b *browser) js(expr string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		return ""
	}
	return s
}

// until waits for a JavaScript condition that may span page loads.
func (b *browser) until(step, cond string) {
	b.t.Helper()
	b.eventually(step, 4*time.Minute, func() bool { return b.js(`String(!!(`+cond+`))`) == "true" })
}

// settle waits until no operation on vaultwarden runs: a page that
// follows one reloads itself when it ends.
func (b *browser) settle(step string) {
	b.t.Helper()
	b.eventually(step+": settled", 4*time.Minute, func() bool {
		b.open(step+": open", b.vaultwarden(), `#state`)
		return b.js(`(document.querySelector('#oplog')||{dataset:{}}).dataset.follow||''`) == "" && b.js(`document.querySelector('#state').textContent`) == "deployed"
	})
}

// open navigates to url, retrying while the page still reloads itself.
func (b *browser) open(step, url, sel string) {
	b.t.Helper()
	b.eventually(step, time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		return chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))) == nil
	})
}

func (b *browser) config() string {
	b.t.Helper()
	c, err := os.ReadFile(filepath.Join(b.data, "instances", "home", "config.yaml"))
	if err != nil {
		b.t.Fatal(err)
	}
	return string(c)
}

// fetchStatus makes an API call from the page, as its script would, and
// returns the HTTP status.
func (b *browser) fetchStatus(method, url, body string) int {
	b.t.Helper()
	return fetch[int](b, method, url, body, "r.status")
}

// fetchText is fetchStatus returning the answer's body.
func (b *browser) fetchText(method, url, body string) string {
	b.t.Helper()
	return fetch[string](b, method, url, body, "r.text()")
}

func fetch[T any](b *browser, method, url, body, answer string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	expr := fmt.Sprintf(`fetch(%q, {method: %q, headers: {"Content-Type": "application/json"}, body: %s}).then(r => %s)`, url, method, body, answer)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("fetch %s %s: %v", method, url, err)
	}
	return v
}

// oneClickDependency adds ghost, which needs a mysql nobody added: the
// form offers to add mysql too, and one click adds both.
func (b *browser) oneClickDependency() {
	b.t.Helper()
	b.run("add ghost", chromedp.Navigate(b.base+"/i/home/add/ghost"), chromedp.WaitVisible(chromedp.CSS(`#also-db`)))
	if s := b.text(`fieldset.deps`); !strings.Contains(s, "mysql") || !strings.Contains(s, "added too") {
		b.t.Fatalf("no offer to add the missing dependency: %q", s)
	}
	b.phone("add ghost")
	b.within(4*time.Minute, "add ghost and mysql", chromedp.Click(chromedp.CSS(`form[data-api] button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#deploy`)))
	if u := eval[string](b, `location.pathname`); u != "/i/home/apps/ghost" {
		b.t.Fatalf("after adding ghost: at %s", u)
	}
	if s := b.text(`main`); !strings.Contains(s, "mysql") && !strings.Contains(b.config(), "mysql:") {
		b.t.Fatalf("mysql was not added with ghost")
	}
	// One transaction, all or none: one instance-wide add-apps run, not
	// an add of mysql and then one of ghost.
	var runs struct {
		Operations []struct{ Action, App, Status string }
	}
	if err := json.Unmarshal([]byte(b.fetchText("GET", "/api/v1/operations?instance=home", "undefined")), &runs); err != nil || len(runs.Operations) == 0 {
		b.t.Fatalf("operations: %+v %v", runs, err)
	}
	if last := runs.Operations[0]; last.Action != "add" || last.App != "" || last.Status != "succeeded" {
		b.t.Fatalf("the one-click add ran as %+v, want one succeeded instance-wide add", last)
	}
	b.run("home after ghost", chromedp.Navigate(b.base+"/i/home"), chromedp.WaitVisible(chromedp.CSS(`li[data-app=ghost]`)))
	if n := eval[int](b, `document.querySelectorAll('li[data-app=mysql]').length`); n != 1 {
		b.t.Fatal("mysql is not listed on the home page after the one-click add")
	}
	b.clean("add ghost")
}

// settings changes the SMTP relay and uploads a kubeconfig, refusing a
// bad one with the API's message.
func (b *browser) settings(kubeconfig string) {
	b.t.Helper()
	b.run("settings", chromedp.Click(chromedp.CSS(`a[href$="/settings"]`)), chromedp.WaitVisible(chromedp.CSS(`#s-smtp-host`)))
	b.phone("settings")
	b.run("save settings", chromedp.SetValue(chromedp.CSS(`#s-smtp-host`), "smtp.example.com"),
		chromedp.SetValue(chromedp.CSS(`#s-smtp-user`), "mailer"), chromedp.Click(chromedp.CSS(`#save-settings`)))
	b.until("settings saved", `document.querySelector('#s-smtp-host') && document.querySelector('#s-smtp-host').defaultValue === 'smtp.example.com'`)
	if c := b.config(); !strings.Contains(c, "host: smtp.example.com") || !strings.Contains(c, "user: mailer") {
		b.t.Fatalf("settings not saved:\n%s", c)
	}
	b.run("bad kubeconfig", chromedp.SetValue(chromedp.CSS(`#kc-text`), "this is not a kubeconfig"), chromedp.Click(chromedp.CSS(`#save-kubeconfig`)),
		waitText(`#kubeconfig-form .problem`, "kubeconfig"))
	b.forgive("bad kubeconfig", "400", 1)
	b.run("upload kubeconfig", chromedp.SetValue(chromedp.CSS(`#kc-text`), kubeconfig), chromedp.Click(chromedp.CSS(`#save-kubeconfig`)))
	b.until("kubeconfig uploaded", `document.querySelector('#kc-text') && document.querySelector('#kc-text').value === '' && document.querySelector('#kubeconfig-form .problem').hidden`)
	if s := b.text(`#kc-state`); !strings.Contains(s, "kubeconfig is set") {
		b.t.Fatalf("after the upload: %q", s)
	}
	b.shot("settings")
	b.clean("settings")
}

// editAndRedeploy changes a config value in the form and deploys it.
func (b *browser) editAndRedeploy() {
	b.t.Helper()
	b.run("config form", chromedp.Navigate(b.vaultwarden()), chromedp.WaitVisible(chromedp.CSS(`#f-signupsAllowed`)))
	b.run("save config", chromedp.SetValue(chromedp.CSS(`#f-signupsAllowed`), "false"), chromedp.Click(chromedp.CSS(`#save-config`)))
	b.until("config saved", `document.querySelector('#f-signupsAllowed') && document.querySelector('#f-signupsAllowed').dataset.initial === 'false'`)
	b.within(5*time.Minute, "redeploy", chromedp.Click(chromedp.CSS(`#deploy`)), chromedp.Sleep(time.Second))
	kcl := clustertest.Client(b.t)
	b.eventually("config deployed", 4*time.Minute, func() bool {
		dep, err := kcl.AppsV1().Deployments("vaultwarden").Get(b.ctx, "vaultwarden", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "SIGNUPS_ALLOWED" {
				return e.Value == "false"
			}
		}
		return false
	})
	b.settle("redeploy")

	// A secret is edited without its value ever reaching the page.
	const relay = "relay-pass-7Hq2"
	idx := eval[int](b, `[...document.querySelectorAll('.secrets input[name=path]')].findIndex(e => e.value === 'apps.vaultwarden.smtpPassword')`)
	if idx < 0 {
		b.t.Fatal("no edit form for the smtpPassword secret")
	}
	sec := fmt.Sprintf("#sec-%d", idx)
	b.run("edit secret", chromedp.Click(chromedp.CSS(`.secrets li:nth-child(`+fmt.Sprint(idx+1)+`) summary`)),
		chromedp.SendKeys(chromedp.CSS(sec), relay), chromedp.Click(chromedp.CSS(fmt.Sprintf("#save-sec-%d", idx))))
	b.eventually("secret saved", time.Minute, func() bool {
		c, _ := os.ReadFile(filepath.Join(b.data, "instances", "home", "secrets.yaml"))
		return strings.Contains(string(c), relay)
	})
	b.open("after the secret", b.vaultwarden(), `#state`)
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, relay) {
		b.t.Fatal("the edited secret's value is in the page")
	}
	b.clean("redeploy")
}

// reconcileDrift scales the deployment behind wild's back: the app page
// shows the drift, and Reconcile repairs it.
func (b *browser) reconcileDrift() {
	b.t.Helper()
	kcl := clustertest.Client(b.t)
	scale, err := kcl.AppsV1().Deployments("vaultwarden").GetScale(b.ctx, "vaultwarden", metav1.GetOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	scale.Spec.Replicas = 3
	if _, err := kcl.AppsV1().Deployments("vaultwarden").UpdateScale(b.ctx, "vaultwarden", scale, metav1.UpdateOptions{}); err != nil {
		b.t.Fatal(err)
	}
	b.run("drift shown", chromedp.Navigate(b.vaultwarden()), chromedp.WaitVisible(chromedp.CSS(`#drifted`)))
	if s := b.text(`#drift-h + p + ul`); !strings.Contains(s, "Deployment/vaultwarden") || !strings.Contains(s, "replicas") {
		b.t.Fatalf("drift does not say which fields differ: %q", s)
	}
	b.phone("drift")
	b.shot("drift")
	b.run("reconcile", chromedp.Click(chromedp.CSS(`#reconcile`)))
	b.until("reconciled", `document.querySelector('#nodrift')`)
	b.settle("reconcile")
	b.clean("reconcile")
}

// updateThroughReview publishes a newer vaultwarden that renames the key
// the user set; the review shows the change and the rename is chosen in
// the form.
func (b *browser) updateThroughReview() {
	b.t.Helper()
	catalogtest.Edit(b.t, filepath.Join(b.catDir, "vaultwarden", "manifest.yaml"), "version: 1.32.7", "version: 1.33.0", "signupsAllowed:", "allowSignups:")
	catalogtest.Edit(b.t, filepath.Join(b.catDir, "vaultwarden", "deployment.yaml"), ".signupsAllowed", ".allowSignups")
	b.run("home shows the update", chromedp.Navigate(b.base+"/i/home"), waitText(`li[data-app=vaultwarden]`, "update available"))
	b.run("open review", chromedp.Navigate(b.vaultwarden()), chromedp.WaitVisible(chromedp.CSS(`#update`)),
		chromedp.Click(chromedp.CSS(`#update`)), chromedp.WaitVisible(chromedp.CSS(`#apply-update`)))
	if s := b.text(`#versions`); !strings.Contains(s, "1.32.7") || !strings.Contains(s, "1.33.0") {
		b.t.Fatalf("review versions: %q", s)
	}
	if s := b.text(`fieldset.breaking`); !strings.Contains(s, "signupsAllowed") {
		b.t.Fatalf("the removed key is not shown as a decision: %q", s)
	}
	if s := b.text(`#config-changes`); !strings.Contains(s, "allowSignups") {
		b.t.Fatalf("config changes lack the new key: %q", s)
	}
	if n := eval[int](b, `document.querySelectorAll('table.diff-sbs tr.d-change, table.diff-sbs tr.d-add').length`); n == 0 {
		b.t.Fatal("the side-by-side diff shows no changed line")
	}
	b.phone("update review")
	b.shot("update")
	b.run("resolve rename", chromedp.SetValue(chromedp.CSS(`#rn-signupsAllowed`), "allowSignups"))
	// vaultwarden's postgres runs on a kwok node here (simulated pods), so
	// its database cannot be dumped: the update is told to skip the backup
	// it would otherwise take first.
	b.run("skip the backup", chromedp.Click(chromedp.CSS(`#no-backup`)))
	b.within(5*time.Minute, "apply update", chromedp.Click(chromedp.CSS(`#apply-update`)), chromedp.WaitVisible(chromedp.CSS(`#state`)))
	b.until("deployed after update", `document.querySelector('#state') && document.querySelector('#state').textContent === 'deployed'`)
	if s := b.text(`main p.muted`); !strings.Contains(s, "1.33.0") {
		b.t.Fatalf("app page after the update: %q", s)
	}
	b.settle("update")
	if c := b.config(); !strings.Contains(c, "allowSignups: false") {
		b.t.Fatalf("the rename lost the user's value:\n%s", c)
	}
	b.clean("update")
}

// rollback restores the snapshot the update took.
func (b *browser) rollback() {
	b.t.Helper()
	b.run("rollback button", chromedp.Navigate(b.vaultwarden()), chromedp.WaitVisible(chromedp.CSS(`#rollback`)))
	if s := b.text(`#rollback`); !strings.Contains(s, "1.32.7") {
		b.t.Fatalf("rollback button: %q", s)
	}
	b.run("roll back", chromedp.Click(chromedp.CSS(`#rollback`)))
	b.until("rolled back", `document.querySelector('main p.muted') && document.querySelector('main p.muted').textContent.includes('1.32.7')`)
	if c := b.config(); !strings.Contains(c, "signupsAllowed: false") || strings.Contains(c, "allowSignups") {
		b.t.Fatalf("rollback did not restore the old config:\n%s", c)
	}
	b.settle("rollback")
	// The config form follows the installed package, not the newer catalog.
	if n := eval[int](b, `document.querySelectorAll('#f-signupsAllowed').length - document.querySelectorAll('#f-allowSignups').length`); n != 1 {
		b.t.Fatal("after the rollback the config form does not show the restored package's keys")
	}
	b.clean("rollback")
}

// mutating lists the page's actions outside disabled fieldsets and the
// search form: what a read token must not see.
const mutating = `[...document.querySelectorAll('main button, main a.button, main form[data-api], main form[data-config], main form[data-schedule]')].filter(e => !e.closest('[disabled], form[role=search]')).map(e => e.id || e.textContent.trim())`

// asReader runs steps signed in with a new read token.
func (b *browser) asReader(steps func()) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	tok, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/api/v1/tokens', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: 'viewer', scope: 'read'})}).then(r => r.json()).then(j => j.token)`, chromedp.EvalAwaitPromise))
	if err != nil || tok == "" {
		b.t.Fatalf("create a read token: %v", err)
	}
	b.headers(network.Headers{"Authorization": "Bearer " + tok})
	defer b.headers(network.Headers{})
	steps()
}

// readOnly browses as a read token: no button that would be refused, and
// the API refuses the calls anyway.
func (b *browser) readOnly() {
	b.t.Helper()
	b.asReader(b.readOnlyPages)
	if c := b.config(); strings.Contains(c, "evil.example.com") {
		b.t.Fatal("a read token changed the settings")
	}
	b.clean("read-only")
}

func (b *browser) readOnlyPages() {
	b.t.Helper()
	for _, pg := range []string{"/i/home", "/i/home/catalog", "/i/home/apps/vaultwarden", "/i/home/apps/vaultwarden/update", "/i/home/apps/vaultwarden/delete", "/i/home/apps/vaultwarden/backups", "/i/home/settings", "/i/home/add/listmonk"} {
		b.run("read-only "+pg, chromedp.Navigate(b.base+pg), chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		if got := eval[[]string](b, mutating); len(got) > 0 {
			b.shot("failed-readonly")
			b.t.Fatalf("a read token sees actions on %s: %v", pg, got)
		}
	}
	if s := b.text(`main`); !strings.Contains(s, "can read but not add") {
		b.t.Fatalf("read-only add page: %q", s)
	}
	for _, c := range []struct{ method, url, body string }{
		{"POST", "/api/v1/instances/home/apps/vaultwarden/deploy", "'{}'"},
		{"POST", "/api/v1/instances/home/apps/vaultwarden/rollback", "'{}'"},
		{"DELETE", "/api/v1/instances/home/apps/vaultwarden", "undefined"},
		{"PUT", "/api/v1/instances/home/settings", `JSON.stringify({domain: 'evil.example.com', email: 'a@b.c', smtp: {}})`},
		{"PUT", "/api/v1/instances/home/config", `JSON.stringify({path: 'apps.vaultwarden.port', value: '1'})`},
	} {
		if n := b.fetchStatus(c.method, c.url, c.body); n != 403 {
			b.t.Fatalf("a read token's %s %s: status %d, want 403", c.method, c.url, n)
		}
	}
	b.forgive("read-only", "403", 5)
}

func (b *browser) headers(h network.Headers) {
	b.t.Helper()
	b.run("set headers", func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h})
		return chromedp.Void{}, err
	})
}

// deleteWithConfirmation lists what will be lost before deleting.
func (b *browser) deleteWithConfirmation() {
	b.t.Helper()
	b.run("delete page", chromedp.Navigate(b.vaultwarden()), chromedp.Click(chromedp.CSS(`#delete`)), chromedp.WaitVisible(chromedp.CSS(`#confirm-delete`)))
	lost := b.text(`#lost`)
	for _, want := range []string{"vaultwarden", "vaultwarden-pvc", "apps.vaultwarden.dbPassword", "config.yaml apps.vaultwarden"} {
		if !strings.Contains(lost, want) {
			b.t.Fatalf("the confirmation does not list %s as lost: %q", want, lost)
		}
	}
	if s := b.text(`#keeps`); !strings.Contains(s, "postgres (the app it uses as db") {
		b.t.Fatalf("the confirmation does not say postgres stays: %q", s)
	}
	if html := eval[string](b, `document.documentElement.outerHTML`); strings.Contains(html, "postgresql://") {
		b.t.Fatal("a secret value is in the delete page")
	}
	b.phone("delete")
	b.shot("delete")
	b.run("wrong name", chromedp.SetValue(chromedp.CSS(`#confirm-name`), "vault"), chromedp.Click(chromedp.CSS(`#confirm-delete`)),
		waitText(`#confirm-name-err`, "vaultwarden"))
	if !strings.Contains(b.config(), "vaultwarden:") {
		b.t.Fatal("a wrong confirmation deleted the app")
	}
	b.within(5*time.Minute, "delete", chromedp.SetValue(chromedp.CSS(`#confirm-name`), "vaultwarden"), chromedp.Click(chromedp.CSS(`#confirm-delete`)),
		chromedp.WaitVisible(chromedp.CSS(`#att`)), chromedp.WaitNotPresent(chromedp.CSS(`li[data-app=vaultwarden]`)))
	if _, err := clustertest.Client(b.t).AppsV1().Deployments("vaultwarden").Get(b.ctx, "vaultwarden", metav1.GetOptions{}); err == nil {
		b.t.Fatal("the deployment survived the delete")
	}
	b.clean("delete")
}
