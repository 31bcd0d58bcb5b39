package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestWaitingOnly(t *testing.T) {
	pendingJob := func(reason string) *v1alpha1.Job {
		j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns", Generation: 1, Finalizers: []string{ReplicasFinalizer}},
			Spec: v1alpha1.JobSpec{Queue: "q", ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "main", Replicas: 1}}}}
		j.Status.Phase = v1alpha1.JobPending
		j.Status.Conditions = []metav1.Condition{{Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionFalse, Reason: "Pending", Message: reason}}
		return j
	}
	now := metav1.Now()
	cases := []struct {
		name   string
		change func(j *v1alpha1.Job)
		want   bool
	}{
		{"only the reason changed", func(j *v1alpha1.Job) {}, true},
		{"admitted", func(j *v1alpha1.Job) { j.Status.Admission = &v1alpha1.Admission{} }, false},
		{"preempted", func(j *v1alpha1.Job) { j.Status.Preemption = &v1alpha1.PreemptionNotice{} }, false},
		{"phase changed", func(j *v1alpha1.Job) { j.Status.Phase = v1alpha1.JobSuspended }, false},
		{"deleted", func(j *v1alpha1.Job) { j.DeletionTimestamp = &now }, false},
		{"finalizer gone", func(j *v1alpha1.Job) { j.Finalizers = nil }, false},
		{"stop requested", func(j *v1alpha1.Job) {
			j.Annotations = map[string]string{v1alpha1.AnnotationStopReason: "x"}
		}, false},
		{"spec changed", func(j *v1alpha1.Job) { j.Spec.Priority = 5; j.Generation = 2 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := pendingJob("position 3 in queue"), pendingJob("position 2 in queue")
			tc.change(cur)
			if got := waitingOnly(old, cur); got != tc.want {
				t.Errorf("waitingOnly = %v, want %v", got, tc.want)
			}
		})
	}
	// A job that was not pending before (e.g. just created without a
	// phase) is always reconciled.
	old := pendingJob("")
	old.Status.Phase = ""
	if waitingOnly(old, pendingJob("waiting")) {
		t.Error("waitingOnly = true for a job that had no phase, want false")
	}
}

// A reason whose numbers alone change is rewritten at most once per
// ReasonRefresh, counted from its first write too; a new shape is written
// at once, and so is a job's move to the head of its queue; and jobs that
// stop waiting are forgotten.
func TestReasonRewritesAreSpacedFromTheFirstWrite(t *testing.T) {
	l := &SchedulingLoop{ReasonRefresh: 30 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}}
	write := func(reason string) { // what the store would now hold
		job.Status.Phase = v1alpha1.JobPending
		job.Status.Conditions = []metav1.Condition{{Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionFalse, Reason: "Pending", Message: reason}}
	}
	steps := []struct {
		at     time.Duration
		reason string
		want   bool
	}{
		{0, "position 9 in queue q", true},                 // first reason
		{time.Second, "position 8 in queue q", false},      // numbers only, just after the first write
		{29 * time.Second, "position 5 in queue q", false}, // still within ReasonRefresh
		{30 * time.Second, "position 4 in queue q", true},  // refreshed
		{31 * time.Second, "position 4 in queue q", false}, // unchanged
		{32 * time.Second, "waiting for 8 gpu", true},      // another shape: at once
		{33 * time.Second, "waiting for 6 gpu", false},     // numbers only again
		{62 * time.Second, "waiting for 2 gpu", true},      // ReasonRefresh after the shape change
		{63 * time.Second, "position 2 in queue q", true},  // another shape
		{64 * time.Second, "position 1 in queue q", true},  // now first in its queue: at once
		{65 * time.Second, "position 1 in queue q2", true}, // another queue: another shape
	}
	for _, s := range steps {
		got := l.shouldWriteReason("ns/j", job, s.reason, t0.Add(s.at), true)
		if got != s.want {
			t.Fatalf("at %v, reason %q: write = %v, want %v", s.at, s.reason, got, s.want)
		}
		if got {
			write(s.reason)
		}
	}
	// In a long queue the head changes with every admission: its move
	// waits for the refresh like any other number.
	write("position 2 in queue q")
	if l.shouldWriteReason("ns/j", job, "position 1 in queue q", t0.Add(66*time.Second), false) {
		t.Error("a move to the head of a long queue is written at once, want it to wait for ReasonRefresh")
	}
	l.forgetReasons(map[string]string{"ns/other": "waiting"})
	if len(l.reasonWritten) != 0 {
		t.Errorf("write times of jobs that no longer wait are kept: %v", l.reasonWritten)
	}
}
