// Package lifecycle holds the app operations: Add, Deploy, Delete, Update
// and friends. Each is a small type with one Run method, called the same
// way by the CLI and (later) the HTTP API.
package lifecycle

import (
	"fmt"
	"io"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/render"
)

// Env is what every operation needs.
type Env struct {
	Instance *instance.Instance
	Catalog  *catalog.Catalog
	Engine   *render.Engine
	// Log receives human progress lines; nil discards them.
	Log io.Writer
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

func (e *Env) engine() *render.Engine {
	if e.Engine == nil {
		e.Engine = render.New()
	}
	return e.Engine
}
