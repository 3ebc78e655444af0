// Package change is the one vocabulary of what an operation did (or, in a
// dry run or review, would do) to an object, a compiled file or a config
// key: apply, dry run, diff, add and the update review all speak it, and
// the CLI, the API and the UI render it.
package change

// Action is what happened to one thing.
type Action string

const (
	Created    Action = "created"
	Configured Action = "configured" // changed in place
	Unchanged  Action = "unchanged"
	Pruned     Action = "pruned" // removed: no longer wanted
	Recreated  Action = "recreated"
	// Skipped marks an object prune left alone because it no longer
	// carries the app's labels (someone else took it over).
	Skipped Action = "skipped"
	// Kept: a config value the user set stays although its default
	// changed (update review only).
	Kept Action = "kept"
	// Renamed: a config value moved to a renamed key (update review).
	Renamed Action = "renamed"
)

// Changed is the one predicate: every action but unchanged, skipped and
// kept modifies (or would modify) something.
func (a Action) Changed() bool { return a != Unchanged && a != Skipped && a != Kept }
