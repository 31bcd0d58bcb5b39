package controller_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
)

// An owner's stop request ends a running job as Failed with the owner's
// reason; its replica is stopped, not restarted.
func TestStopRequestEndsTheJobWithTheOwnersReason(t *testing.T) {
	h := newHarness(t)
	h.create("trial", 1, 3, "1")
	h.waitPhase("trial", v1alpha1.JobRunning)
	j := h.job("trial")
	j.Annotations = map[string]string{v1alpha1.AnnotationStopReason: "EarlyStopped", v1alpha1.AnnotationStopMessage: "worse than the rung"}
	if err := h.store.Update(h.ctx, j); err != nil {
		t.Fatal(err)
	}
	j = h.waitPhase("trial", v1alpha1.JobFailed)
	c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.JobConditionFailed)
	if c == nil || c.Reason != "EarlyStopped" || c.Message != "worse than the rung" {
		t.Fatalf("failed condition %+v, want reason EarlyStopped with the owner's message", c)
	}
	name := controller.ReplicaName("trial", "worker", 0, 0)
	if n := h.rt.startCount("default", name); n != 1 {
		t.Fatalf("replica started %d times, want 1", n)
	}
	if j.Status.Restarts != 0 || j.Status.Replicas[0].Reason != "Stopped" {
		t.Fatalf("restarts %d, replica %+v: want the replica stopped and no restart", j.Status.Restarts, j.Status.Replicas[0])
	}
}

// A job asked to stop before it was admitted ends without starting.
func TestStopRequestBeforeAdmission(t *testing.T) {
	h := newHarness(t)
	h.create("big", 1, 3, "16") // more GPUs than the node has: never admitted
	h.waitPhase("big", v1alpha1.JobPending)
	j := h.job("big")
	j.Annotations = map[string]string{v1alpha1.AnnotationStopReason: "ExperimentEnded"}
	if err := h.store.Update(h.ctx, j); err != nil {
		t.Fatal(err)
	}
	j = h.waitPhase("big", v1alpha1.JobFailed)
	if c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.JobConditionFailed); c == nil || c.Reason != "ExperimentEnded" {
		t.Fatalf("failed condition %+v, want reason ExperimentEnded", c)
	}
	if len(j.Status.Replicas) != 0 {
		t.Fatalf("replicas %+v, want none", j.Status.Replicas)
	}
}
