package sim

import (
	"slices"

	"skiff.dev/skiff/api/v1alpha1"
)

// maxBlockedWithEstimates is how many jobs too large for the free GPUs
// are still passed to the core when backfill reservations are in play
// (the core reserves for at most 16 blocked jobs a cycle).
const maxBlockedWithEstimates = 32

// candidates are the pending jobs the core could act on in this cycle. A
// job asking for more GPUs than are free in the whole cluster cannot be
// admitted; where such a job also cannot preempt (no victim could make
// room), reserves nothing (no estimates in play) and blocks nobody (not a
// StrictFIFO queue), considering it changes nothing but its waiting
// reason, so it is left out (for one queue; see the PerTenant case).
// This keeps a cycle's cost from growing with
// a long queue of jobs that cannot start, while the plans stay the ones
// the core would make with every pending job.
func (e *engine) candidates() []*v1alpha1.Job {
	free := e.upGPU - e.usedGPU
	preempts := e.p.WithinQueue != "" || e.p.Reclaim != ""
	out := e.scratch[:0]
	switch {
	case e.p.PerTenant:
		// Queues take turns by a share that counts their head job, so
		// every job can change the order: all go to the core.
		return e.pending
	case e.estimates:
		blocked := 0
		for _, sj := range e.sortedPending() {
			if sj.gpuMilli > free {
				if blocked >= maxBlockedWithEstimates {
					continue
				}
				blocked++
			}
			out = append(out, sj.job)
		}
	case !e.p.PerTenant && e.p.Strategy == v1alpha1.StrictFIFO && !preempts:
		// One StrictFIFO queue admits a prefix of its order: stop after
		// the first job that cannot fit what the earlier ones leave (and
		// its equals in the order, whose tie-break is the core's).
		left := free
		var stop *simJob
		for _, sj := range e.sortedPending() {
			if stop != nil && (sj.job.Spec.Priority != stop.job.Spec.Priority || sj.tj.Submit != stop.tj.Submit) {
				break
			}
			out = append(out, sj.job)
			if stop == nil {
				if sj.gpuMilli > left {
					stop = sj
				}
				left -= sj.gpuMilli
			}
		}
	case preempts:
		e.victimGPUs()
		for _, sj := range e.pendJ {
			if sj.gpuMilli <= free+e.preemptable(sj) {
				out = append(out, sj.job)
			}
		}
	default:
		for _, sj := range e.pendJ {
			if sj.gpuMilli <= free {
				out = append(out, sj.job)
			}
		}
	}
	e.scratch = out
	return out
}

// sortedPending orders pending jobs as one queue does: priority, then
// arrival, then trace order.
func (e *engine) sortedPending() []*simJob {
	s := append(e.sorted[:0], e.pendJ...)
	slices.SortFunc(s, func(a, b *simJob) int {
		if a.job.Spec.Priority != b.job.Spec.Priority {
			return int(b.job.Spec.Priority) - int(a.job.Spec.Priority)
		}
		if a.tj.Submit != b.tj.Submit {
			if a.tj.Submit < b.tj.Submit {
				return -1
			}
			return 1
		}
		return a.idx - b.idx
	})
	e.sorted = s
	return s
}

// victimGPUs tallies running GPUs by priority and by queue, what
// preemptable reads.
func (e *engine) victimGPUs() {
	clear(e.byPrio)
	clear(e.byQueue)
	for _, sj := range e.runJ {
		e.byPrio[sj.job.Spec.Priority] += sj.gpuMilli
		e.byQueue[sj.job.Spec.Queue] += sj.gpuMilli
	}
}

// preemptable bounds the GPUs a pending job could free by preemption:
// within its queue (one queue holds every job) those of lower priority;
// by reclaim, what other queues hold, while its queue stays within its
// nominal quota.
func (e *engine) preemptable(sj *simJob) int64 {
	var n int64
	if e.p.WithinQueue != "" {
		for prio, g := range e.byPrio {
			if prio < sj.job.Spec.Priority {
				n += g
			}
		}
	}
	if e.p.Reclaim != "" {
		mine := e.byQueue[sj.job.Spec.Queue]
		if mine+sj.gpuMilli <= e.nominalGPU {
			n += e.usedGPU - mine
		}
	}
	return n
}
