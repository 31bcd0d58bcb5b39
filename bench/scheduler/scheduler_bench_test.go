// Package schedbench measures one full cycle of the pure scheduler core at
// cluster scale: 10,000 nodes x 8 GPUs, 100,000 pending jobs from 1,000
// queues in 100 cohorts of 10.
//
//	go test -run '^$' -bench . -benchmem -cpu 2 ./bench/scheduler/
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

const (
	nodes        = 10_000
	gpusPerNode  = 8
	queues       = 1_000
	cohortSize   = 10
	jobsPerQueue = 100
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func setup() (scheduler.Snapshot, []*v1alpha1.Job) {
	r := rand.New(rand.NewPCG(1, 1))
	var snap scheduler.Snapshot
	snap.Flavors = []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "h100"},
		Spec: v1alpha1.FlavorSpec{TopologyLevels: []string{"skiff.dev/rack", "kubernetes.io/hostname"}}}}
	for i := 0; i < nodes; i++ {
		name := fmt.Sprintf("node-%05d", i)
		snap.Nodes = append(snap.Nodes, &v1alpha1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"skiff.dev/rack": fmt.Sprintf("rack-%03d", i/32), "kubernetes.io/hostname": name}},
			Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{CPU: resource.NewQuantity(128, resource.DecimalSI),
				Memory: resource.NewQuantity(1<<40, resource.BinarySI), GPU: resource.NewQuantity(gpusPerNode, resource.DecimalSI)}}})
	}
	// Each queue's nominal share of the cluster, so that borrowing happens
	// only where a cohort member leaves quota idle.
	nominal := nodes * gpusPerNode / queues
	borrow := resource.MustParse(fmt.Sprint(nominal))
	for i := 0; i < queues; i++ {
		snap.Queues = append(snap.Queues, &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("q%04d", i)},
			Spec: v1alpha1.QueueSpec{Cohort: fmt.Sprintf("c%03d", i/cohortSize), QueueingStrategy: v1alpha1.BestEffortFIFO,
				Preemption: &v1alpha1.QueuePreemption{WithinQueue: v1alpha1.PreemptLowerPriority, ReclaimWithinCohort: v1alpha1.PreemptAny},
				Flavors: []v1alpha1.FlavorQuota{{Name: "h100", Resources: []v1alpha1.ResourceQuota{
					{Name: "gpu", NominalQuota: resource.MustParse(fmt.Sprint(nominal)), BorrowingLimit: &borrow},
					{Name: "cpu", NominalQuota: resource.MustParse(fmt.Sprint(nominal * 16))},
				}}}}})
	}
	var pending []*v1alpha1.Job
	sizes := []struct {
		replicas int32
		gpu      string
	}{{1, "1"}, {1, "1"}, {1, "2"}, {1, "500m"}, {1, "4"}, {2, "8"}}
	for i := 0; i < queues*jobsPerQueue; i++ {
		s := sizes[r.IntN(len(sizes))]
		pending = append(pending, &v1alpha1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("job-%06d", i), CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(i) * time.Millisecond))},
			Spec: v1alpha1.JobSpec{Queue: fmt.Sprintf("q%04d", r.IntN(queues)), Priority: int32(r.IntN(3)),
				ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: s.replicas, Template: v1alpha1.ReplicaTemplate{
					Resources: v1alpha1.Resources{GPU: resource.NewQuantity(0, resource.DecimalSI), CPU: resource.NewQuantity(4, resource.DecimalSI)}}}}}})
		q := resource.MustParse(s.gpu)
		pending[i].Spec.ReplicaGroups[0].Template.Resources.GPU = &q
	}
	return snap, pending
}

// BenchmarkFullCycle is a cycle of the live server's kind: a Scheduler
// that has seen the pending jobs in an earlier cycle (the server passes
// the same pending jobs cycle after cycle; only new or changed ones are
// read again). Each cycle decides everything anew: ordering, quota,
// placement on every node, preemption and every waiting reason.
func BenchmarkFullCycle(b *testing.B) {
	snap, pending := setup()
	var s scheduler.Scheduler
	s.Schedule(snap, pending, t0)
	runCycles(b, func() scheduler.Plan { return s.Schedule(snap, pending, t0) })
}

// BenchmarkColdCycle is the same cycle without anything kept from an
// earlier one (scheduler.Schedule): every pending job is read afresh, as
// in a server's first cycle after it starts.
func BenchmarkColdCycle(b *testing.B) {
	snap, pending := setup()
	runCycles(b, func() scheduler.Plan { return scheduler.Schedule(snap, pending, t0) })
}

func runCycles(b *testing.B, cycle func() scheduler.Plan) {
	b.ReportAllocs()
	b.ResetTimer()
	admitted := 0
	for b.Loop() {
		plan := cycle()
		admitted = len(plan.Admissions)
	}
	perCycle := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perCycle*1000, "ms/cycle")
	b.ReportMetric(float64(admitted), "admissions/cycle")
	b.ReportMetric(float64(admitted)/perCycle, "admissions/s")
}
