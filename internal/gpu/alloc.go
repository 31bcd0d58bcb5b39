package gpu

import (
	"fmt"

	"skiff.dev/skiff/api/v1alpha1"
)

// AllocationOf reads which of node's GPUs the jobs hold: the placements of
// admitted and running jobs, each GPU index owned by the replica
// <job>-<group>-<index>-<attempt> placed on it (the one whose
// CUDA_VISIBLE_DEVICES names it). A GPU shared by fractional replicas is
// attributed to the first of them in the jobs' order.
func AllocationOf(node string, total int, jobs []*v1alpha1.Job) Allocation {
	a := Allocation{Total: total, Owners: map[int]Owner{}}
	for _, j := range jobs {
		if j.Status.Admission == nil || (j.Status.Phase != v1alpha1.JobAdmitted && j.Status.Phase != v1alpha1.JobRunning) {
			continue
		}
		for _, p := range j.Status.Admission.Placements {
			if p.Node != node {
				continue
			}
			for _, g := range p.GPUs {
				if _, taken := a.Owners[int(g)]; taken {
					continue
				}
				a.Owners[int(g)] = Owner{Namespace: j.Namespace, Job: j.Name,
					Replica: fmt.Sprintf("%s-%s-%d-%d", j.Name, p.Group, p.Index, j.Status.Attempt)}
			}
		}
	}
	return a
}
