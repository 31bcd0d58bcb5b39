package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
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
	t.Run("Scheduler", func(t *testing.T) { schedulerFollowsMovingJobs(t, r, snap, pending, t0) })
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

// schedulerFollowsMovingJobs runs a Scheduler over pending lists that
// keep, shift, reorder, drop, add and replace jobs from one cycle to the
// next (a Scheduler finds a job's entry by its position in the last list
// where it can, by the map where it cannot), in two halves and in one,
// and holds every plan to Schedule's.
func schedulerFollowsMovingJobs(t *testing.T, r *rand.Rand, snap Snapshot, all []*v1alpha1.Job, now time.Time) {
	var s Scheduler
	list := append([]*v1alpha1.Job(nil), all[:4000]...)
	spare := append([]*v1alpha1.Job(nil), all[4000:]...)
	for c := range 12 {
		switch c % 6 {
		case 1: // the same list again
		case 2: // shifted: jobs leave at the front, others come at the end
			list = append(list[300:], spare[:300]...)
			spare = append(spare[300:], all[:300]...)
		case 3: // jobs leave and come here and there
			for k := 0; k < 200; k++ {
				i := r.IntN(len(list))
				list[i] = list[len(list)-1]
				list = list[:len(list)-1]
			}
			for k := 0; k < 200; k++ {
				i := r.IntN(len(list))
				list = append(list[:i], append([]*v1alpha1.Job{spare[k]}, list[i:]...)...)
			}
			spare = spare[200:]
		case 4: // shuffled, and some jobs replaced by changed objects
			r.Shuffle(len(list), func(a, b int) { list[a], list[b] = list[b], list[a] })
			for k := 0; k < 100; k++ {
				i := r.IntN(len(list))
				j := list[i].DeepCopy()
				j.Spec.Queue = fmt.Sprintf("q%02d", r.IntN(42))
				j.Spec.Priority++
				list[i] = j
			}
		case 5: // reversed
			slices.Reverse(list)
		}
		parallelMin = []int{1, len(list) + 1}[c/6]
		want := Schedule(snap, list, now)
		got := s.Schedule(snap, list, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cycle %d: the Scheduler's plan differs from Schedule's", c)
		}
	}
}
