package controller_test

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
)

func TestElasticJobGrowsWhenCapacityFreesUp(t *testing.T) {
	h := newHarness(t)
	grower := &controller.ElasticGrower{Store: h.store, Clock: clock.RealClock{}, Interval: 20 * time.Millisecond, MinRuntime: time.Millisecond}
	go func() { _ = grower.Run(h.ctx) }()

	h.create("big", 1, 0, "3") // holds 3 of the 4 GPUs
	h.waitPhase("big", v1alpha1.JobRunning)
	one := resource.MustParse("1")
	h.createSpec("elastic", map[string]int32{"worker": 4}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.Framework = v1alpha1.FrameworkPyTorch
		s.ReplicaGroups[0].MinReplicas = i32(1)
		s.ReplicaGroups[0].Template.Resources.GPU = &one
	})
	j := h.waitPhase("elastic", v1alpha1.JobRunning)
	if n := len(j.Status.Admission.Placements); n != 1 {
		t.Fatalf("admitted with %d replicas, want the minimum 1", n)
	}
	if env := h.env("elastic-worker-0-0"); !contains(env, "WORLD_SIZE=1") {
		t.Errorf("attempt 0 env: %s", env)
	}
	// While the big job runs, nothing changes.
	time.Sleep(100 * time.Millisecond)
	if h.rt.startCount("default", "elastic-worker-0-1") != 0 {
		t.Fatal("the job was restarted without free capacity")
	}
	h.rt.exit("default", "big-worker-0-0", 0, "")
	h.waitFor("elastic restarted with 4 replicas", func() bool {
		return h.rt.startCount("default", "elastic-worker-3-1") == 1
	})
	if env := h.env("elastic-worker-2-1"); !contains(env, "WORLD_SIZE=4") || !contains(env, "RANK=2") {
		t.Errorf("attempt 1 env: %s", env)
	}
	if st, _ := h.rt.Status(h.ctx, "default", "elastic-worker-0-0"); st.Reason != "Stopped" {
		t.Errorf("the small attempt: %+v, want it stopped", st)
	}
	j = h.waitPhase("elastic", v1alpha1.JobRunning)
	if j.Status.Preemptions != 0 || j.Status.Restarts != 0 || len(j.Status.Admission.Placements) != 4 {
		t.Errorf("after growing: preemptions %d restarts %d placements %d", j.Status.Preemptions, j.Status.Restarts, len(j.Status.Admission.Placements))
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub && (i+len(sub) == len(s) || s[i+len(sub)] == ' ') {
			return true
		}
	}
	return false
}

// A preempted elastic job is requeued and admitted again at the size that
// still fits, rather than waiting for its full size: it shrinks; once the
// preemptor is done it grows back.
func TestPreemptedElasticJobComesBackSmallerThenGrows(t *testing.T) {
	h := newHarness(t)
	grower := &controller.ElasticGrower{Store: h.store, Clock: clock.RealClock{}, Interval: 20 * time.Millisecond, MinRuntime: time.Millisecond}
	go func() { _ = grower.Run(h.ctx) }()
	for i := 0; ; i++ {
		q := &v1alpha1.Queue{}
		if err := h.store.Get(h.ctx, "", "default", q); err != nil {
			t.Fatal(err)
		}
		q.Spec.Preemption = &v1alpha1.QueuePreemption{WithinQueue: v1alpha1.PreemptLowerPriority}
		if err := h.store.Update(h.ctx, q); err == nil {
			break
		} else if i > 50 {
			t.Fatal(err)
		}
	}
	one := resource.MustParse("1")
	h.createSpec("elastic", map[string]int32{"worker": 4}, []string{"worker"}, func(s *v1alpha1.JobSpec) {
		s.ReplicaGroups[0].MinReplicas = i32(1)
		s.ReplicaGroups[0].Template.Resources.GPU = &one
	})
	if j := h.waitPhase("elastic", v1alpha1.JobRunning); len(j.Status.Admission.Placements) != 4 {
		t.Fatalf("admitted with %d replicas, want all 4 GPUs", len(j.Status.Admission.Placements))
	}
	h.create("urgent", 1, 0, "2")
	h.update("urgent", func(j *v1alpha1.Job) { j.Spec.Priority = 100 })
	h.waitPhase("urgent", v1alpha1.JobRunning)
	h.waitFor("elastic back with 2 replicas", func() bool {
		j := h.job("elastic")
		return j.Status.Phase == v1alpha1.JobRunning && j.Status.Admission != nil && len(j.Status.Admission.Placements) == 2
	})
	if j := h.job("elastic"); j.Status.Preemptions != 1 || j.Status.Attempt != 1 {
		t.Errorf("preemptions %d attempt %d, want one preemption and a second attempt", j.Status.Preemptions, j.Status.Attempt)
	}
	h.rt.exit("default", "urgent-worker-0-0", 0, "")
	h.waitFor("elastic grown back to 4 replicas", func() bool {
		j := h.job("elastic")
		return j.Status.Phase == v1alpha1.JobRunning && j.Status.Attempt == 2 && len(j.Status.Admission.Placements) == 4
	})
	if j := h.job("elastic"); j.Status.Preemptions != 1 {
		t.Errorf("preemptions %d after growing, want still 1", j.Status.Preemptions)
	}
}
