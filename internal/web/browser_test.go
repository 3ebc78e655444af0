package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wild-cloud/wild/internal/catalog"
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
	b := &browser{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{
			DataDir: t.TempDir(), Listen: "127.0.0.1:0", UI: web.New,
			Catalog:   func() (*catalog.Catalog, error) { return catalog.Bundled(), nil },
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

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
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
}
