package cli

import (
	"context"

	"github.com/wild-cloud/wild/internal/lifecycle"
)

// clusterStater asks the instance's cluster for each added app's state;
// nil when there is no instance or no cluster.
func clusterStater(_ context.Context, env lifecycle.Env) lifecycle.ClusterStater {
	return lifecycle.ClusterStateIfConfigured(env.Instance)
}
