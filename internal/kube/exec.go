package kube

import (
	"context"
	"fmt"
	"io"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// ExecOptions is one command run in a container through the API server.
type ExecOptions struct {
	Namespace, Pod, Container string
	Command                   []string
	// Stdin, when set, is streamed to the command; it is closed at EOF.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Exec runs a command in a pod's container, as `kubectl exec` does but
// without a process: WebSocket first (API servers from 1.30 on), SPDY when
// the server cannot upgrade. Output streams as it comes, so a database dump
// of any size passes through without being held in memory; cancelling ctx
// ends the stream. A command's non-zero exit is an error naming its status.
func (c *Client) Exec(ctx context.Context, o ExecOptions) error {
	req := c.Clientset.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(o.Namespace).Name(o.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: o.Container, Command: o.Command,
			Stdin: o.Stdin != nil, Stdout: o.Stdout != nil, Stderr: o.Stderr != nil,
		}, scheme.ParameterCodec)
	// The client's request timeout would cut a long dump; ctx bounds it.
	cfg := rest.CopyConfig(c.Config)
	cfg.Timeout = 0
	ex, err := newExecutor(cfg, req.URL())
	if err != nil {
		return err
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return fmt.Errorf("exec %v in %s/%s: %w", o.Command, o.Namespace, o.Pod, c.wrap(err))
	}
	return nil
}

func newExecutor(cfg *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
	if err != nil {
		return nil, err
	}
	sp, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, sp, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}
