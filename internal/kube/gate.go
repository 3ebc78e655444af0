package kube

import (
	"net/http"
	"sync/atomic"
)

// firstRequestGate holds concurrent requests back until the first one
// has its answer: Go's HTTP/2 transport dials one connection per request
// of a first concurrent burst (golang/go#13774), each a TLS handshake on
// both ends, and a `wild` command starts with such a burst (its no-op
// check reads every object at once) against an API server that, on a
// small machine, shares its CPU. After the first answer the burst shares
// that one connection.
type firstRequestGate struct {
	rt      http.RoundTripper
	started atomic.Bool
	done    chan struct{}
}

func newFirstRequestGate(rt http.RoundTripper) http.RoundTripper {
	return &firstRequestGate{rt: rt, done: make(chan struct{})}
}

func (g *firstRequestGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.started.CompareAndSwap(false, true) {
		defer close(g.done)
		return g.rt.RoundTrip(r)
	}
	select {
	case <-g.done:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return g.rt.RoundTrip(r)
}

// WrappedRoundTripper lets client-go see through the gate (for its
// debugging and cancellation helpers).
func (g *firstRequestGate) WrappedRoundTripper() http.RoundTripper { return g.rt }
