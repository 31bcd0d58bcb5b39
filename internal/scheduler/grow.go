package scheduler

import (
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// Growth is an admitted elastic job that would now be admitted with more
// replicas than it runs with.
type Growth struct {
	Namespace, Name string
	// From and To count the job's placed replicas now and at the larger size.
	From, To int
}

// Grow finds which of the given admitted jobs, running below their full
// size, would be admitted larger now: each is tried alone, as the only
// pending job, against the snapshot without its own admission, so what it
// may take is exactly what is free plus what it holds, under the same
// quota, cohort and placement rules as any admission. A job is grown only
// when that needs no preemption. Callers keep pending jobs first (grow
// only when none waits) and restart a grown job, which the next cycle
// admits at the larger size.
func Grow(snap Snapshot, jobs []*v1alpha1.Job, now time.Time) []Growth {
	var out []Growth
	for _, j := range jobs {
		if j.Status.Admission == nil {
			continue
		}
		have := len(j.Status.Admission.Placements)
		full := 0
		for _, g := range j.Spec.ReplicaGroups {
			full += int(g.Replicas)
		}
		if have >= full {
			continue
		}
		others := snap
		others.Admitted = make([]*v1alpha1.Job, 0, len(snap.Admitted))
		for _, a := range snap.Admitted {
			if a.Namespace != j.Namespace || a.Name != j.Name {
				others.Admitted = append(others.Admitted, a)
			}
		}
		alone := j.DeepCopy()
		alone.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobPending}
		plan := Schedule(others, []*v1alpha1.Job{alone}, now)
		if len(plan.Preemptions) > 0 || len(plan.Admissions) != 1 {
			continue
		}
		if to := len(plan.Admissions[0].Admission.Placements); to > have {
			out = append(out, Growth{Namespace: j.Namespace, Name: j.Name, From: have, To: to})
		}
	}
	return out
}
