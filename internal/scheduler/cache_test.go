package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// TestSchedulerMatchesSchedule checks that a Scheduler, which keeps what it
// read from pending jobs between cycles, makes exactly the plans of the
// cache-free Schedule while jobs come, go, and change (as new objects, the
// way informers hand them out): priority, queue and size changes must not
// be answered from stale cache entries, nor may attained-service levels
// when a queue's thresholds change under the same job objects.
func TestSchedulerMatchesSchedule(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 5))
		w := randomWorld(r)
		var s scheduler.Scheduler
		for c := 0; c < 10; c++ {
			for i := r.IntN(40); i > 0; i-- {
				w.do(strings.Fields(randomSubmit(r, w, c, i)))
			}
			// Change some pending jobs: a changed job is a new object.
			for key, j := range w.jobs {
				if j.Status.Admission != nil || r.IntN(6) != 0 {
					continue
				}
				j = j.DeepCopy()
				switch r.IntN(3) {
				case 0:
					j.Spec.Priority += 5
				case 1:
					j.Spec.Queue = fmt.Sprintf("q%d", r.IntN(len(w.queues)+1)) // may name no queue
				case 2:
					j.Spec.ReplicaGroups[0].Replicas++
				}
				w.jobs[key] = j
			}
			// A queue object replaced with or without thresholds (scope
			// Queue or Cohort).
			for _, name := range sortedKeys(w.queues) {
				if r.IntN(4) != 0 {
					continue
				}
				q := w.queues[name].DeepCopy()
				if q.Spec.LeastAttainedService == nil {
					q.Spec.LeastAttainedService = &v1alpha1.LeastAttainedService{ThresholdsGPUSeconds: []int64{3600}}
					if q.Spec.Cohort != "" && r.IntN(2) == 0 {
						q.Spec.LeastAttainedService.Scope = v1alpha1.AttainedServiceScopeCohort
					}
				} else {
					q.Spec.LeastAttainedService = nil
				}
				w.queues[name] = q
			}
			snap := w.snapshot()
			var pending []*v1alpha1.Job
			for _, j := range sortedValues(w.jobs) {
				if j.Status.Admission == nil {
					pending = append(pending, j)
				}
			}
			want := scheduler.Schedule(snap, pending, w.now)
			got := s.Schedule(snap, pending, w.now)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d cycle %d: the Scheduler's plan differs from Schedule's:\n%s", seed, c, planDiff(want, got))
			}
			w.cycle(true, false)
			// Finished and evicted jobs leave or return as new objects.
			for key, j := range w.jobs {
				switch {
				case j.Status.Preemption != nil:
					j = j.DeepCopy()
					j.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobPending, AttainedGPUSeconds: int64(r.IntN(7200))}
					w.jobs[key] = j
				case j.Status.Admission != nil && r.IntN(3) == 0:
					delete(w.jobs, key)
				}
			}
		}
	}
}
