package instance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gofrs/flock"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/problem"
)

// App locks serialise long operations (deploy, delete, update) on one app
// without blocking work on other apps. A flock excludes other processes;
// the in-process table below excludes goroutines of this one (a daemon runs
// many operations at once) without relying on how the kernel treats two
// descriptors of one file, and remembers which operation holds each lock.
var appLocks = struct {
	sync.Mutex
	held map[string]string // lock path -> holder ("" until an operation names itself)
}{held: map[string]string{}}

// LockApp takes the app's lock, waiting up to fsutil.LockTimeout for
// another holder to finish.
func (i *Instance) LockApp(app string) (func(), error) {
	return i.lockApp(app, true)
}

// LockApps takes the locks of several apps, in name order so that two
// callers locking overlapping sets cannot deadlock, and returns the
// function that releases them all.
func (i *Instance) LockApps(apps ...string) (func(), error) {
	sorted := slices.Sorted(slices.Values(apps))
	var unlocks []func()
	unlock := func() {
		for _, u := range slices.Backward(unlocks) {
			u()
		}
	}
	for _, app := range slices.Compact(sorted) {
		u, err := i.LockApp(app)
		if err != nil {
			unlock()
			return nil, err
		}
		unlocks = append(unlocks, u)
	}
	return unlock, nil
}

// TryLockApp takes the app's lock or fails at once with a
// *problem.Error{Code: Conflict} naming what holds it.
func (i *Instance) TryLockApp(app string) (func(), error) {
	return i.lockApp(app, false)
}

// NoteAppLock records which operation holds the app's lock, so a caller
// refused by TryLockApp can be told which one to wait for.
func (i *Instance) NoteAppLock(app, holder string) {
	p := i.appLockPath(app)
	appLocks.Lock()
	defer appLocks.Unlock()
	if _, ok := appLocks.held[p]; ok {
		appLocks.held[p] = holder
		_ = os.WriteFile(p, []byte(fmt.Sprintf("%s pid %d\n", holder, os.Getpid())), 0o644)
	}
}

func (i *Instance) appLockPath(app string) string {
	return filepath.Join(i.Path(txDir), "app-"+app+".lock")
}

func (i *Instance) lockApp(app string, wait bool) (func(), error) {
	if err := names.Validate("app", app); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(i.Path(txDir), 0o755); err != nil {
		return nil, err
	}
	p := i.appLockPath(app)
	if !wait {
		return tryAppLock(app, p)
	}
	var last error
	deadline := fsutil.Deadline()
	for {
		unlock, err := tryAppLock(app, p)
		if err == nil {
			return unlock, nil
		}
		if problem.CodeOf(err) != problem.Conflict {
			return nil, err
		}
		last = err
		if !deadline.Sleep() {
			return nil, fmt.Errorf("%w (waited %s); retry when it finishes", last, fsutil.LockTimeout)
		}
	}
}

func tryAppLock(app, p string) (func(), error) {
	appLocks.Lock()
	defer appLocks.Unlock()
	if holder, busy := appLocks.held[p]; busy {
		return nil, busyError(app, holder)
	}
	fl := flock.New(p)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if !ok {
		b, _ := os.ReadFile(p)
		return nil, busyError(app, strings.TrimSpace(string(b)))
	}
	appLocks.held[p] = ""
	return func() {
		appLocks.Lock()
		defer appLocks.Unlock()
		delete(appLocks.held, p)
		_ = fl.Unlock()
	}, nil
}

func busyError(app, holder string) error {
	msg := fmt.Sprintf("app %s is busy: another operation holds its lock", app)
	if holder != "" {
		msg = fmt.Sprintf("app %s is busy: operation %s holds its lock", app, holder)
	}
	return problem.New(problem.Conflict, msg)
}
