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

// TestOverlayPrefersTheInformersVersionOverALaggingIndex: the informer's
// store holds the admission this process wrote, but its event has not
// reached the active index yet, which still holds the job as pending. The
// cycle must see the job admitted, not plan it (or another job into its
// resources) again.
func TestOverlayPrefersTheInformersVersionOverALaggingIndex(t *testing.T) {
	pending := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a", ResourceVersion: "1"},
		Status: v1alpha1.JobStatus{Phase: v1alpha1.JobPending}}
	admitted := pending.DeepCopy()
	admitted.ResourceVersion = "3"
	admitted.Status.Phase = v1alpha1.JobAdmitted
	admitted.Status.Admission = &v1alpha1.Admission{Queue: "q", Flavor: "f"}
	informer := map[string]*v1alpha1.Job{"ns/a": admitted}
	lookup := func(key string) (*v1alpha1.Job, bool) { j, ok := informer[key]; return j, ok }

	var a assumeCache
	a.assume(admitted)
	for cycle := range 2 { // the index lags for two cycles
		active := map[string]*v1alpha1.Job{"ns/a": pending}
		if added := a.overlay(active, lookup); len(added) != 0 {
			t.Errorf("cycle %d: added %v, want nothing (the index holds the job)", cycle, added)
		}
		if got := active["ns/a"]; got.ResourceVersion != "3" || got.Status.Admission == nil {
			t.Fatalf("cycle %d sees version %s (admission %v), want the admitted version 3",
				cycle, got.ResourceVersion, got.Status.Admission)
		}
	}

	// Once the index has caught up as well, its version is used and the
	// assumption dropped.
	finished := admitted.DeepCopy()
	finished.ResourceVersion = "4"
	active := map[string]*v1alpha1.Job{"ns/a": finished}
	informer["ns/a"] = finished
	a.overlay(active, lookup)
	if got := active["ns/a"]; got != finished {
		t.Fatalf("cycle sees version %s, want the index's version 4", got.ResourceVersion)
	}
	if len(a.objects) != 0 {
		t.Errorf("an assumption both the informer and the index caught up with is kept: %v", a.objects)
	}
}
