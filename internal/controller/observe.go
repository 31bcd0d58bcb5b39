package controller

import (
	"context"

	"skiff.dev/skiff/api/v1alpha1"
)

// CycleObserver watches scheduling cycles from the loop that runs them:
// Start is called before a cycle with the loop's context and returns the
// context the cycle runs in (e.g. carrying a trace span) and a function
// called with the cycle's result. The scheduling core itself is never
// instrumented.
type CycleObserver interface {
	StartCycle(ctx context.Context) (context.Context, func(err error))
}

// PlanObserver is an optional extension of a CycleObserver: it is told,
// for each cycle, how many pending jobs the plan admits and how many it
// leaves waiting (the cycle's admission attempts).
type PlanObserver interface {
	ObservePlan(admitted, waiting int)
}

func (l *SchedulingLoop) observePlan(admitted, waiting int) {
	if po, ok := l.Observer.(PlanObserver); ok {
		po.ObservePlan(admitted, waiting)
	}
}

func (l *SchedulingLoop) observeCycle(ctx context.Context) (context.Context, func(error)) {
	if l.Observer == nil {
		return ctx, func(error) {}
	}
	return l.Observer.StartCycle(ctx)
}

// CachedJobs returns the jobs in the loop's informer cache (nil until Run
// has synced it), for readers such as metrics collectors that would
// otherwise keep a second copy of every job. The objects are shared:
// read them, never change them.
func (l *SchedulingLoop) CachedJobs() []*v1alpha1.Job {
	if !l.cachesReady.Load() {
		return nil
	}
	return cached[v1alpha1.Job](l, "Job")
}

// CachedQueues is CachedJobs for queues.
func (l *SchedulingLoop) CachedQueues() []*v1alpha1.Queue {
	if !l.cachesReady.Load() {
		return nil
	}
	return cached[v1alpha1.Queue](l, "Queue")
}
