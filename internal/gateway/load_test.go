package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const vllmMetrics = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} 3
vllm:num_requests_running{model_name="lora-a"} 1
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} 7
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="m"} 0.25
vllm:kv_cache_usage_perc{model_name="lora-a"} 0.5
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
`

func TestParseVLLMMetrics(t *testing.T) {
	l, err := parseVLLMMetrics(strings.NewReader(vllmMetrics))
	if err != nil {
		t.Fatal(err)
	}
	if l.running != 4 || l.waiting != 7 || l.kv != 0.5 {
		t.Errorf("got running %v waiting %v kv %v; want 4 (summed over models), 7, 0.5 (the highest)", l.running, l.waiting, l.kv)
	}
	// vLLM v0's name for the KV gauge, untyped series, no KV gauge at all.
	l, err = parseVLLMMetrics(strings.NewReader("vllm:num_requests_waiting 2\nvllm:gpu_cache_usage_perc 0.9\n"))
	if err != nil || l.waiting != 2 || l.running != 0 || l.kv != 0.9 {
		t.Errorf("v0 names: %+v %v", l, err)
	}
	l, err = parseVLLMMetrics(strings.NewReader("vllm:num_requests_running 1\n"))
	if err != nil || l.kv != -1 {
		t.Errorf("no KV gauge: %+v %v; want kv -1 (unknown)", l, err)
	}
	for name, text := range map[string]string{
		"no vLLM gauges": "process_cpu_seconds_total 1\n",
		"not Prometheus": "<html>hello</html>\n",
	} {
		if _, err := parseVLLMMetrics(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestLoadScore(t *testing.T) {
	idle := backendLoad{kv: -1}
	queued := backendLoad{running: 4, waiting: 6, kv: 0.5}
	cases := []struct {
		name     string
		inFlight int
		l        backendLoad
		fresh    bool
		want     float64
	}{
		{"stale reading falls back to in-flight", 3, queued, false, 3},
		{"idle replica with metrics", 0, idle, true, 0},
		{"queue counts twice, KV adds up to 4", 0, queued, true, 4 + 6 + 6 + 2},
		{"gateway in-flight above the lagging reading", 12, queued, true, 12 + 6 + 2},
	}
	for _, c := range cases {
		if got := loadScore(c.inFlight, c.l, c.fresh); got != c.want {
			t.Errorf("%s: score %v, want %v", c.name, got, c.want)
		}
	}
}

// metricsBackend is a replica that also serves /metrics with the text set
// by setMetrics (404 while empty).
type metricsBackend struct {
	*backend
	mu      sync.Mutex
	metrics string
}

func newMetricsBackend(t *testing.T, name string) *metricsBackend {
	b := &backend{name: name, chunks: 3, gone: make(chan struct{}, 16)}
	mb := &metricsBackend{backend: b}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			mb.mu.Lock()
			text := mb.metrics
			mb.mu.Unlock()
			if text == "" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, text)
			return
		}
		b.serve(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return mb
}

func (m *metricsBackend) setMetrics(waiting, running int, kv float64) {
	m.mu.Lock()
	m.metrics = fmt.Sprintf("vllm:num_requests_waiting{model_name=\"m\"} %d\nvllm:num_requests_running{model_name=\"m\"} %d\nvllm:kv_cache_usage_perc{model_name=\"m\"} %g\n", waiting, running, kv)
	m.mu.Unlock()
}

func TestLeastLoadAvoidsTheReplicaWithALongQueueUntilItsReadingIsStale(t *testing.T) {
	h := newHarness(t, nil)
	busy, idle := newMetricsBackend(t, "busy"), newMetricsBackend(t, "idle")
	busy.setMetrics(20, 8, 0.9)
	idle.setMetrics(0, 0, 0.1)
	h.serve(Service{Namespace: "team-a", Name: "chat", Models: []string{"m"}, Routing: LeastLoad}, busy.backend, idle.backend)
	h.gw.scrapeInterval.Store(int64(time.Second))
	h.gw.scrapeOnce(context.Background(), time.Second)
	send := func(n int) {
		for i := 0; i < n; i++ {
			if code, body := readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("m", "hi", false))); code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
		}
	}
	send(10)
	if busy.count() != 0 || idle.count() != 10 {
		t.Errorf("with a fresh reading: busy got %d, idle %d of 10; want all on idle", busy.count(), idle.count())
	}
	// Three intervals later the reading is stale: in-flight counts alone
	// decide, as least-request would, and the busy replica shares again.
	h.clk.Add(3*time.Second + time.Millisecond)
	send(10)
	if busy.count() < 4 {
		t.Errorf("with a stale reading busy got %d of 10; want the load shared again", busy.count())
	}
}

func TestLeastLoadFallsBackToInFlightForAReplicaWithoutMetrics(t *testing.T) {
	h := newHarness(t, nil)
	plain, queued := newMetricsBackend(t, "plain"), newMetricsBackend(t, "queued")
	queued.setMetrics(5, 4, 0)
	h.serve(Service{Namespace: "team-a", Name: "chat", Models: []string{"m"}, Routing: LeastLoad}, plain.backend, queued.backend)
	h.gw.scrapeInterval.Store(int64(time.Second))
	h.gw.scrapeOnce(context.Background(), time.Second)
	h.gw.mu.Lock()
	for _, ep := range h.gw.services["team-a/chat"].eps {
		if ep.Name == "plain" && !ep.load.at.IsZero() {
			t.Errorf("a replica answering /metrics with 404 has a reading: %+v", ep.load)
		}
	}
	h.gw.mu.Unlock()
	for i := 0; i < 6; i++ {
		if code, _ := readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("m", "hi", false))); code != http.StatusOK {
			t.Fatal(code)
		}
	}
	// plain scores its in-flight count (0 between these sequential
	// requests), queued 4+5+5 = 14.
	if plain.count() != 6 {
		t.Errorf("plain got %d of 6, queued %d", plain.count(), queued.count())
	}
}

func TestScrapeLoadsRunsUntilCancelled(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Now = time.Now })
	b := newMetricsBackend(t, "r0")
	b.setMetrics(1, 2, 0.3)
	h.serve(Service{Namespace: "team-a", Name: "chat", Models: []string{"m"}, Routing: LeastLoad}, b.backend)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.gw.ScrapeLoads(ctx, time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.gw.mu.Lock()
		l := h.gw.services["team-a/chat"].eps["r0"].load
		h.gw.mu.Unlock()
		if l.waiting == 1 && l.running == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reading after 10s: %+v", l)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := time.Duration(h.gw.scrapeInterval.Load()); got != minLoadScrapeInterval {
		t.Errorf("interval %v: want it raised to the %v floor", got, minLoadScrapeInterval)
	}
	cancel()
	<-done
}
