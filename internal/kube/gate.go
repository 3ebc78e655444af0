package kube

import (
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
)

// firstRequestGate holds concurrent requests back until the first one
// has its connection: Go's HTTP/2 transport dials one connection per
// request of a first concurrent burst (golang/go#13774), each a TLS
// handshake on both ends, and a `wild` command starts with such a burst
// (its no-op check reads every object at once) against an API server
// that, on a small machine, shares its CPU. Once the first request holds
// its connection, that connection is in the transport's pool and the
// burst shares it, without waiting for the first answer too.
type firstRequestGate struct {
	rt      http.RoundTripper
	started atomic.Bool
	done    chan struct{}
	open    sync.Once
}

func newFirstRequestGate(rt http.RoundTripper) http.RoundTripper {
	return &firstRequestGate{rt: rt, done: make(chan struct{})}
}

func (g *firstRequestGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.started.CompareAndSwap(false, true) {
		// Opened when the request gets its connection, and in any case
		// when it ends (a failed dial gets none).
		open := func() { g.open.Do(func() { close(g.done) }) }
		defer open()
		trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { open() }}
		return g.rt.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
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
