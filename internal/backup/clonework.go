package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaler is what Deployments and StatefulSets share: their scale
// subresource.
type scaler interface {
	GetScale(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error)
	UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

// scalerFor returns the scale client and name of ref, "Kind/name" of a
// Deployment or StatefulSet of the app.
func (a *App) scalerFor(ref string) (scaler, string) {
	kind, name, _ := strings.Cut(ref, "/")
	apps := a.Kube.Clientset.AppsV1()
	if kind == "StatefulSet" {
		return apps.StatefulSets(a.Namespace), name
	}
	return apps.Deployments(a.Namespace), name
}

// stopWorkloads scales the app's Deployments and StatefulSets to zero and
// waits for their pods to go, so nothing writes while the data loads; it
// returns their replicas before.
func stopWorkloads(ctx context.Context, a *App) (map[string]int32, error) {
	apps := a.Kube.Clientset.AppsV1()
	out := map[string]int32{}
	deps, err := apps.Deployments(a.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, d := range deps.Items {
		out["Deployment/"+d.Name] = replicas(d.Spec.Replicas)
	}
	sts, err := apps.StatefulSets(a.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, s := range sts.Items {
		out["StatefulSet/"+s.Name] = replicas(s.Spec.Replicas)
	}
	zero := map[string]int32{}
	for k := range out {
		zero[k] = 0
	}
	if err := scaleAll(ctx, a, zero); err != nil {
		return nil, err
	}
	return out, poll(ctx, 3*time.Minute, func() (bool, error) { return workloadsDown(ctx, a, out) })
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// scaleAll sets each workload's replicas; the clone's last deploy waits
// for them to be ready.
func scaleAll(ctx context.Context, a *App, want map[string]int32) error {
	for _, ref := range sortedMapKeys(want) {
		s, name := a.scalerFor(ref)
		sc, err := s.GetScale(ctx, name, metav1.GetOptions{})
		if err == nil && sc.Spec.Replicas != want[ref] {
			sc.Spec.Replicas = want[ref]
			_, err = s.UpdateScale(ctx, name, sc, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("scale %s in %s to %d: %w", ref, a.Namespace, want[ref], err)
		}
	}
	return nil
}

func workloadsDown(ctx context.Context, a *App, refs map[string]int32) (bool, error) {
	for ref := range refs {
		s, name := a.scalerFor(ref)
		sc, err := s.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if sc.Status.Replicas > 0 {
			return false, nil
		}
	}
	return true, nil
}
