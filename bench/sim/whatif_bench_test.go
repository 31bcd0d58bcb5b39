package simbench

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/sim"
)

// BenchmarkProjectFromCluster is `skiff sim --from-cluster`'s projection:
// 100 nodes of 8 GPUs, 10 queues of 80 GPUs in one cohort, N pending jobs
// of 1 to 8 GPUs with estimates of 10 minutes to 2 hours, nothing running.
//
//	go test -run '^$' -bench ProjectFromCluster -benchtime 1x ./bench/sim/
func BenchmarkProjectFromCluster(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{1000, 5000} {
		live := whatIfLive(n, now)
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				got, err := sim.Project(live, sim.ProjectOptions{Now: now, DefaultRuntime: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != n || got[len(got)-1].Start == nil {
					b.Fatalf("projected %d jobs, the last %+v: want all %d started", len(got), got[len(got)-1], n)
				}
			}
		})
	}
}

func whatIfLive(n int, now time.Time) sim.Live {
	q := func(v int64) *resource.Quantity { return resource.NewQuantity(v, resource.DecimalSI) }
	live := sim.Live{Flavors: []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "a100"}}}}
	for i := range 100 {
		live.Nodes = append(live.Nodes, &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i)},
			Spec: v1alpha1.NodeSpec{GPUModel: "a100", Capacity: v1alpha1.Resources{GPU: q(8)}}})
	}
	for i := range 10 {
		live.Queues = append(live.Queues, &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("q%d", i)},
			Spec: v1alpha1.QueueSpec{Cohort: "c", QueueingStrategy: v1alpha1.BestEffortFIFO,
				Flavors: []v1alpha1.FlavorQuota{{Name: "a100", Resources: []v1alpha1.ResourceQuota{{Name: v1alpha1.ResourceGPU, NominalQuota: *q(80)}}}}}})
	}
	for i := range n {
		est := int64(600 + (i*7919)%7200)
		live.Jobs = append(live.Jobs, &v1alpha1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: fmt.Sprintf("j%05d", i),
				CreationTimestamp: metav1.NewTime(now.Add(time.Duration(i-n) * time.Second))},
			Spec: v1alpha1.JobSpec{Queue: fmt.Sprintf("q%d", i%10), RunPolicy: v1alpha1.RunPolicy{EstimatedSeconds: &est},
				ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{
					Command: []string{"train"}, Resources: v1alpha1.Resources{GPU: q(int64(1 + i%8))}}}}},
			Status: v1alpha1.JobStatus{Phase: v1alpha1.JobPending},
		})
	}
	return live
}
