package lifecycle

import "github.com/wild-cloud/wild/internal/instance"

// ClusterStateIfConfigured is ClusterState when the instance has a
// kubeconfig, nil (added apps show as "added") when it has none.
func ClusterStateIfConfigured(inst *instance.Instance) ClusterStater {
	if inst == nil {
		return nil
	}
	if _, err := inst.Kubeconfig(); err != nil {
		return nil
	}
	return ClusterState(inst)
}
