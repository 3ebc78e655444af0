// Package metrics holds Wild Central's Prometheus metrics, apart from
// package central, which meters its runs through central.RunMeter and so
// stays free of Prometheus's client.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wild-cloud/wild/internal/wire"
)

// Metrics are Wild Central's Prometheus metrics, on a registry of its own
// so tests can run several daemons in one process.
type Metrics struct {
	reg        *prometheus.Registry
	ops        *prometheus.CounterVec
	opDuration *prometheus.HistogramVec
	opsRunning prometheus.Gauge
	http       *prometheus.HistogramVec
	sseClients prometheus.Gauge
}

// New registers every metric.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wild_operations_total", Help: "Operations finished, by action and result.",
		}, []string{"action", "result"}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wild_operation_duration_seconds", Help: "Operation durations, by action and result.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"action", "result"}),
		opsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wild_operations_running", Help: "Operations running now.",
		}),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wild_http_request_duration_seconds", Help: "HTTP request latency, by route, method and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		sseClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wild_sse_clients", Help: "Connected event-stream clients.",
		}),
	}
	m.reg.MustRegister(m.ops, m.opDuration, m.opsRunning, m.http, m.sseClients,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// OpStarted counts a run in (central.RunMeter).
func (m *Metrics) OpStarted(string) {
	if m != nil {
		m.opsRunning.Inc()
	}
}

// OpFinished counts a run out, by action and result (central.RunMeter).
func (m *Metrics) OpFinished(ri wire.RunInfo) {
	if m == nil {
		return
	}
	m.opsRunning.Dec()
	m.ops.WithLabelValues(ri.Action, ri.Status).Inc()
	m.opDuration.WithLabelValues(ri.Action, ri.Status).Observe(float64(ri.DurationMs) / 1000)
}

// ObserveHTTP records one request; route is the pattern, never the raw
// path, so ids do not explode the label set.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if m != nil {
		m.http.WithLabelValues(route, method, strconv.Itoa(code)).Observe(d.Seconds())
	}
}

// SSEClient counts a stream client in (+1) or out (-1).
func (m *Metrics) SSEClient(delta int) {
	if m != nil {
		m.sseClients.Add(float64(delta))
	}
}
