package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
			samePlans(t, &s, w, snap, seed, c)
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

// TestSchedulerKeepsState checks the state a Scheduler keeps between
// cycles (admitted jobs on nodes and queues, brought up to date from each
// snapshot's changes): after every cycle it must equal the state built
// from scratch, and every plan must be Schedule's, while jobs are
// admitted, evicted (and listed as evicting for a while), finish, start
// without a start time, and nodes fail, come and go, with the snapshot's
// admitted jobs in changing order and now and then one listed twice.
func TestSchedulerKeepsState(t *testing.T) {
	for seed := uint64(1); seed <= 80; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		w := randomWorld(r)
		var s scheduler.Scheduler
		for c := 0; c < 14; c++ {
			for i := r.IntN(12); i > 0; i-- {
				w.do(strings.Fields(randomSubmit(r, w, c, i)))
			}
			switch r.IntN(8) {
			case 0: // a node fails: a new object
				for _, n := range sortedValues(w.nodes) {
					n = n.DeepCopy()
					n.Spec.Unschedulable = true
					w.nodes[n.Name] = n
					break
				}
			case 1: // a node comes
				w.do(strings.Fields(fmt.Sprintf("node m%d-%d gpu=%d cpu=32 labels=pool:a,rack:r%d", seed, c, 1+r.IntN(8), r.IntN(3))))
			case 2: // a node goes, with what ran on it
				for _, n := range sortedValues(w.nodes) {
					delete(w.nodes, n.Name)
					break
				}
			}
			snap := w.snapshot()
			switch r.IntN(6) {
			case 0:
				r.Shuffle(len(snap.Admitted), func(a, b int) { snap.Admitted[a], snap.Admitted[b] = snap.Admitted[b], snap.Admitted[a] })
			case 1:
				if len(snap.Admitted) > 0 {
					snap.Admitted = append(snap.Admitted, snap.Admitted[r.IntN(len(snap.Admitted))])
				}
			}
			got := samePlans(t, &s, w, snap, seed, c)
			if d := scheduler.BaseDiff(&s, snap, w.now); d != "" {
				t.Fatalf("seed %d cycle %d: the kept state differs from a fresh one:\n%s", seed, c, d)
			}
			// The committer's writes, each a new object.
			for _, a := range got.Admissions {
				j := w.jobs[a.Namespace+"/"+a.Name].DeepCopy()
				adm := a.Admission
				admitted := metav1.NewTime(w.now) // attained service counts from here
				adm.Time = &admitted
				j.Status.Admission, j.Status.Phase, j.Status.NominatedFlavor = &adm, v1alpha1.JobRunning, ""
				if r.IntN(4) > 0 { // else not started yet: backfill counts its end from now
					start := metav1.NewTime(w.now)
					j.Status.StartTime = &start
				}
				w.jobs[scheduler.Key(j)] = j
			}
			for _, p := range got.Preemptions {
				j := w.jobs[p.Namespace+"/"+p.Name].DeepCopy()
				j.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: p.Reason, By: p.By, PreemptorUID: p.ByUID, Message: p.Message, Time: metav1.NewTime(w.now)}
				w.jobs[scheduler.Key(j)] = j
			}
			for k, flavor := range got.Nominations() {
				if j := w.jobs[k]; j != nil && j.Status.Admission == nil {
					j = j.DeepCopy()
					j.Status.NominatedFlavor = flavor
					w.jobs[k] = j
				}
			}
			// Some evicted jobs stop (and wait again), some running ones finish.
			for key, j := range w.jobs {
				switch {
				case j.Status.Preemption != nil && r.IntN(2) == 0:
					j = j.DeepCopy()
					j.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobPending}
					w.jobs[key] = j
				case j.Status.Admission != nil && j.Status.Preemption == nil && r.IntN(4) == 0:
					delete(w.jobs, key)
				}
			}
			w.now = w.now.Add(time.Duration(r.IntN(40)) * time.Second)
			if r.IntN(4) == 0 { // long enough for running jobs to reach another attained-service level
				w.now = w.now.Add(time.Duration(r.IntN(3600)) * time.Second)
			}
		}
	}
}

// samePlans plans w's pending jobs over snap with s and with Schedule,
// fails the test unless the plans are equal, and returns s's.
func samePlans(t *testing.T, s *scheduler.Scheduler, w *world, snap scheduler.Snapshot, seed uint64, c int) scheduler.Plan {
	t.Helper()
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
	return got
}
