// Package render compiles Wild Directory templates: Go text/template with
// the sprig library and the gomplate additions app packages use
// (the strings.* namespace, toYaml, required, ...).
//
// It differs from plain text/template in one way that matters to users: a
// reference to a missing key is an error naming the file, the line and the
// dotted key, never "<no value>" or an empty string. The exception is a
// value that is only tested or defaulted ({{ .x | default "y" }},
// {{ required "msg" .x }}, {{ empty .x }}, {{ coalesce .a .b }}), because
// that is exactly what those functions are for.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/template"
	"time"
)

// MaxOutput bounds what one template may produce, so a runaway template
// (a huge range or repeat) fails instead of eating the machine's memory.
const MaxOutput = 16 << 20

// maxCached bounds the parse cache; past it the cache starts over, which
// only costs re-parsing.
const maxCached = 4096

// Engine renders templates. It is safe for concurrent use and caches
// parsed templates, so rendering the same package twice parses it once.
type Engine struct {
	mu    sync.RWMutex
	cache map[cacheKey]*parsed
}

// parsed is one cached template with a pool of clones to run it on. Each
// execution counts its own steps, so it runs on a clone whose fnStep is
// bound to that clone's budget. Cloning copies the large function maps,
// which was a quarter of an add's CPU when done per execution; kept
// clones are made once and reused, one execution at a time each. A
// sync.Pool would drop them at every garbage collection.
type parsed struct {
	t    *template.Template
	mu   sync.Mutex
	free []*runner
}

// maxIdleRunners bounds the clones kept per template: as many as
// executions of it ran at once, up to this.
const maxIdleRunners = 4

type runner struct {
	t *template.Template
	b *budget
}

func (p *parsed) runner() (*runner, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		r := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return r, nil
	}
	p.mu.Unlock()
	t, err := p.t.Clone()
	if err != nil {
		return nil, err
	}
	r := &runner{t: t, b: &budget{}}
	t.Funcs(template.FuncMap{fnStep: r.b.step})
	return r, nil
}

func (p *parsed) release(r *runner) {
	p.mu.Lock()
	if len(p.free) < maxIdleRunners {
		p.free = append(p.free, r)
	}
	p.mu.Unlock()
}

type cacheKey struct{ name, text string }

// New returns an Engine with an empty cache.
func New() *Engine {
	return &Engine{cache: map[cacheKey]*parsed{}}
}

// File renders a whole template file. name (e.g. "ghost/deployment.yaml")
// is used in errors.
func (e *Engine) File(name string, text []byte, data any) ([]byte, error) {
	if !bytes.Contains(text, []byte("{{")) {
		return text, nil
	}
	out, err := e.execute(name, 1, string(text), data)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// String renders one template string taken from a YAML scalar whose text
// starts at line `line` of file `name`; error lines count from there.
func (e *Engine) String(name string, line int, text string, data any) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	out, err := e.execute(name, line, text, data)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Check parses text without executing it, so a package can be validated
// without a config to render it with.
func (e *Engine) Check(name string, text []byte) error {
	if !bytes.Contains(text, []byte("{{")) {
		return nil
	}
	_, err := e.parse(name, 1, string(text))
	return err
}

func (e *Engine) execute(name string, line int, text string, data any) ([]byte, error) {
	p, err := e.parse(name, line, text)
	if err != nil {
		return nil, err
	}
	r, err := p.runner()
	if err != nil {
		return nil, &Error{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	defer p.release(r)
	run, b := r.t, r.b
	*b = budget{steps: MaxSteps, deadline: time.Now().Add(MaxDuration)}
	var buf bytes.Buffer
	err = run.Execute(&limitWriter{w: &buf, left: MaxOutput}, data)
	if err != nil {
		re := execError(run, name, line, text, data, err)
		if b.err != nil {
			if e, ok := re.(*Error); ok {
				e.Msg, e.Expr = b.err.Error(), ""
			}
		}
		return nil, redact(re, data)
	}
	return buf.Bytes(), nil
}

// MaxSteps and MaxDuration bound one template execution: loop iterations
// plus template calls, and wall time. Real packages use a few hundred.
var (
	MaxSteps    = 1_000_000
	MaxDuration = 10 * time.Second
)

type budget struct {
	steps    int
	deadline time.Time
	err      error
}

var errTooLong = errors.New("template runs too long")

func (b *budget) step() (string, error) {
	b.steps--
	switch {
	case b.steps < 0:
		b.err = fmt.Errorf("%w: over %d loop iterations and template calls; bound the loop (range over until N, or a smaller number)", errTooLong, MaxSteps)
	case b.steps%1024 == 0 && time.Now().After(b.deadline):
		b.err = fmt.Errorf("%w: over %s; bound the loop", errTooLong, MaxDuration)
	}
	return "", b.err
}

func (e *Engine) parse(name string, line int, text string) (*parsed, error) {
	key := cacheKey{name, text}
	e.mu.RLock()
	p := e.cache[key]
	e.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	// Cloning a prepared base copies two maps; Funcs would re-validate
	// every function by reflection, which was most of a cold parse.
	base, err := baseTemplate().Clone()
	if err != nil {
		return nil, &Error{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	t, err := base.New(name).Parse(text)
	if err != nil {
		return nil, parseError(name, line, err)
	}
	for _, tt := range t.Templates() {
		// The clone shares the base template's (empty) tree: rewriting it
		// too grew it by a step per parse, process-wide, so every later
		// parse walked a longer tree (a cold parse went from 0.7 to 28 ms
		// within one benchmark run), and concurrent parses raced on it.
		if tt.Tree != nil && tt.Name() != baseTemplate().Name() {
			rewrite(tt.Tree)
			addSteps(tt.Tree)
		}
	}
	e.mu.Lock()
	if len(e.cache) >= maxCached {
		e.cache = map[cacheKey]*parsed{}
	}
	p = &parsed{t: t}
	e.cache[key] = p
	e.mu.Unlock()
	return p, nil
}

// baseTemplate is built on first use, not at start: most wild processes
// (a no-op deploy, a status, a list) render nothing, and building it was a
// measurable part of every process's start (README, Performance).
var baseTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Option("missingkey=error").Funcs(buildFuncs()).Parse(""))
})

// Error is a template failure: a syntax error, a missing key, or a
// function that failed. Line is the line in File, counting from 1.
type Error struct {
	File string
	Line int
	// Key is the full dotted key of a missing (or null) value, e.g.
	// "apps.db.host"; empty for other errors.
	Key string
	// Expr is the template expression that failed, when known.
	Expr string
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrMissingKey is wrapped by every missing-key Error, for errors.Is.
var ErrMissingKey = errors.New("missing key")

var errTooLarge = fmt.Errorf("template output exceeds %d MiB", MaxOutput>>20)

type limitWriter struct {
	w    io.Writer
	left int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		return 0, errTooLarge
	}
	l.left -= len(p)
	return l.w.Write(p)
}
