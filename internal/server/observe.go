package server

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/authz"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/gpu"
	"skiff.dev/skiff/internal/monitoring"
	"skiff.dev/skiff/internal/tracing"
)

// MetricsPath and GPUsPath are the observability routes on the API
// listener.
const (
	MetricsPath = "/metrics"
	GPUsPath    = "/telemetry/gpus"
)

// MetricsKind is the pseudo-kind /metrics is authorized as: the metrics
// name every namespace's jobs, so only cluster-admins may scrape.
const MetricsKind = "Metrics"

// observer is the state the metrics collectors and the GPU sampler read:
// the scheduling loop's informer caches of jobs and queues, so that no
// second copy of every job is decoded and kept.
type observer struct {
	loop *controller.SchedulingLoop
}

// Jobs implements monitoring.State.
func (o observer) Jobs() []*v1alpha1.Job { return o.loop.CachedJobs() }

// Queues implements monitoring.State.
func (o observer) Queues() []*v1alpha1.Queue { return o.loop.CachedQueues() }

// newSampler returns the GPU sampler of this machine, registered with m.
func newSampler(o observer, m Machine, clk clock.PassiveClock) *gpu.Sampler {
	total := len(m.GPUs)
	known := make([]gpu.Device, 0, total)
	for _, g := range m.GPUs {
		known = append(known, gpu.Device{Index: int(g.Index), UUID: g.UUID, Model: g.Model})
	}
	return &gpu.Sampler{
		Known: known,
		Query: gpu.SMIQuery(),
		Allocation: func() gpu.Allocation {
			return gpu.AllocationOf(m.Name, total, o.Jobs())
		},
		Now:  clk.Now,
		Node: m.Name,
	}
}

// cycleObserver times scheduling cycles and gives each a span.
type cycleObserver struct {
	metrics *monitoring.Metrics
	tracer  trace.Tracer
	clock   clock.PassiveClock
}

func (c cycleObserver) StartCycle(ctx context.Context) (context.Context, func(error)) {
	start := c.clock.Now()
	ctx, end := tracing.StartCycle(ctx, c.tracer)
	return ctx, func(err error) {
		c.metrics.ObserveCycle(c.clock.Since(start), err)
		end(err)
	}
}

// ObservePlan implements controller.PlanObserver.
func (c cycleObserver) ObservePlan(admitted, waiting int) { c.metrics.ObservePlan(admitted, waiting) }

// eventObserver turns controller events into metrics and job spans.
func eventObserver(ctx context.Context, m *monitoring.Metrics, tr trace.Tracer) func(v1alpha1.Object, string, string, time.Time) {
	return func(obj v1alpha1.Object, _ string, reason string, now time.Time) {
		m.ObserveEvent(obj, reason, now)
		if job, ok := obj.(*v1alpha1.Job); ok && (reason == "Succeeded" || reason == "Failed") {
			tracing.RecordJob(ctx, tr, job, now)
		}
	}
}

// storeFiles are the SQLite files whose size skiff_store_size_bytes sums.
func storeFiles(dataDir string) []string {
	db := filepath.Join(dataDir, "skiff.db")
	return []string{db, db + "-wal", db + "-shm"}
}

// metricsHandler serves /metrics to cluster-admins only.
func metricsHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.IdentityFrom(r.Context())
		if d := authz.Authorize(id, authz.Get, MetricsKind, ""); !d.Allowed {
			http.Error(w, "forbidden: /metrics shows every namespace: scrape it with a cluster-admin token", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// gpusHandler serves the GPU report; a tenant sees owners in its own
// namespace only.
func gpusHandler(s *gpu.Sampler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		id, _ := auth.IdentityFrom(r.Context())
		rep := s.Report(func(ns string) bool { return id.Admin || ns == id.Namespace })
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// withDashboard routes /ui/ to the dashboard and everything else to the
// API.
func withDashboard(api, dash http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ui" || r.URL.Path == "/":
			http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		case strings.HasPrefix(r.URL.Path, "/ui/"):
			dash.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}
