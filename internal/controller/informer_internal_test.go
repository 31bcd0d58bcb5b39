package controller

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// TestActiveJobsKeepTheOrderJobsBecameActive: the index hands jobs to the
// cycle in the order they became pending, through updates, removals and
// the compaction of the holes removals leave.
func TestActiveJobsKeepTheOrderJobsBecameActive(t *testing.T) {
	var a activeJobs
	job := func(i int, phase v1alpha1.JobPhase) *v1alpha1.Job {
		return &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("j%03d", i)},
			Status: v1alpha1.JobStatus{Phase: phase}}
	}
	var want []string
	for i := range 200 {
		a.set(job(i, v1alpha1.JobPending))
	}
	for i := range 200 {
		switch {
		case i%3 == 0: // finished: leaves the index
			a.set(job(i, v1alpha1.JobSucceeded))
		case i%3 == 1: // deleted
			a.remove(job(i, v1alpha1.JobPending))
		default: // updated: keeps its place
			a.set(job(i, v1alpha1.JobPending))
			want = append(want, fmt.Sprintf("ns/j%03d", i))
		}
	}
	a.set(job(1, v1alpha1.JobPending)) // back: goes last
	want = append(want, "ns/j001")
	byKey, order := a.snapshot()
	if !slices.Equal(order, want) {
		t.Fatalf("order %v,\nwant %v", order, want)
	}
	if len(byKey) != len(want) || len(a.order) > 2*len(want) {
		t.Fatalf("%d jobs by key, %d slots, want %d jobs and holes compacted", len(byKey), len(a.order), len(want))
	}
}
