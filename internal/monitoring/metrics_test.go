package monitoring

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	dto "github.com/prometheus/client_model/go"
	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
)

type fakeState struct {
	jobs   []*v1alpha1.Job
	queues []*v1alpha1.Queue
}

func (f fakeState) Jobs() []*v1alpha1.Job     { return f.jobs }
func (f fakeState) Queues() []*v1alpha1.Queue { return f.queues }

func pendingJob(name, queue, reason string) *v1alpha1.Job {
	j := &v1alpha1.Job{}
	j.Namespace, j.Name, j.Spec.Queue = "ns", name, queue
	j.Status.Phase = v1alpha1.JobPending
	if reason != "" {
		j.Status.Conditions = []metav1.Condition{{Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionFalse, Message: reason}}
	}
	return j
}

func TestStateCollector(t *testing.T) {
	running := &v1alpha1.Job{}
	running.Namespace, running.Name = "ns", "r"
	running.Status.Phase = v1alpha1.JobRunning
	running.Status.Admission = &v1alpha1.Admission{Queue: "q"}
	running.Status.Replicas = []v1alpha1.ReplicaStatus{{State: v1alpha1.ReplicaRunning}, {State: v1alpha1.ReplicaRunning}}
	limit := resource.MustParse("2")
	q := &v1alpha1.Queue{}
	q.Name = "q"
	q.Spec.Flavors = []v1alpha1.FlavorQuota{{Name: "h100", Resources: []v1alpha1.ResourceQuota{
		{Name: "gpu", NominalQuota: resource.MustParse("8"), BorrowingLimit: &limit},
		{Name: "memory", NominalQuota: resource.MustParse("1Gi")},
	}}}
	q.Status.Usage = []v1alpha1.FlavorUsage{{Name: "h100",
		Resources: map[string]resource.Quantity{"gpu": resource.MustParse("10"), "cpu": resource.MustParse("1500m")},
		Borrowed:  map[string]resource.Quantity{"gpu": resource.MustParse("2")}}}
	st := fakeState{
		jobs: []*v1alpha1.Job{running,
			pendingJob("a", "q", "waiting for 3 gpu in flavor default: queue q uses 4/4 and has no cohort to borrow from; position 2 in queue q"),
			pendingJob("b", "q", "waiting behind ns/a in StrictFIFO queue q; position 3 in queue q"),
			pendingJob("c", "q", "waiting behind ns/a in StrictFIFO queue q; position 4 in queue q"),
			pendingJob("d", "q", "")},
		queues: []*v1alpha1.Queue{q},
	}
	want := `
# HELP skiff_queue_pending_jobs Pending jobs by queue and the class of reason they wait for (capacity, quota, fifo, namespace_limit, config, unscheduled, other).
# TYPE skiff_queue_pending_jobs gauge
skiff_queue_pending_jobs{queue="q",reason="fifo"} 2
skiff_queue_pending_jobs{queue="q",reason="quota"} 1
skiff_queue_pending_jobs{queue="q",reason="unscheduled"} 1
# HELP skiff_queue_nominal_quota Nominal quota of a queue per flavor and resource, in base units (cpu: cores, memory: bytes, gpu: devices).
# TYPE skiff_queue_nominal_quota gauge
skiff_queue_nominal_quota{flavor="h100",queue="q",resource="gpu"} 8
skiff_queue_nominal_quota{flavor="h100",queue="q",resource="memory"} 1.073741824e+09
# HELP skiff_queue_borrowing_limit How much a queue may borrow from its cohort per flavor and resource, in base units; absent when unlimited.
# TYPE skiff_queue_borrowing_limit gauge
skiff_queue_borrowing_limit{flavor="h100",queue="q",resource="gpu"} 2
# HELP skiff_queue_resource_usage Resources held by a queue's admitted jobs per flavor and resource, in base units, borrowed part included.
# TYPE skiff_queue_resource_usage gauge
skiff_queue_resource_usage{flavor="h100",queue="q",resource="cpu"} 1.5
skiff_queue_resource_usage{flavor="h100",queue="q",resource="gpu"} 10
# HELP skiff_queue_resource_borrowed The part of a queue's usage borrowed from its cohort, per flavor and resource, in base units.
# TYPE skiff_queue_resource_borrowed gauge
skiff_queue_resource_borrowed{flavor="h100",queue="q",resource="cpu"} 0
skiff_queue_resource_borrowed{flavor="h100",queue="q",resource="gpu"} 2
# HELP skiff_queue_admitted_jobs Jobs holding resources of a queue.
# TYPE skiff_queue_admitted_jobs gauge
skiff_queue_admitted_jobs{queue="q"} 1
# HELP skiff_jobs Jobs by namespace and phase.
# TYPE skiff_jobs gauge
skiff_jobs{namespace="ns",phase="Pending"} 4
skiff_jobs{namespace="ns",phase="Running"} 1
`
	names := []string{"skiff_queue_pending_jobs", "skiff_queue_nominal_quota", "skiff_queue_borrowing_limit",
		"skiff_queue_resource_usage", "skiff_queue_resource_borrowed", "skiff_queue_admitted_jobs", "skiff_jobs"}
	if err := testutil.CollectAndCompare(StateCollector{State: st}, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(StateCollector{State: st}, "skiff_runtime_replicas"); got != 4 {
		t.Errorf("replica state series = %d, want 4 (every state, zeros included)", got)
	}
}

func TestReasonClass(t *testing.T) {
	for msg, want := range map[string]string{
		"waiting for node room in flavor default for 1 x gpu=4: 2 whole GPUs free on 2 of 2 schedulable nodes; position 1 in queue q": "capacity",
		"waiting for one rack domain in flavor f with room for the whole gang (4 x gpu=8); position 1 in queue q":                     "capacity",
		"waiting for 500m gpu in flavor default: queue q uses 3800m/4 and has no cohort to borrow from; position 2 in queue q":        "quota",
		"waiting behind ns/s2 in StrictFIFO queue strict; position 3 in queue strict":                                                 "fifo",
		"namespace a runs 2 jobs, its limit (spec.limits.runningJobs of the Namespace): waiting for one to finish":                    "namespace_limit",
		`queue "gone" does not exist: create it`: "config",
		"":                                       "unscheduled",
		"something new":                          "other",
	} {
		if got := ReasonClass(msg); got != want {
			t.Errorf("ReasonClass(%q) = %s, want %s", msg, got, want)
		}
	}
}

func TestEventsBecomeCounters(t *testing.T) {
	m := New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := &v1alpha1.Job{}
	j.Namespace, j.Spec.Queue = "ns", "q"
	j.CreationTimestamp = metav1.NewTime(t0)
	j.Status.Admission = &v1alpha1.Admission{Queue: "q"}
	m.ObserveEvent(j, "Admitted", t0.Add(90*time.Second))
	m.ObserveEvent(j, "Restarted", t0)
	j.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: "Reclaim"}
	m.ObserveEvent(j, "Preempting", t0)
	start, end := metav1.NewTime(t0.Add(100*time.Second)), metav1.NewTime(t0.Add(400*time.Second))
	j.Status.StartTime, j.Status.CompletionTime = &start, &end
	m.ObserveEvent(j, "Succeeded", t0.Add(time.Hour))
	m.ObserveEvent(&v1alpha1.Queue{}, "Admitted", t0) // not a job: ignored

	if v := testutil.ToFloat64(m.admissions.WithLabelValues("q")); v != 1 {
		t.Errorf("admissions = %v", v)
	}
	if v := testutil.ToFloat64(m.restarts.WithLabelValues("ns")); v != 1 {
		t.Errorf("restarts = %v", v)
	}
	if v := testutil.ToFloat64(m.preemptions.WithLabelValues("q", "Reclaim")); v != 1 {
		t.Errorf("preemptions = %v", v)
	}
	if v := testutil.ToFloat64(m.jobsFinished.WithLabelValues("ns", "Succeeded")); v != 1 {
		t.Errorf("finished = %v", v)
	}
	want := `
# HELP skiff_job_duration_seconds Run time of finished jobs, from first start to completion, by phase.
# TYPE skiff_job_duration_seconds histogram
skiff_job_duration_seconds_bucket{phase="Succeeded",le="0.1"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="0.5"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="1"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="5"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="15"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="30"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="60"} 0
skiff_job_duration_seconds_bucket{phase="Succeeded",le="300"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="900"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="1800"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="3600"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="10800"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="43200"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="86400"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="604800"} 1
skiff_job_duration_seconds_bucket{phase="Succeeded",le="+Inf"} 1
skiff_job_duration_seconds_sum{phase="Succeeded"} 300
skiff_job_duration_seconds_count{phase="Succeeded"} 1
`
	if err := testutil.CollectAndCompare(m.jobDuration, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	for _, mf := range mustGather(t, m) {
		if mf.GetName() == "skiff_scheduler_time_to_admission_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 1 || h.GetSampleSum() != 90 {
				t.Errorf("time to admission: count %d sum %v, want 1 and 90", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}
}

func TestLint(t *testing.T) {
	m := New()
	m.ObserveRequest("get", "Job", 200, time.Millisecond, false)
	m.ObserveCycle(time.Millisecond, nil)
	m.Registry.MustRegister(StateCollector{State: fakeState{}}, FileSizeCollector{})
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, m)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func mustGather(t *testing.T, m *Metrics) []*dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

type fakeRuntime struct {
	runtime.Runtime
	exits chan runtime.Status
}

func (f fakeRuntime) Exits() <-chan runtime.Status { return f.exits }

func TestRuntimeExitsAreCountedAndRelayed(t *testing.T) {
	m := New()
	in := make(chan runtime.Status, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := WrapRuntime(ctx, fakeRuntime{exits: in}, m)
	for _, st := range []runtime.Status{{Name: "a", ExitCode: 0}, {Name: "b", ExitCode: 3}, {Name: "c", Signal: "SIGKILL", ExitCode: -1}, {Name: "d", State: runtime.Lost}} {
		in <- st
	}
	for _, want := range []string{"a", "b", "c", "d"} {
		if got := <-w.Exits(); got.Name != want {
			t.Errorf("relayed %q, want %q", got.Name, want)
		}
	}
	for class, want := range map[string]float64{"success": 1, "error": 1, "signal": 1, "lost": 1} {
		if v := testutil.ToFloat64(m.replicaExits.WithLabelValues(class)); v != want {
			t.Errorf("exits{class=%s} = %v", class, v)
		}
	}
}
