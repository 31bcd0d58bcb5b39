package gateway

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's Prometheus metrics, one series per namespace
// and model (tokens also per key): the request counts by status, token
// usage, and the latencies an LLM service is judged by.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	ttft      *prometheus.HistogramVec
	tpot      *prometheus.HistogramVec
	e2e       *prometheus.HistogramVec
	coldStart *prometheus.HistogramVec
}

// latencyBuckets span a cached prefill (milliseconds) to a long
// generation (minutes).
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// NewMetrics registers the gateway's metrics on a registry of their own.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skiff_gateway_requests_total",
			Help: "Inference requests by namespace, model and HTTP status."}, []string{"namespace", "model", "code"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skiff_gateway_tokens_total",
			Help: "Tokens reported by replicas, by namespace, model, API key and type (input or output)."}, []string{"namespace", "model", "key", "type"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "skiff_gateway_time_to_first_token_seconds",
			Help: "Time from a streamed request's arrival to its first chunk.", Buckets: latencyBuckets}, []string{"namespace", "model"}),
		tpot: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "skiff_gateway_time_per_output_token_seconds",
			Help:    "Time per output token after the first, of streamed requests.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}}, []string{"namespace", "model"}),
		e2e: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "skiff_gateway_request_duration_seconds",
			Help: "Time from a request's arrival to the end of its answer.", Buckets: latencyBuckets}, []string{"namespace", "model"}),
		coldStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "skiff_gateway_queue_wait_seconds",
			Help: "Time requests waited for a ready replica (scale from zero).", Buckets: latencyBuckets}, []string{"namespace", "model"}),
	}
	reg.MustRegister(m.Collectors()...)
	return m
}

// Collectors are the gateway's metrics, for a process that also serves
// them on its main /metrics (Register them there as well).
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.tokens, m.ttft, m.tpot, m.e2e, m.coldStart}
}

// Observe records one finished request; pass it as Config.Observe.
func (m *Metrics) Observe(r RequestRecord) {
	m.requests.WithLabelValues(r.Namespace, r.Model, strconv.Itoa(r.Status)).Inc()
	if r.PromptTokens > 0 {
		m.tokens.WithLabelValues(r.Namespace, r.Model, r.Key, "input").Add(float64(r.PromptTokens))
	}
	if r.CompletionTokens > 0 {
		m.tokens.WithLabelValues(r.Namespace, r.Model, r.Key, "output").Add(float64(r.CompletionTokens))
	}
	if r.Status != http.StatusOK {
		return
	}
	m.e2e.WithLabelValues(r.Namespace, r.Model).Observe(r.End.Sub(r.Start).Seconds())
	if r.Queued > 0 {
		m.coldStart.WithLabelValues(r.Namespace, r.Model).Observe(r.Queued.Seconds())
	}
	if r.Stream && !r.FirstToken.IsZero() {
		m.ttft.WithLabelValues(r.Namespace, r.Model).Observe(r.FirstToken.Sub(r.Start).Seconds())
		if r.CompletionTokens > 1 {
			m.tpot.WithLabelValues(r.Namespace, r.Model).Observe(r.End.Sub(r.FirstToken).Seconds() / float64(r.CompletionTokens-1))
		}
	}
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
