package kube

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// AppStatus is what `wild app status` shows about an app in the cluster.
type AppStatus struct {
	Namespace      string
	NamespacePhase string
	Resources      []ResourceStatus
	Pods           []PodStatus
	Ingresses      []IngressStatus
	PVCs           []PVCStatus
	Secrets        []SecretStatus
}

// PodStatus summarizes one pod.
type PodStatus struct {
	Name     string
	Phase    string
	Ready    bool
	Reason   string // why it is not ready, or "Ready"/"Completed"
	Restarts int32
}

// IngressStatus lists an Ingress's hosts and TLS secrets.
type IngressStatus struct {
	Name       string
	Hosts      []string
	TLSSecrets []string
}

// PVCStatus says whether a claim is bound.
type PVCStatus struct {
	Name     string
	Phase    string
	Bound    bool
	Capacity string
}

// SecretStatus says whether a Secret exists (never its content).
type SecretStatus struct {
	Name   string
	Exists bool
}

// Status reports an app's state in namespace ns: the kstatus of each
// desired object, the pods, Ingress hosts, PVCs and whether the named
// Secrets (the app Secret, copies) and the Ingresses' TLS Secrets exist.
// A missing namespace is not an error: NamespacePhase says NotFound.
func (c *Client) Status(ctx context.Context, ns string, objs []*unstructured.Unstructured, secrets ...string) (*AppStatus, error) {
	st := &AppStatus{Namespace: ns}
	phase, err := c.NamespacePhase(ctx, ns)
	if err != nil {
		return nil, err
	}
	st.NamespacePhase = phase
	if st.Resources, err = c.statuses(ctx, objs); err != nil {
		return nil, err
	}
	if phase == PhaseNotFound {
		return st, nil
	}
	if st.Pods, err = c.podStatuses(ctx, ns); err != nil {
		return nil, err
	}
	if st.Ingresses, err = c.ingresses(ctx, ns); err != nil {
		return nil, err
	}
	if st.PVCs, err = c.pvcs(ctx, ns); err != nil {
		return nil, err
	}
	for _, ing := range st.Ingresses {
		for _, s := range ing.TLSSecrets {
			if !slices.Contains(secrets, s) {
				secrets = append(secrets, s)
			}
		}
	}
	for _, name := range secrets {
		_, err := c.Clientset.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading secret %s/%s: %w", ns, name, c.wrap(err))
		}
		st.Secrets = append(st.Secrets, SecretStatus{Name: name, Exists: err == nil})
	}
	return st, nil
}

func (c *Client) podStatuses(ctx context.Context, ns string) ([]PodStatus, error) {
	list, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", ns, c.wrap(err))
	}
	out := make([]PodStatus, 0, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		ready, reason := podReadiness(p)
		var restarts int32
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		out = append(out, PodStatus{Name: p.Name, Phase: string(p.Status.Phase), Ready: ready, Reason: reason, Restarts: restarts})
	}
	return out, nil
}

func (c *Client) ingresses(ctx context.Context, ns string) ([]IngressStatus, error) {
	list, err := c.Clientset.NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing ingresses in %s: %w", ns, c.wrap(err))
	}
	var out []IngressStatus
	for _, ing := range list.Items {
		s := IngressStatus{Name: ing.Name}
		for _, r := range ing.Spec.Rules {
			if r.Host != "" && !slices.Contains(s.Hosts, r.Host) {
				s.Hosts = append(s.Hosts, r.Host)
			}
		}
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" {
				s.TLSSecrets = append(s.TLSSecrets, t.SecretName)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (c *Client) pvcs(ctx context.Context, ns string) ([]PVCStatus, error) {
	list, err := c.Clientset.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing PVCs in %s: %w", ns, c.wrap(err))
	}
	var out []PVCStatus
	for _, p := range list.Items {
		s := PVCStatus{Name: p.Name, Phase: string(p.Status.Phase), Bound: p.Status.Phase == corev1.ClaimBound}
		if q, ok := p.Status.Capacity[corev1.ResourceStorage]; ok {
			s.Capacity = q.String()
		}
		out = append(out, s)
	}
	return out, nil
}
