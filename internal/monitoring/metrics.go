package monitoring

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"skiff.dev/skiff/api/v1alpha1"
)

// Metrics holds the counters and histograms fed by hooks, and the registry
// that also holds the scrape-time collectors.
type Metrics struct {
	Registry *prometheus.Registry

	apiRequests *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec

	storeWrites *prometheus.HistogramVec

	cycleDuration   prometheus.Histogram
	cycles          *prometheus.CounterVec
	attempts        *prometheus.CounterVec
	admissions      *prometheus.CounterVec
	timeToAdmission *prometheus.HistogramVec
	preemptions     *prometheus.CounterVec

	restarts     *prometheus.CounterVec
	jobsFinished *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec

	replicaExits *prometheus.CounterVec
}

// durationBuckets cover a millisecond API call to a week-long training job.
var (
	fastBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	slowBuckets = []float64{.1, .5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600, 24 * 3600, 7 * 24 * 3600}
)

// New registers every hook-fed metric and the Go and process collectors.
// Add scrape-time collectors with Registry.MustRegister.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_api_requests_total",
		Help: "API requests by verb, kind and HTTP status code.",
	}, []string{"verb", "kind", "code"})
	m.apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_api_request_duration_seconds",
		Help:    "Latency of API requests by verb and kind, without watches and followed logs, which stay open.",
		Buckets: fastBuckets,
	}, []string{"verb", "kind"})
	m.storeWrites = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_store_write_duration_seconds",
		Help:    "Time from a store write's call to its durable acknowledgement, by operation.",
		Buckets: fastBuckets,
	}, []string{"operation"})
	m.cycleDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "skiff_scheduler_cycle_duration_seconds",
		Help:    "Duration of a scheduling cycle: snapshot, plan and commit.",
		Buckets: fastBuckets,
	})
	m.cycles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_scheduler_cycles_total",
		Help: "Scheduling cycles by result (success or error).",
	}, []string{"result"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_scheduler_admission_attempts_total",
		Help: "Pending jobs the scheduler tried to admit, by result: admitted, or inadmissible (left waiting with a reason).",
	}, []string{"result"})
	m.admissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_scheduler_admissions_total",
		Help: "Jobs admitted, by queue.",
	}, []string{"queue"})
	m.timeToAdmission = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_scheduler_time_to_admission_seconds",
		Help:    "Time from a job's creation to its admission, by queue.",
		Buckets: slowBuckets,
	}, []string{"queue"})
	m.preemptions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_scheduler_preemptions_total",
		Help: "Jobs preempted, by queue of the victim and reason (InQueue or Reclaim).",
	}, []string{"queue", "reason"})
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_job_restarts_total",
		Help: "Gang restarts after a replica failure, by namespace.",
	}, []string{"namespace"})
	m.jobsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_jobs_finished_total",
		Help: "Jobs that reached Succeeded or Failed, by namespace and phase.",
	}, []string{"namespace", "phase"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "skiff_job_duration_seconds",
		Help:    "Run time of finished jobs, from first start to completion, by phase.",
		Buckets: slowBuckets,
	}, []string{"phase"})
	m.replicaExits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_runtime_replica_exits_total",
		Help: "Replica processes that ended, by class: success (code 0), error (non-zero code), signal (killed by a signal) or lost.",
	}, []string{"class"})
	m.Registry.MustRegister(m.apiRequests, m.apiDuration, m.storeWrites, m.cycleDuration, m.cycles, m.attempts,
		m.admissions, m.timeToAdmission, m.preemptions, m.restarts, m.jobsFinished, m.jobDuration, m.replicaExits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// ObserveRequest records one API request. Long-lived requests (watch,
// followed logs) count but stay out of the latency histogram.
func (m *Metrics) ObserveRequest(verb, kind string, code int, took time.Duration, longLived bool) {
	if verb == "" {
		verb = "unknown"
	}
	m.apiRequests.WithLabelValues(verb, kind, strconv.Itoa(code)).Inc()
	if !longLived {
		m.apiDuration.WithLabelValues(verb, kind).Observe(took.Seconds())
	}
}

// ObserveCycle records one scheduling cycle.
func (m *Metrics) ObserveCycle(took time.Duration, err error) {
	m.cycleDuration.Observe(took.Seconds())
	result := "success"
	if err != nil {
		result = "error"
	}
	m.cycles.WithLabelValues(result).Inc()
}

// ObservePlan records a cycle's admission attempts.
func (m *Metrics) ObservePlan(admitted, waiting int) {
	m.attempts.WithLabelValues("admitted").Add(float64(admitted))
	m.attempts.WithLabelValues("inadmissible").Add(float64(waiting))
}

// ObserveEvent turns the events the controllers record into counters: it is
// the controller.Recorder's Observe hook. obj is the object as written just
// before the event.
func (m *Metrics) ObserveEvent(obj v1alpha1.Object, reason string, now time.Time) {
	job, ok := obj.(*v1alpha1.Job)
	if !ok {
		return
	}
	switch reason {
	case "Admitted":
		queue := job.Spec.Queue
		if job.Status.Admission != nil {
			queue = job.Status.Admission.Queue
		}
		m.admissions.WithLabelValues(queue).Inc()
		if !job.CreationTimestamp.IsZero() {
			m.timeToAdmission.WithLabelValues(queue).Observe(max(0, now.Sub(job.CreationTimestamp.Time).Seconds()))
		}
	case "Preempting":
		queue, why := job.Spec.Queue, ""
		if job.Status.Admission != nil {
			queue = job.Status.Admission.Queue
		}
		if job.Status.Preemption != nil {
			why = job.Status.Preemption.Reason
		}
		m.preemptions.WithLabelValues(queue, why).Inc()
	case "Restarted":
		m.restarts.WithLabelValues(job.Namespace).Inc()
	case "Succeeded", "Failed":
		m.jobsFinished.WithLabelValues(job.Namespace, reason).Inc()
		if job.Status.StartTime != nil {
			end := now
			if job.Status.CompletionTime != nil {
				end = job.Status.CompletionTime.Time
			}
			m.jobDuration.WithLabelValues(reason).Observe(max(0, end.Sub(job.Status.StartTime.Time).Seconds()))
		}
	}
}

// ObserveStoreWrite records one store write.
func (m *Metrics) ObserveStoreWrite(op string, took time.Duration) {
	m.storeWrites.WithLabelValues(op).Observe(took.Seconds())
}
