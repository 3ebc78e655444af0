package api_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/catalog"
	"github.com/wild-cloud/wild/internal/clustertest"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/lifecycle"
)

// percentiles returns p50 and p99 of ds in milliseconds.
func percentiles(ds []time.Duration) (float64, float64) {
	slices.Sort(ds)
	at := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000 }
	return at(0.50), at(0.99)
}

// BenchmarkStatusUnderLoad reads one app's live status at 200 requests/s
// through the API while another app deploys, beside the same read done
// in-process. Run: go test ./internal/api -run '^$' -bench StatusUnderLoad -benchtime 1x
func BenchmarkStatusUnderLoad(b *testing.B) {
	data := b.TempDir()
	d := startDaemon(b, data, nil)
	d.setupAdmin()
	tok := d.token("operate")
	kc, _ := os.ReadFile(clustertest.Kubeconfig(b))
	d.mustRun(tok, d.do("POST", "/api/v1/instances", "cookie", map[string]string{"name": "bench", "domain": "bench.example.com", "kubeconfig": string(kc)}))
	d.mustRun(tok, d.do("POST", "/api/v1/instances/bench/apps", tok, map[string]any{"name": "hello"}))
	d.mustRun(tok, d.do("POST", "/api/v1/instances/bench/apps/hello/deploy", tok, map[string]any{}))
	d.mustRun(tok, d.do("POST", "/api/v1/instances/bench/apps", tok, map[string]any{"name": "memcached"}))

	inst, err := instance.NewStore(data).Open("bench")
	if err != nil {
		b.Fatal(err)
	}
	env := lifecycle.Env{Instance: inst, Catalog: catalog.Bundled()}
	const n = 400
	var inproc []time.Duration
	for i := 0; i < n/4; i++ {
		start := time.Now()
		if _, err := (&lifecycle.Status{Env: env, App: "hello"}).Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		inproc = append(inproc, time.Since(start))
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A deploy runs while the reads go on.
		deploy := accepted(d.t, d.do("POST", "/api/v1/instances/bench/apps/memcached/deploy", tok, map[string]any{}))
		lat, failed := load(b, d.base+"/api/v1/instances/bench/apps/hello/status", tok, rate(), n)
		d.wait(tok, deploy)
		if len(lat) == 0 {
			b.Fatalf("all %d reads failed", failed)
		}
		p50, p99 := percentiles(lat)
		b.ReportMetric(float64(failed), "timeouts")
		ip50, ip99 := percentiles(inproc)
		b.ReportMetric(p50, "api-p50-ms")
		b.ReportMetric(p99, "api-p99-ms")
		b.ReportMetric(ip50, "inproc-p50-ms")
		b.ReportMetric(ip99, "inproc-p99-ms")
		d.mustRun(tok, d.do("DELETE", "/api/v1/instances/bench/apps/memcached", tok, nil))
		d.mustRun(tok, d.do("POST", "/api/v1/instances/bench/apps", tok, map[string]any{"name": "memcached"}))
	}
}

// load sends n GETs at rate per second (open loop, bounded) to one
// loopback URL and returns each latency, and how many failed or timed out.
func load(b *testing.B, url, tok string, rate, n int) (lat []time.Duration, failed int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			start := time.Now()
			res, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				failed++
				return
			}
			lat = append(lat, time.Since(start))
		}()
	}
	wg.Wait()
	return lat, failed
}

// BenchmarkSSEFanOut measures how long an event takes to reach each of 100
// connected stream clients.
func BenchmarkSSEFanOut(b *testing.B) {
	d := startDaemon(b, b.TempDir(), nil)
	d.setupAdmin()
	tok := d.token("admin")
	const clients = 100
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := make([]<-chan sseEvent, clients)
	for i := range streams {
		streams[i], _ = d.openStream(ctx, tok, "?instance=fan", "")
	}
	b.ResetTimer()
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		id := accepted(d.t, d.do("POST", "/api/v1/instances", tok, map[string]string{"name": "fan", "domain": "fan.example.com"}))
		for _, s := range streams {
			for ev := range s {
				if ev.env.Op == id && ev.env.Status != "" && ev.env.Status != "running" {
					all = append(all, time.Since(start))
					break
				}
			}
		}
		d.wait(tok, id)
		d.mustRun(tok, d.do("DELETE", "/api/v1/instances/fan", tok, nil))
	}
	p50, p99 := percentiles(all)
	b.ReportMetric(p50, "deliver-p50-ms")
	b.ReportMetric(p99, "deliver-p99-ms")
	b.ReportMetric(clients, "clients")
}

// rate is the load's requests per second (WILD_BENCH_RATE, default 200).
func rate() int {
	if r, err := strconv.Atoi(os.Getenv("WILD_BENCH_RATE")); err == nil && r > 0 {
		return r
	}
	return 200
}
