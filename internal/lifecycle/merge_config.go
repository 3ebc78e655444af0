package lifecycle

import "github.com/wild-cloud/wild/internal/merge"

// The update review's config types are the merge package's: the service
// layer returns them as they are.
type (
	ConfigChange = merge.ConfigChange
	RemovedKey   = merge.RemovedKey
)
