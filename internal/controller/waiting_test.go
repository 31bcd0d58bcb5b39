package controller

import (
	"testing"

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
