package realnode_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/devcluster"
	"github.com/wild-cloud/wild/internal/kube"
)

func TestMain(m *testing.M) { clustertest.Main(m, clustertest.RealNode) }

var bg = context.Background()

// smokePod runs the smoke HTTP app on the real node, with a real
// readiness probe.
func smokePod(name string, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{devcluster.RealNodeLabel: "true"},
			Tolerations:  []corev1.Toleration{{Key: devcluster.RealNodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
			Containers: []corev1.Container{{
				Name:            "web",
				Image:           devcluster.SmokeImage,
				ImagePullPolicy: corev1.PullNever,
				Env:             env,
				Ports:           []corev1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1,
				},
			}},
		},
	}
}

func runReady(t *testing.T, cs kubernetes.Interface, ns string, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Create(bg, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := cs.CoreV1().Pods(ns).Get(bg, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not Ready after 2m: phase %s, %+v", pod.Name, p.Status.Phase, p.Status.ContainerStatuses)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func execIn(t *testing.T, ns, pod string, cmd ...string) string {
	t.Helper()
	out, err := tryExec(t, ns, pod, cmd...)
	if err != nil {
		t.Fatalf("exec %v in %s: %v: %s", cmd, pod, err, out)
	}
	return out
}

// TestPodRunsWithExecLogsAndPortForward: a real container runs on the real
// node, becomes Ready through an HTTP probe, and answers exec, logs and a
// port-forward through the API server.
func TestPodRunsWithExecLogsAndPortForward(t *testing.T) {
	ns := clustertest.Namespace(t)
	cs := clustertest.Client(t)
	p := runReady(t, cs, ns, smokePod("web", corev1.EnvVar{Name: "GREETING", Value: "from-the-pod-spec"}))
	if p.Spec.NodeName != devcluster.RealNodeName {
		t.Fatalf("pod ran on %q, want %s", p.Spec.NodeName, devcluster.RealNodeName)
	}
	if !strings.HasPrefix(p.Status.PodIP, "10.42.0.") {
		t.Errorf("pod IP %q is not on the node's bridge network", p.Status.PodIP)
	}

	// Backups stream database dumps through exec: every run must return the
	// whole output, so several in a row are checked, with no retry.
	for i := 0; i < 10; i++ {
		if out := execIn(t, ns, "web", "/smoke", "env"); !strings.Contains(out, "GREETING=from-the-pod-spec") {
			t.Fatalf("exec %d: env lacks GREETING:\n%q", i, out)
		}
	}

	body := portForwardGet(t, ns, "web", 8080, "/")
	if want := "hello from web"; !strings.Contains(body, want) {
		t.Errorf("port-forward GET / = %q, want %q", body, want)
	}

	logs, err := cs.CoreV1().Pods(ns).GetLogs("web", &corev1.PodLogOptions{}).DoRaw(bg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "listening on :8080") || !strings.Contains(string(logs), "GET /") {
		t.Errorf("logs lack the start line or the request:\n%s", logs)
	}
}

// TestServiceDNSFromAPod: a pod reaches another through its Service by
// name: CoreDNS resolves it and kube-proxy routes the ClusterIP.
func TestServiceDNSFromAPod(t *testing.T) {
	ns := clustertest.Namespace(t)
	cs := clustertest.Client(t)
	runReady(t, cs, ns, smokePod("server"))
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "greeter"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "server"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(bg, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runReady(t, cs, ns, smokePod("client"))
	// kube-proxy programs the rules shortly after the EndpointSlice exists.
	var out string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		out, err = tryExec(t, ns, "client", "/smoke", "get", fmt.Sprintf("http://greeter.%s.svc.cluster.local/", ns))
		if err != nil {
			out += err.Error()
		}
		if strings.Contains(out, "hello from server") || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if !strings.Contains(out, "hello from server") {
		t.Fatalf("GET through the Service by DNS name: %s", out)
	}
}

// tryExec runs a command in the pod's container through the API server;
// the output holds stdout and stderr.
func tryExec(t *testing.T, ns, pod string, cmd ...string) (string, error) {
	t.Helper()
	c, err := kube.NewClientFromConfig(clustertest.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	// Separate buffers: stdout and stderr are copied by two goroutines, and
	// a bytes.Buffer is not safe for concurrent writes.
	var stdout, stderr bytes.Buffer
	err = c.Exec(bg, kube.ExecOptions{Namespace: ns, Pod: pod, Command: cmd, Stdout: &stdout, Stderr: &stderr})
	return stdout.String() + stderr.String(), err
}

// portForward forwards a free local port to the pod's port; stop ends it.
func portForward(t *testing.T, ns, pod string, port int) (local int, stop func()) {
	t.Helper()
	local, stop, err := tryPortForward(t, ns, pod, port)
	if err != nil {
		t.Fatal(err)
	}
	return local, stop
}

func tryPortForward(t *testing.T, ns, pod string, port int) (int, func(), error) {
	t.Helper()
	cfg := clustertest.RESTConfig(t)
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return 0, nil, err
	}
	u, err := url.Parse(fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/portforward", strings.TrimSuffix(cfg.Host, "/"), ns, pod))
	if err != nil {
		return 0, nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", u)
	stopc, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stopc, ready, io.Discard, io.Discard)
	if err != nil {
		return 0, nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return 0, nil, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	case <-time.After(30 * time.Second):
		close(stopc)
		return 0, nil, fmt.Errorf("port-forward to %s/%s not ready after 30s", ns, pod)
	}
	ports, err := fw.GetPorts()
	if err != nil {
		close(stopc)
		return 0, nil, err
	}
	return int(ports[0].Local), func() { close(stopc) }, nil
}

// portForwardGet GETs path from the pod's port through a port-forward.
func portForwardGet(t *testing.T, ns, pod string, port int, path string) string {
	t.Helper()
	local, stop := portForward(t, ns, pod, port)
	defer stop()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", local, path))
	if err != nil {
		t.Fatalf("GET through port-forward: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var parameterCodec = runtime.NewParameterCodec(scheme.Scheme)
