package scheduler

import (
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// This file derives a job's least-attained-service level (a queue's
// spec.leastAttainedService) from the snapshot alone: what earlier
// admissions received is in the job's status, and the current admission
// has held its GPUs since status.admission.time, so `now` is all the core
// needs. A queue's jobs are ordered by (priority high first, level low
// first, arrival), and within-queue preemption compares the same pair.

// AttainedGPUSeconds is the service j has received by now: the GPU-seconds
// of its earlier admissions (status.attainedGPUSeconds) plus, while its
// admission holds resources, its GPUs times the time since
// status.admission.time (nothing when the time is unknown).
func AttainedGPUSeconds(j *v1alpha1.Job, now time.Time) float64 {
	s := float64(j.Status.AttainedGPUSeconds)
	if HoldsResources(j) {
		s += HeldGPUSeconds(j, now)
	}
	return s
}

// HeldGPUSeconds is what j's current admission has received by now: its
// GPUs times the time since status.admission.time; 0 without an admission
// or its time. The job controller adds it to status.attainedGPUSeconds
// when it releases the admission.
func HeldGPUSeconds(j *v1alpha1.Job, now time.Time) float64 {
	adm := j.Status.Admission
	if adm == nil || adm.Time == nil || !now.After(adm.Time.Time) {
		return 0
	}
	gpus := float64(AdmittedRequest(j).GPUMilli) / 1000
	return gpus * now.Sub(adm.Time.Time).Seconds()
}

// AttainedLevel is the level of a job that attained gpuSeconds under a
// queue's leastAttainedService: how many thresholds it has reached. It is
// 0 for a queue without one.
func AttainedLevel(las *v1alpha1.LeastAttainedService, gpuSeconds float64) int32 {
	if las == nil {
		return 0
	}
	var k int32
	for _, t := range las.ThresholdsGPUSeconds {
		if gpuSeconds < float64(t) {
			break
		}
		k++
	}
	return k
}

// NextLevelChange is when j, admitted and holding resources, reaches its
// queue's next threshold (the moment its level drops and lower-level jobs
// of the queue may preempt it); false when it never will (no thresholds
// left, no GPUs, not holding resources, or no admission time). A caller
// that runs the core only on changes (the simulator) runs it then.
func NextLevelChange(las *v1alpha1.LeastAttainedService, j *v1alpha1.Job, now time.Time) (time.Time, bool) {
	if las == nil || !HoldsResources(j) || j.Status.Admission.Time == nil {
		return time.Time{}, false
	}
	gpus := float64(AdmittedRequest(j).GPUMilli) / 1000
	if gpus <= 0 {
		return time.Time{}, false
	}
	have := AttainedGPUSeconds(j, now)
	k := AttainedLevel(las, have)
	if int(k) >= len(las.ThresholdsGPUSeconds) {
		return time.Time{}, false
	}
	left := float64(las.ThresholdsGPUSeconds[k]) - have
	return now.Add(time.Duration(left / gpus * float64(time.Second))), true
}

// outranks reports whether a job of priority pa at level la goes before
// one of priority pb at level lb (and so may preempt it within a queue).
func outranks(pa, la, pb, lb int32) bool {
	if pa != pb {
		return pa > pb
	}
	return la < lb
}
