// Package realnode holds the integration tests of the dev cluster's real
// node: real containers through the real kubelet and containerd, checked
// through client-go (exec, logs, port-forward, Service DNS).
package realnode
