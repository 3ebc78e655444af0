// Package crashpoint is where crash-safety tests break in. Product code
// calls Hit at named points (an update's "after-snapshot", an instance
// commit's "after-journal", ...); normally that does nothing. A test
// process started with WILD_TEST_CRASH_AT=<point> kills itself with
// SIGKILL there, and an in-process test can Set its own handler, to prove
// that an operation interrupted anywhere leaves the instance fully old or
// fully new. Nothing else in the product reads a test variable.
package crashpoint

import (
	"os"
	"sync/atomic"
	"syscall"
)

// Env names the point at which a process kills itself.
const Env = "WILD_TEST_CRASH_AT"

var (
	armedAt = os.Getenv(Env)
	handler atomic.Pointer[func(string)]
)

// Hit marks the named point.
func Hit(name string) {
	if h := handler.Load(); h != nil {
		(*h)(name)
		return
	}
	if armedAt != "" && armedAt == name {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered asynchronously
	}
}

// Set routes every point to f until the returned restore is called.
func Set(f func(name string)) (restore func()) {
	prev := handler.Swap(&f)
	return func() { handler.Store(prev) }
}
