package schedbench

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// backlogSetup is the live Kueue baseline (bench/scheduler/kueue-baseline.yaml)
// at its peak backlog: 5 cohorts x 6 queues of nominal 20 cpu (borrowing
// limit 100), each queue listing its own namespace, every unit of quota
// held by running large jobs, and 6,000 pending jobs (small, medium and
// large in the scenario's mix and priorities) handed over in the order they
// arrived, as the live loop's index hands them (the order jobs became
// pending).
func backlogSetup() (scheduler.Snapshot, []*v1alpha1.Job) {
	r := rand.New(rand.NewPCG(2, 2))
	var snap scheduler.Snapshot
	snap.Flavors = []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "default"}}}
	snap.Nodes = []*v1alpha1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "node"},
		Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{CPU: resource.NewQuantity(100_000, resource.DecimalSI),
			Memory: resource.NewQuantity(1<<50, resource.BinarySI)}}}}
	borrow := resource.MustParse("100")
	const nQueues = 30
	for i := 0; i < nQueues; i++ {
		name := fmt.Sprintf("cq-%d-cohort-%d", i%6, i/6)
		snap.Queues = append(snap.Queues, &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.QueueSpec{Cohort: fmt.Sprintf("cohort-%d", i/6), QueueingStrategy: v1alpha1.BestEffortFIFO,
				Namespaces: []string{name},
				Preemption: &v1alpha1.QueuePreemption{WithinQueue: v1alpha1.PreemptLowerPriority, ReclaimWithinCohort: v1alpha1.PreemptAny},
				Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
					{Name: "cpu", NominalQuota: resource.MustParse("20"), BorrowingLimit: &borrow}}}}}})
	}
	job := func(q *v1alpha1.Queue, name string, cpu int64, prio int32, at time.Time) *v1alpha1.Job {
		return &v1alpha1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: q.Name, Name: name, CreationTimestamp: metav1.NewTime(at)},
			Spec: v1alpha1.JobSpec{Queue: q.Name, Priority: prio,
				ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{
					Resources: v1alpha1.Resources{CPU: resource.NewQuantity(cpu, resource.DecimalSI)}}}}}}
	}
	for i, q := range snap.Queues {
		j := job(q, fmt.Sprintf("running-%d", i), 20, 200, t0)
		j.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobRunning, Admission: &v1alpha1.Admission{Queue: q.Name, Flavor: "default",
			Placements: []v1alpha1.Placement{{Group: "worker", Index: 0, Node: "node"}}}}
		snap.Admitted = append(snap.Admitted, j)
	}
	var pending []*v1alpha1.Job
	for i := 0; i < 6_000; i++ {
		q := snap.Queues[r.IntN(nQueues)]
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		switch k := r.IntN(10); {
		case k < 7:
			pending = append(pending, job(q, fmt.Sprintf("small-%d", i), 1, 50, at))
		case k < 9:
			pending = append(pending, job(q, fmt.Sprintf("medium-%d", i), 5, 100, at))
		default:
			pending = append(pending, job(q, fmt.Sprintf("large-%d", i), 20, 200, at))
		}
	}
	return snap, pending
}

// BenchmarkBacklogCycle is a warm cycle of the live loop at the Kueue
// baseline's peak backlog: nothing can be admitted, and every pending job
// still gets its waiting reason.
func BenchmarkBacklogCycle(b *testing.B) {
	snap, pending := backlogSetup()
	var s scheduler.Scheduler
	s.Schedule(snap, pending, t0)
	runCycles(b, func() scheduler.Plan { return s.Schedule(snap, pending, t0) })
}
