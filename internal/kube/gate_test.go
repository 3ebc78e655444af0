package kube

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// A first burst of concurrent requests shares one TLS connection, with or
// without a Warm just before it (the burst then waits for its answer).
func TestFirstBurstSharesOneConnection(t *testing.T) {
	for _, warm := range []bool{false, true} {
		t.Run(map[bool]string{false: "cold", true: "warmed"}[warm], func(t *testing.T) { firstBurst(t, warm) })
	}
}

func firstBurst(t *testing.T, warm bool) {
	var reqs atomic.Int32
	c, conns := gateServer(t, func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		writeVersion(w)
	})
	if warm {
		c.Warm()
	}
	pingBurst(t, c, 8)
	if n := conns.Load(); n != 1 {
		t.Fatalf("8 concurrent first requests opened %d connections, want 1", n)
	}
	if warm {
		for reqs.Load() < 9 { // the warming request may still be on its way
			runtime.Gosched()
		}
	}
}

// The burst goes out as soon as the first request has its connection,
// not once it is answered: here the server holds its first answer until
// the rest of the burst has arrived, on the same connection.
func TestBurstDoesNotWaitForTheFirstAnswer(t *testing.T) {
	arrived := make(chan struct{}, 8)
	var first atomic.Bool
	c, conns := gateServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !first.CompareAndSwap(false, true) {
			arrived <- struct{}{}
			writeVersion(w)
			return
		}
		for range 4 {
			select {
			case <-arrived:
			case <-time.After(5 * time.Second):
				http.Error(w, "the rest of the burst waited for this answer", http.StatusServiceUnavailable)
				return
			}
		}
		writeVersion(w)
	})
	pingBurst(t, c, 5)
	if n := conns.Load(); n != 1 {
		t.Fatalf("the burst opened %d connections, want 1", n)
	}
}

// pingBurst sends n concurrent first requests and fails on any error.
func pingBurst(t *testing.T, c *Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Ping(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// gateServer is an HTTP/2 TLS server answering with handler, a Client for
// it, and the count of connections the server accepted.
func gateServer(t *testing.T, handler http.HandlerFunc) (*Client, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	c, err := NewClientFromConfig(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	return c, &conns
}

func writeVersion(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"major":"1","minor":"34","gitVersion":"v1.34.1"}`))
}
