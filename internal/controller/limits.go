package controller

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// holdForNamespaceLimits keeps back pending jobs whose admission would take
// their namespace past its Namespace limits (running jobs, GPUs in use), on
// top of queue quota. Jobs are considered in the order the scheduler would
// take them, and every job let through counts against the budget as if it
// were admitted, so one cycle can never overshoot a limit. The cost: a job
// let through that the scheduler cannot admit (no quota or node room) keeps
// its share of the budget for as long as it waits, holding back the
// namespace's later jobs even when they would fit. Charging only actual
// admissions needs the limits inside the core. It returns the jobs the scheduler may consider and
// a waiting reason for each job held back.
func holdForNamespaceLimits(pending, admitted []*v1alpha1.Job, namespaces []*v1alpha1.Namespace) ([]*v1alpha1.Job, map[string]string) {
	limits := map[string]v1alpha1.NamespaceLimits{}
	for _, ns := range namespaces {
		if ns.Spec.Limits.GPUs != nil || ns.Spec.Limits.RunningJobs != nil {
			limits[ns.Name] = ns.Spec.Limits
		}
	}
	if len(limits) == 0 {
		return pending, nil
	}
	type usage struct {
		jobs     int32
		gpuMilli int64
	}
	used := map[string]*usage{}
	get := func(ns string) *usage {
		if used[ns] == nil {
			used[ns] = &usage{}
		}
		return used[ns]
	}
	for _, j := range admitted {
		if _, ok := limits[j.Namespace]; ok && scheduler.HoldsResources(j) {
			u := get(j.Namespace)
			u.jobs++
			u.gpuMilli += scheduler.AdmittedRequest(j).GPUMilli
		}
	}
	ordered := append([]*v1alpha1.Job(nil), pending...)
	sort.SliceStable(ordered, func(a, b int) bool {
		ja, jb := ordered[a], ordered[b]
		if ja.Spec.Priority != jb.Spec.Priority {
			return ja.Spec.Priority > jb.Spec.Priority
		}
		if !ja.CreationTimestamp.Equal(&jb.CreationTimestamp) {
			return ja.CreationTimestamp.Before(&jb.CreationTimestamp)
		}
		return scheduler.Key(ja) < scheduler.Key(jb)
	})
	held := map[string]string{}
	allowed := make([]*v1alpha1.Job, 0, len(pending))
	for _, j := range ordered {
		lim, ok := limits[j.Namespace]
		if !ok {
			allowed = append(allowed, j)
			continue
		}
		u := get(j.Namespace)
		want := scheduler.JobRequest(j).GPUMilli
		switch {
		case lim.RunningJobs != nil && u.jobs >= *lim.RunningJobs:
			held[scheduler.Key(j)] = fmt.Sprintf("namespace %s runs %d jobs, its limit (spec.limits.runningJobs of the Namespace): waiting for one to finish", j.Namespace, u.jobs)
		case lim.GPUs != nil && u.gpuMilli+want > lim.GPUs.MilliValue():
			held[scheduler.Key(j)] = fmt.Sprintf("namespace %s uses %s of its %s GPUs (spec.limits.gpus of the Namespace); this job needs %s: waiting for GPUs to free up",
				j.Namespace, milliGPU(u.gpuMilli), lim.GPUs.String(), milliGPU(want))
		default:
			u.jobs++
			u.gpuMilli += want
			allowed = append(allowed, j)
		}
	}
	return allowed, held
}

func milliGPU(m int64) string { return resource.NewMilliQuantity(m, resource.DecimalSI).String() }
