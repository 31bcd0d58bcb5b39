// Package monitoring benchmarks what observability costs the server: one
// Prometheus scrape (gathering and encoding every skiff_ series) over a
// large state, and the per-request API instrumentation.
//
//	go test -run '^$' -bench . -benchmem ./bench/monitoring
package monitoring

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/monitoring"
)

type state struct {
	jobs   []*v1alpha1.Job
	queues []*v1alpha1.Queue
}

func (s state) Jobs() []*v1alpha1.Job     { return s.jobs }
func (s state) Queues() []*v1alpha1.Queue { return s.queues }

// bigState is 100,000 jobs in 100 namespaces over 1,000 queues (one flavor,
// three resources each): a third pending with a reason, a third running
// with 4 replicas, a third finished.
func bigState() state {
	var st state
	for q := range 1000 {
		queue := &v1alpha1.Queue{}
		queue.Name = fmt.Sprintf("q%d", q)
		queue.Spec.Flavors = []v1alpha1.FlavorQuota{{Name: "h100", Resources: []v1alpha1.ResourceQuota{
			{Name: "cpu", NominalQuota: resource.MustParse("64")}, {Name: "memory", NominalQuota: resource.MustParse("512Gi")},
			{Name: "gpu", NominalQuota: resource.MustParse("8")}}}}
		queue.Status.Usage = []v1alpha1.FlavorUsage{{Name: "h100", Resources: map[string]resource.Quantity{
			"cpu": resource.MustParse("32"), "memory": resource.MustParse("100Gi"), "gpu": resource.MustParse("8")}}}
		st.queues = append(st.queues, queue)
	}
	for i := range 100000 {
		j := &v1alpha1.Job{}
		j.Namespace, j.Name, j.Spec.Queue = fmt.Sprintf("team-%d", i%100), fmt.Sprintf("job-%d", i), fmt.Sprintf("q%d", i%1000)
		switch i % 3 {
		case 0:
			j.Status.Phase = v1alpha1.JobPending
			meta.SetStatusCondition(&j.Status.Conditions, metav1.Condition{Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionFalse,
				Message: fmt.Sprintf("waiting for 8 gpu in flavor h100: queue %s uses 8/8 and has no cohort to borrow from; position %d in queue %s", j.Spec.Queue, i/1000, j.Spec.Queue)})
		case 1:
			j.Status.Phase = v1alpha1.JobRunning
			j.Status.Admission = &v1alpha1.Admission{Queue: j.Spec.Queue}
			for r := range 4 {
				j.Status.Replicas = append(j.Status.Replicas, v1alpha1.ReplicaStatus{Index: int32(r), State: v1alpha1.ReplicaRunning})
			}
		default:
			j.Status.Phase = v1alpha1.JobSucceeded
		}
		st.jobs = append(st.jobs, j)
	}
	return st
}

func BenchmarkScrape100kJobs(b *testing.B) {
	m := monitoring.New()
	m.Registry.MustRegister(monitoring.StateCollector{State: bigState()})
	h := m.Handler()
	b.ResetTimer()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

func BenchmarkObserveRequest(b *testing.B) {
	m := monitoring.New()
	for b.Loop() {
		m.ObserveRequest("get", "Job", 200, time.Millisecond, false)
	}
}
