package kube

import "github.com/wild-cloud/wild/internal/change"

// Action is what Apply did (or, in a dry run, would do) to one object.
type Action = change.Action

// Change is the outcome for one object.
type Change struct {
	Ref    ObjectRef
	Action Action
	DryRun bool
	// Diff is a unified diff of the changed fields in a dry run (Secret
	// values redacted), or for Secrets the names of changed keys.
	Diff string
	// Message explains an unusual outcome, e.g. a dry-run create that the
	// server could not validate because its namespace does not exist yet.
	Message string
}

// Result lists per-object changes in apply order, then prunes.
type Result struct {
	DryRun  bool
	Changes []Change
}

// Count returns how many changes have the action.
func (r *Result) Count(a Action) int {
	n := 0
	for _, c := range r.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// Changed reports whether anything was (or would be) modified.
func (r *Result) Changed() bool { return AnyChanged(r.Changes) }

// AnyChanged reports whether any change modifies something.
func AnyChanged(cs []Change) bool { return CountChanged(cs) > 0 }

// CountChanged counts the changes that modify something.
func CountChanged(cs []Change) int {
	n := 0
	for _, c := range cs {
		if c.Action.Changed() {
			n++
		}
	}
	return n
}
