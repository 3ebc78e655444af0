// Package kube holds the cluster mechanics of Wild Cloud: building an app's
// manifests with Kustomize, server-side applying them with an inventory so
// removed objects are pruned, drift diffs with redacted Secrets, readiness
// waits with kstatus, and namespace ownership and recovery.
//
// Everything talks to the API server in-process through client-go; nothing
// here shells out to kubectl.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/disk"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wild-cloud/wild/internal/problem"
)

// FieldManager owns every field Wild Cloud applies to app objects.
const FieldManager = "wild"

// OwnershipFieldManager owns the ownership annotations on namespaces. It is
// separate from FieldManager so that applying an app's own Namespace manifest
// (which lacks the annotations) does not strip them: server-side apply removes
// fields a manager stops sending.
const OwnershipFieldManager = "wild-ownership"

// Labels and annotations stamped on what Wild Cloud creates.
const (
	LabelApp          = "wild-cloud.io/app"
	LabelInstanceID   = "wild-cloud.io/instance-id"
	AnnotationApp     = "wild-cloud.io/app"
	AnnotationInst    = "wild-cloud.io/instance"
	AnnotationInstID  = "wild-cloud.io/instance-id"
	AnnotationCopied  = "wild-cloud.io/copied-from"
	requestTimeout    = 30 * time.Second
	dialTimeout       = 5 * time.Second
	defaultConcurrent = 8
)

// Client bundles the clients Wild Cloud needs for one cluster.
type Client struct {
	Config    *rest.Config
	Clientset Clientset
	Dynamic   dynamic.Interface
	Discovery discovery.CachedDiscoveryInterface
	Mapper    *restmapper.DeferredDiscoveryRESTMapper
	// Host is the API server URL, used in error messages.
	Host string

	prefetch prefetched
}

// NewClient loads a kubeconfig file and prepares clients for it, and
// opens the connection in the background (Warm). The first call that
// contacts the server reports an unreachable cluster as an
// *UnreachableError.
func NewClient(kubeconfigPath string) (*Client, error) {
	c, err := NewIdleClient(kubeconfigPath)
	if err != nil {
		return nil, err
	}
	c.Warm()
	return c, nil
}

// NewIdleClient is NewClient without Warm, for a caller whose first
// request follows at once and opens the connection doing work it needs
// anyway (PrefetchInventory): Warm's ping is a request of its own, about
// as dear to a small API server as any other.
func NewIdleClient(kubeconfigPath string) (*Client, error) {
	if _, err := os.Stat(kubeconfigPath); err != nil {
		return nil, &problem.Error{Code: problem.PreconditionFailed, Message: "cannot read kubeconfig " + kubeconfigPath, Err: err,
			Hint: &problem.Hint{Action: "up", Text: "point the instance at a cluster (its kubeconfig), or start the local one"}}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("invalid kubeconfig %s: %w", kubeconfigPath, err)
	}
	c, err := NewClientFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.useDiskDiscovery()
	return c, nil
}

// discoveryTTL is kubectl's: discovery rarely changes, and a kind it does
// not know yet (a CRD applied a moment ago) resets the cache at once (see
// mapping), the same invalidation rule kubectl follows.
const discoveryTTL = 6 * time.Hour

// useDiskDiscovery keeps discovery on disk between processes, the way
// kubectl does: without it every `wild` process spends its first requests
// asking the server for its API groups. Without a cache directory the
// in-memory cache stays.
func (c *Client) useDiskDiscovery() {
	base := cacheDir()
	if base == "" {
		return
	}
	now := time.Now()
	for _, sub := range []string{"discovery", "http"} {
		maybePrune(filepath.Join(base, sub), discoveryMaxAge, discoveryMaxBytes, now)
	}
	host := strings.NewReplacer("https://", "", "http://", "", ":", "_", "/", "_").Replace(c.Host)
	dc, err := disk.NewCachedDiscoveryClientForConfig(c.Config, filepath.Join(base, "discovery", host), filepath.Join(base, "http"), discoveryTTL)
	if err != nil {
		return
	}
	c.Discovery = dc
	c.Mapper = restmapper.NewDeferredDiscoveryRESTMapper(dc)
}

// NewClientFromConfig builds a Client from a rest config.
func NewClientFromConfig(cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	// Short timeouts: a stopped dev cluster should fail in seconds, not hang.
	if cfg.Timeout == 0 {
		cfg.Timeout = requestTimeout
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	// Apply runs many requests concurrently; client-go's default of 5 QPS
	// would serialize them behind its rate limiter.
	cfg.QPS, cfg.Burst = 200, 400
	// Deprecation warnings (e.g. v1 Endpoints, seen while listing a stuck
	// namespace's content) are noise for a wild user, not something to act on.
	cfg.WarningHandler = rest.NoWarnings{}
	cfg.Wrap(newFirstRequestGate)
	// Built-in kinds read through the typed clientset come as protobuf,
	// which decodes several times cheaper than JSON (kubectl does the
	// same); the dynamic client, for any kind, stays on JSON.
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	// One HTTP client for both: client-go does not share transports when
	// Dial is set, and each transport opened its own TLS connections (a
	// handshake each, and one per request of a first concurrent burst).
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating HTTP client for %s: %w", cfg.Host, err)
	}
	cs, err := newClientset(pcfg, hc)
	if err != nil {
		return nil, fmt.Errorf("creating Kubernetes client for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("creating dynamic client for %s: %w", cfg.Host, err)
	}
	disc := memory.NewMemCacheClient(cs.Discovery())
	return &Client{
		Config:    cfg,
		Clientset: cs,
		Dynamic:   dyn,
		Discovery: disc,
		Mapper:    restmapper.NewDeferredDiscoveryRESTMapper(disc),
		Host:      cfg.Host,
	}, nil
}

// Warm opens the connection to the API server in the background, so its
// TLS handshake overlaps the caller's local work (reading and building
// the app) instead of delaying its first burst of requests, which the
// first-request gate holds until this answers. A failure here is only a
// lost head start: the real requests report their own errors.
func (c *Client) Warm() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Ping(ctx)
	}()
}

// Ping checks that the API server answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Clientset.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	return c.wrap(err)
}

// UnreachableError means the API server could not be reached at all.
type UnreachableError struct {
	Host   string
	Reason string
	Err    error
}

func (e *UnreachableError) Error() string { return e.problem().Error() }

// Unwrap returns the typed problem (with the advice) and the cause.
func (e *UnreachableError) Unwrap() []error { return []error{e.problem(), e.Err} }

func (e *UnreachableError) problem() *problem.Error {
	return problem.New(problem.Unavailable, fmt.Sprintf("cannot reach the cluster at %s (%s)", e.Host, e.Reason)).
		With("dev.cluster.status", "is it running? for the local cluster")
}

// IsUnreachable reports whether err means the cluster could not be reached.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

// wrap turns transport failures into a one-line *UnreachableError and
// leaves API errors (NotFound, Conflict, Invalid, ...) untouched.
func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	var u *UnreachableError
	if errors.As(err, &u) {
		return err
	}
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	if reason := transportReason(err); reason != "" {
		return &UnreachableError{Host: c.Host, Reason: reason, Err: err}
	}
	return err
}

func transportReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "unknown host " + dnsErr.Name
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		msg := urlErr.Err.Error()
		if strings.Contains(msg, "EOF") || strings.Contains(msg, "connection") {
			return msg
		}
	}
	return ""
}
