package gateway

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// LeastLoad is the routing policy that scores replicas by what their
// /metrics report (vLLM's metric names): queue depth, running requests and
// KV-cache use, falling back to the gateway's own in-flight count for a
// replica whose metrics are missing or stale.
const LeastLoad = "least-load"

// The vLLM metrics least-load reads. vLLM v0 named the KV-cache gauge
// gpu_cache_usage_perc and v1 kv_cache_usage_perc (a fraction, 0 to 1, in
// both); either is read.
const (
	metricWaiting  = "vllm:num_requests_waiting"
	metricRunning  = "vllm:num_requests_running"
	metricKVUsage  = "vllm:kv_cache_usage_perc"
	metricGPUCache = "vllm:gpu_cache_usage_perc"
)

// Scrape bounds.
const (
	// DefaultLoadScrapeInterval is how often replicas' /metrics are read.
	DefaultLoadScrapeInterval = time.Second
	// minLoadScrapeInterval keeps a misconfiguration from hammering
	// replicas.
	minLoadScrapeInterval = 100 * time.Millisecond
	// staleAfterScrapes: a reading older than this many intervals is
	// ignored (the replica stopped answering /metrics, or the scraper
	// fell behind).
	staleAfterScrapes = 3
	// maxMetricsBytes bounds one /metrics body.
	maxMetricsBytes = 4 << 20
)

// backendLoad is one reading of a replica's /metrics.
type backendLoad struct {
	waiting, running float64
	// kv is the KV-cache use, 0 to 1; -1 when the replica does not say.
	kv float64
	at time.Time
}

// parseVLLMMetrics reads the load gauges from a Prometheus text exposition.
// Series of several models (LoRA adapters) on one replica add up; the KV
// use is the highest one reported. It fails when neither queue gauge is
// there: a replica that exposes other metrics but not these has no load
// reading.
func parseVLLMMetrics(r io.Reader) (backendLoad, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return backendLoad{}, fmt.Errorf("parsing /metrics: %w", err)
	}
	sum := func(name string) (float64, bool) {
		f, ok := fams[name]
		if !ok {
			return 0, false
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			total += gaugeValue(m.GetGauge().GetValue(), m.GetUntyped().GetValue())
		}
		return total, true
	}
	l := backendLoad{kv: -1}
	var okW, okR bool
	l.waiting, okW = sum(metricWaiting)
	l.running, okR = sum(metricRunning)
	if !okW && !okR {
		return backendLoad{}, fmt.Errorf("/metrics has neither %s nor %s", metricWaiting, metricRunning)
	}
	for _, name := range []string{metricKVUsage, metricGPUCache} {
		if f, ok := fams[name]; ok {
			for _, m := range f.GetMetric() {
				l.kv = math.Max(l.kv, gaugeValue(m.GetGauge().GetValue(), m.GetUntyped().GetValue()))
			}
		}
	}
	return l, nil
}

func gaugeValue(g, u float64) float64 {
	v := g + u // a series is one type or the other; the other reads 0
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// kvWeight is how many queued requests a full KV cache counts as: near a
// full cache vLLM preempts running sequences, so a replica at 90% KV use is
// a worse choice than an idle one even with the same queue.
const kvWeight = 4

// loadScore is a replica's load for least-load; lower is better.
//
// With a fresh reading, the replica's own count of requests (running plus
// waiting, which includes requests other clients sent it directly) is used
// where it exceeds the gateway's in-flight count (the reading lags the
// gateway by up to one scrape), waiting requests count once more (a queue
// means the batch is full, so a new request waits too), and KV-cache use
// adds up to kvWeight. Without a fresh reading the score is the in-flight
// count alone, least-request's measure, so replicas with and without
// metrics compare on the same scale.
func loadScore(inFlight int, l backendLoad, fresh bool) float64 {
	in := float64(inFlight)
	if !fresh {
		return in
	}
	s := math.Max(in, l.running+l.waiting) + l.waiting
	if l.kv > 0 {
		s += kvWeight * math.Min(l.kv, 1)
	}
	return s
}

// pickLeastLoad returns the replica with the lowest score; ties go to the
// first one at or after start, so equal replicas share load.
func pickLeastLoad(cands []candidate, start uint64) int {
	n := len(cands)
	best := -1
	for i := 0; i < n; i++ {
		j := int((start + uint64(i)) % uint64(n))
		if best < 0 || cands[j].score < cands[best].score {
			best = j
		}
	}
	return best
}

// fresh says whether a reading taken at `at` may still be used at now.
func (g *Gateway) fresh(at, now time.Time) bool {
	interval := time.Duration(g.scrapeInterval.Load())
	return !at.IsZero() && interval > 0 && now.Sub(at) <= staleAfterScrapes*interval
}

// ScrapeLoads reads the /metrics of every ready replica of the services
// routed by least-load, every interval (DefaultLoadScrapeInterval when 0,
// at least 100ms), until ctx ends. Each scrape is bounded by the interval;
// a replica that fails it has no reading until the next one succeeds.
func (g *Gateway) ScrapeLoads(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultLoadScrapeInterval
	}
	interval = max(interval, minLoadScrapeInterval)
	g.scrapeInterval.Store(int64(interval))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		g.scrapeOnce(ctx, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scrapeOnce reads every least-load replica's /metrics once, in parallel.
func (g *Gateway) scrapeOnce(ctx context.Context, timeout time.Duration) {
	g.mu.Lock()
	var eps []*endpoint
	for _, svc := range g.services {
		if svc.cfg.Routing != LeastLoad {
			continue
		}
		for _, ep := range svc.eps {
			if !ep.Draining {
				eps = append(eps, ep)
			}
		}
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := g.scrape(ctx, ep, timeout)
			g.mu.Lock()
			defer g.mu.Unlock()
			if err != nil {
				ep.load = backendLoad{}
				return
			}
			ep.load = l
		}()
	}
	wg.Wait()
}

func (g *Gateway) scrape(ctx context.Context, ep *endpoint, timeout time.Duration) (backendLoad, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := *ep.base
	u.Path, u.RawQuery = "/metrics", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return backendLoad{}, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := g.client.Do(req)
	if err != nil {
		return backendLoad{}, fmt.Errorf("scraping %s: %w", ep.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return backendLoad{}, fmt.Errorf("scraping %s: %s", ep.Name, resp.Status)
	}
	l, err := parseVLLMMetrics(io.LimitReader(resp.Body, maxMetricsBytes))
	if err != nil {
		return backendLoad{}, fmt.Errorf("scraping %s: %w", ep.Name, err)
	}
	l.at = g.cfg.Now()
	return l, nil
}
