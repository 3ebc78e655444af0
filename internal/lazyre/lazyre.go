// Package lazyre compiles a package's regular expressions on first use
// instead of at program start. Every wild process runs every linked
// package's initialisation, and most of them never match these
// expressions; compiled at start they cost every process (a no-op deploy,
// a status) a fraction of a millisecond (README, Performance).
package lazyre

import (
	"regexp"
	"sync"
)

// New returns a function that compiles expr once, on its first call, and
// panics then if expr is invalid, as regexp.MustCompile would have at start.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
