package cli

import (
	"context"

	"github.com/wild-cloud/wild/internal/lifecycle"
)

// clusterStater asks the instance's cluster for each added app's state;
// nil when there is no instance.
func clusterStater(ctx context.Context, env lifecycle.Env) lifecycle.ClusterStater {
	if env.Instance == nil {
		return nil
	}
	if _, err := env.Instance.Kubeconfig(); err != nil {
		return nil
	}
	return lifecycle.ClusterState(env.Instance)
}
