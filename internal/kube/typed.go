package kube

import (
	"errors"
	"net/http"

	"k8s.io/client-go/discovery"
	appsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	batchv1 "k8s.io/client-go/kubernetes/typed/batch/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	networkingv1 "k8s.io/client-go/kubernetes/typed/networking/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Clientset is the part of client-go's typed clientset Wild Cloud uses.
// The whole one builds a REST client for each of about fifty API group
// versions, a measurable part of a short process such as a no-op deploy
// (README, Performance); kubernetes.Interface satisfies this too.
type Clientset interface {
	CoreV1() corev1.CoreV1Interface
	AppsV1() appsv1.AppsV1Interface
	BatchV1() batchv1.BatchV1Interface
	NetworkingV1() networkingv1.NetworkingV1Interface
	Discovery() discovery.DiscoveryInterface
}

type typedClients struct {
	core       *corev1.CoreV1Client
	apps       *appsv1.AppsV1Client
	batch      *batchv1.BatchV1Client
	networking *networkingv1.NetworkingV1Client
	discovery  *discovery.DiscoveryClient
}

func (t *typedClients) CoreV1() corev1.CoreV1Interface                   { return t.core }
func (t *typedClients) AppsV1() appsv1.AppsV1Interface                   { return t.apps }
func (t *typedClients) BatchV1() batchv1.BatchV1Interface                { return t.batch }
func (t *typedClients) NetworkingV1() networkingv1.NetworkingV1Interface { return t.networking }
func (t *typedClients) Discovery() discovery.DiscoveryInterface          { return t.discovery }

// newClientset is kubernetes.NewForConfigAndClient for the groups of
// Clientset: one rate limiter shared by all of them, as there.
func newClientset(cfg *rest.Config, hc *http.Client) (*typedClients, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	var t typedClients
	var errs [5]error
	t.core, errs[0] = corev1.NewForConfigAndClient(cfg, hc)
	t.apps, errs[1] = appsv1.NewForConfigAndClient(cfg, hc)
	t.batch, errs[2] = batchv1.NewForConfigAndClient(cfg, hc)
	t.networking, errs[3] = networkingv1.NewForConfigAndClient(cfg, hc)
	t.discovery, errs[4] = discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return &t, nil
}
