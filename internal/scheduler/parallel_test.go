package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// TestParallelCycleIsDeterministic checks that the goroutines a large
// cycle uses (state and pending jobs read side by side, queues sorted in
// two halves, Waiting written behind the cycle) give exactly the plan of a
// cycle that does everything in order. Run it with -race too.
func TestParallelCycleIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	snap := Snapshot{Flavors: []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "f"},
		Spec: v1alpha1.FlavorSpec{TopologyLevels: []string{"rack", "kubernetes.io/hostname"}}}}}
	for i := range 200 {
		name := fmt.Sprintf("n%03d", i)
		snap.Nodes = append(snap.Nodes, &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"rack": fmt.Sprint(i / 16), "kubernetes.io/hostname": name}},
			Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{CPU: q("64"), Memory: q("512Gi"), GPU: q("8")}}})
	}
	for i := range 40 {
		qu := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("q%02d", i)}, Spec: v1alpha1.QueueSpec{Cohort: fmt.Sprintf("c%d", i/8),
			QueueingStrategy: []string{v1alpha1.StrictFIFO, v1alpha1.BestEffortFIFO}[i%2],
			Flavors:          []v1alpha1.FlavorQuota{{Name: "f", Resources: []v1alpha1.ResourceQuota{{Name: "gpu", NominalQuota: *q("40")}, {Name: "cpu", NominalQuota: *q("200")}}}}}}
		if i%3 == 0 {
			qu.Spec.Preemption = &v1alpha1.QueuePreemption{WithinQueue: v1alpha1.PreemptLowerPriority, ReclaimWithinCohort: v1alpha1.PreemptAny}
		}
		snap.Queues = append(snap.Queues, qu)
	}
	var pending []*v1alpha1.Job
	for i := range 6000 {
		queue := fmt.Sprintf("q%02d", r.IntN(42)) // q40 and q41 do not exist
		j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("j%05d", i), CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(r.IntN(3000)) * time.Millisecond))},
			Spec: v1alpha1.JobSpec{Queue: queue, Priority: int32(r.IntN(3)), ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "w", Replicas: int32(1 + r.IntN(3)),
				Template: v1alpha1.ReplicaTemplate{Resources: v1alpha1.Resources{GPU: q([]string{"1", "2", "500m", "8"}[r.IntN(4)]), CPU: q("1")}}}}}}
		if i%5 == 0 {
			j.Spec.ReplicaGroups = append(j.Spec.ReplicaGroups, v1alpha1.ReplicaGroup{Name: "ps", Replicas: 1, Template: v1alpha1.ReplicaTemplate{Resources: v1alpha1.Resources{CPU: q("2")}}})
		}
		pending = append(pending, j)
	}
	defer func(v int) { parallelMin = v }(parallelMin)
	parallelMin = len(pending) + 1
	want := Schedule(snap, pending, t0)
	parallelMin = 1
	got := Schedule(snap, pending, t0)
	if len(want.Admissions) == 0 || len(want.Waiting) == 0 {
		t.Fatalf("scenario too easy: %d admitted, %d waiting", len(want.Admissions), len(want.Waiting))
	}
	t.Logf("%d admitted, %d waiting, %d preempted", len(want.Admissions), len(want.Waiting), len(want.Preemptions))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parallel and sequential cycles differ")
	}
}
