package cli

import (
	"context"

	"github.com/wild-cloud/wild/internal/lifecycle"
)

// clusterStater returns how to ask the cluster for an app's state; nil
// (no cluster lookups) until deploy support provides one.
func clusterStater(ctx context.Context, env lifecycle.Env) lifecycle.ClusterStater {
	return nil
}
