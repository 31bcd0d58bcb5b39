package monitoring

import (
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/api/v1alpha1"
)

// State is what the state collector reads at scrape time: informer caches
// of jobs and queues. The objects are shared and read-only.
type State interface {
	Jobs() []*v1alpha1.Job
	Queues() []*v1alpha1.Queue
}

// StateCollector derives gauges from the current jobs and queues on each
// scrape, so no controller carries instrumentation for them.
type StateCollector struct {
	State State
}

var (
	descJobs = prometheus.NewDesc("skiff_jobs",
		"Jobs by namespace and phase.", []string{"namespace", "phase"}, nil)
	descPending = prometheus.NewDesc("skiff_queue_pending_jobs",
		"Pending jobs by queue and the class of reason they wait for (capacity, quota, fifo, namespace_limit, config, unscheduled, other).",
		[]string{"queue", "reason"}, nil)
	descAdmitted = prometheus.NewDesc("skiff_queue_admitted_jobs",
		"Jobs holding resources of a queue.", []string{"queue"}, nil)
	descNominal = prometheus.NewDesc("skiff_queue_nominal_quota",
		"Nominal quota of a queue per flavor and resource, in base units (cpu: cores, memory: bytes, gpu: devices).",
		[]string{"queue", "flavor", "resource"}, nil)
	descBorrowLimit = prometheus.NewDesc("skiff_queue_borrowing_limit",
		"How much a queue may borrow from its cohort per flavor and resource, in base units; absent when unlimited.",
		[]string{"queue", "flavor", "resource"}, nil)
	descUsage = prometheus.NewDesc("skiff_queue_resource_usage",
		"Resources held by a queue's admitted jobs per flavor and resource, in base units, borrowed part included.",
		[]string{"queue", "flavor", "resource"}, nil)
	descBorrowed = prometheus.NewDesc("skiff_queue_resource_borrowed",
		"The part of a queue's usage borrowed from its cohort, per flavor and resource, in base units.",
		[]string{"queue", "flavor", "resource"}, nil)
	descReplicas = prometheus.NewDesc("skiff_runtime_replicas",
		"Replicas of the jobs' current attempts by state (Pending, Running, Succeeded, Failed).", []string{"state"}, nil)
)

// Describe implements prometheus.Collector.
func (c StateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descPending, descAdmitted, descNominal, descBorrowLimit, descUsage, descBorrowed, descReplicas} {
		ch <- d
	}
}

type nsPhase struct{ ns, phase string }
type queueReason struct{ queue, reason string }

// Collect implements prometheus.Collector.
func (c StateCollector) Collect(ch chan<- prometheus.Metric) {
	jobs := map[nsPhase]int{}
	pending := map[queueReason]int{}
	admitted := map[string]int{}
	replicas := map[string]int{}
	for _, j := range c.State.Jobs() {
		phase := string(j.Status.Phase)
		if phase == "" {
			phase = string(v1alpha1.JobPending)
		}
		jobs[nsPhase{j.Namespace, phase}]++
		switch {
		case j.Status.Admission != nil && (phase == string(v1alpha1.JobAdmitted) || phase == string(v1alpha1.JobRunning)):
			admitted[j.Status.Admission.Queue]++
		case phase == string(v1alpha1.JobPending):
			reason := "unscheduled"
			if cond := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.JobConditionAdmitted); cond != nil {
				reason = ReasonClass(cond.Message)
			}
			pending[queueReason{j.Spec.Queue, reason}]++
		}
		for _, r := range j.Status.Replicas {
			replicas[string(r.State)]++
		}
	}
	for k, n := range jobs {
		ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(n), k.ns, k.phase)
	}
	for k, n := range pending {
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(n), k.queue, k.reason)
	}
	for _, s := range []v1alpha1.ReplicaState{v1alpha1.ReplicaPending, v1alpha1.ReplicaRunning, v1alpha1.ReplicaSucceeded, v1alpha1.ReplicaFailed} {
		ch <- prometheus.MustNewConstMetric(descReplicas, prometheus.GaugeValue, float64(replicas[string(s)]), string(s))
	}
	for _, q := range c.State.Queues() {
		ch <- prometheus.MustNewConstMetric(descAdmitted, prometheus.GaugeValue, float64(admitted[q.Name]), q.Name)
		for _, f := range q.Spec.Flavors {
			for _, r := range f.Resources {
				ch <- prometheus.MustNewConstMetric(descNominal, prometheus.GaugeValue, quantityValue(r.NominalQuota), q.Name, f.Name, r.Name)
				if r.BorrowingLimit != nil {
					ch <- prometheus.MustNewConstMetric(descBorrowLimit, prometheus.GaugeValue, quantityValue(*r.BorrowingLimit), q.Name, f.Name, r.Name)
				}
			}
		}
		for _, u := range q.Status.Usage {
			for _, name := range sortedKeys(u.Resources) {
				ch <- prometheus.MustNewConstMetric(descUsage, prometheus.GaugeValue, quantityValue(u.Resources[name]), q.Name, u.Name, name)
				b := u.Borrowed[name]
				ch <- prometheus.MustNewConstMetric(descBorrowed, prometheus.GaugeValue, quantityValue(b), q.Name, u.Name, name)
			}
		}
	}
}

// quantityValue is a quantity in its base unit: cores, bytes, devices.
func quantityValue(q resource.Quantity) float64 {
	return q.AsApproximateFloat64()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ReasonClass sorts a pending job's waiting message into a few classes, a
// label with bounded values: the messages themselves carry numbers and
// names.
func ReasonClass(msg string) string {
	switch {
	case msg == "":
		return "unscheduled"
	case strings.HasPrefix(msg, "waiting behind "):
		return "fifo"
	case strings.HasPrefix(msg, "namespace ") && strings.Contains(msg, "spec.limits"):
		return "namespace_limit"
	case strings.Contains(msg, "does not exist") || strings.Contains(msg, "lists no flavors"):
		return "config"
	case strings.Contains(msg, "node room") || strings.Contains(msg, "GPUs free") || strings.Contains(msg, "schedulable nodes") ||
		strings.Contains(msg, " domain in flavor "):
		return "capacity"
	case strings.Contains(msg, " uses ") || strings.Contains(msg, "borrow") || strings.Contains(msg, "cohort"):
		return "quota"
	}
	return "other"
}
