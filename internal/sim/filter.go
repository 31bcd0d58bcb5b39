package sim

import (
	"slices"
	"sort"

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
// reason, so it is left out. With one queue the plan is exactly the one
// the core makes with every pending job. With a queue per tenant the core
// counts a queue's head job in the share that orders the queues' turns,
// so leaving out a head that cannot start can let its queue take its turn
// earlier among equals; the admissions are still the core's. This keeps a cycle's cost from growing with
// a long queue of jobs that cannot start, while the plans stay the ones
// the core would make with every pending job.
func (e *engine) candidates() []*v1alpha1.Job {
	if e.allPending {
		return e.pending
	}
	free := e.upGPU - e.usedGPU
	preempts := e.p.WithinQueue != "" || e.p.Reclaim != ""
	out := e.scratch[:0]
	switch {
	case e.p.PerTenant && e.estimates:
		// Reservations across queues: every job goes to the core.
		return e.pending
	case e.estimates:
		blocked := 0
		e.order.each(func(sj *simJob) bool {
			if sj.gpuMilli > free {
				if blocked >= maxBlockedWithEstimates {
					return true
				}
				blocked++
			}
			out = append(out, sj.job)
			return true
		})
	case !e.p.PerTenant && e.p.Strategy == v1alpha1.StrictFIFO && !preempts:
		// One StrictFIFO queue admits a prefix of its order: stop after
		// the first job that cannot fit what the earlier ones leave (and
		// its equals in the order, whose tie-break is the core's).
		left := free
		var stop *simJob
		e.order.each(func(sj *simJob) bool {
			if stop != nil && (sj.job.Spec.Priority != stop.job.Spec.Priority || sj.tj.Submit != stop.tj.Submit) {
				return false
			}
			out = append(out, sj.job)
			if stop == nil {
				if sj.gpuMilli > left {
					stop = sj
				}
				left -= sj.gpuMilli
			}
			return true
		})
	case preempts:
		clear(e.below) // preemptable's sums, per cycle
		clear(e.belowOther)
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

// ordered keeps pending jobs in one queue's order (priority, then
// arrival, then trace order) as they come and go, so that a cycle walks a
// prefix of the queue instead of sorting it.
type ordered struct {
	prios   []int32 // descending
	buckets map[int32][]*simJob
}

func before(a, b *simJob) bool {
	if a.tj.Submit != b.tj.Submit {
		return a.tj.Submit < b.tj.Submit
	}
	return a.idx < b.idx
}

func (o *ordered) add(sj *simJob) {
	p := sj.job.Spec.Priority
	if o.buckets == nil {
		o.buckets = map[int32][]*simJob{}
	}
	b, ok := o.buckets[p]
	if !ok {
		i, _ := slices.BinarySearchFunc(o.prios, p, func(x, t int32) int { return int(t) - int(x) })
		o.prios = slices.Insert(o.prios, i, p)
	}
	i := sort.Search(len(b), func(k int) bool { return before(sj, b[k]) })
	o.buckets[p] = slices.Insert(b, i, sj)
	sj.prio = p
}

func (o *ordered) remove(sj *simJob) {
	p := sj.prio
	b := o.buckets[p]
	i := sort.Search(len(b), func(k int) bool { return !before(b[k], sj) })
	if i < len(b) && b[i] == sj {
		b = slices.Delete(b, i, i+1)
	}
	if len(b) == 0 {
		delete(o.buckets, p)
		if k := slices.Index(o.prios, p); k >= 0 {
			o.prios = slices.Delete(o.prios, k, k+1)
		}
		return
	}
	o.buckets[p] = b
}

// each calls fn in queue order until it returns false.
func (o *ordered) each(fn func(*simJob) bool) {
	for _, p := range o.prios {
		for _, sj := range o.buckets[p] {
			if !fn(sj) {
				return
			}
		}
	}
}

// rank is a queue's class of jobs: priority and LAS level.
type rank struct {
	queue       string
	prio, level int32
}

// tally counts a running job's GPUs in byRank and byQueue (sign 1) or
// takes them out (-1), as it starts, stops or changes level, so that
// preemptable reads them without a pass over the running jobs per cycle.
func (e *engine) tally(sj *simJob, sign int64) {
	j := sj.job
	r := rank{j.Spec.Queue, j.Spec.Priority, sj.level}
	if e.byRank[r] += sign * sj.gpuMilli; e.byRank[r] == 0 {
		delete(e.byRank, r)
	}
	if e.byQueue[j.Spec.Queue] += sign * sj.gpuMilli; e.byQueue[j.Spec.Queue] == 0 {
		delete(e.byQueue, j.Spec.Queue)
	}
}

// preemptable bounds the GPUs a pending job could free by preemption:
// within its queue those of jobs it outranks (lower priority, or equal
// priority and a higher LAS level); by reclaim, what other queues hold,
// while its queue stays within its nominal quota, and otherwise, with
// leastAttainedService scope Cohort, what other queues' jobs it outranks
// hold.
func (e *engine) preemptable(sj *simJob) int64 {
	var n int64
	me := rank{sj.job.Spec.Queue, sj.job.Spec.Priority, sj.level}
	cohort := e.p.Reclaim != "" && e.p.LAS != nil && e.p.LAS.Scope == v1alpha1.AttainedServiceScopeCohort
	if e.p.WithinQueue != "" || cohort {
		below, ok := e.below[me]
		other, ok2 := e.belowOther[me]
		if !ok || !ok2 {
			below, other = 0, 0
			for r, g := range e.byRank {
				if r.prio < me.prio || (r.prio == me.prio && r.level > me.level) {
					if r.queue == me.queue {
						below += g
					} else {
						other += g
					}
				}
			}
			e.below[me], e.belowOther[me] = below, other
		}
		if e.p.WithinQueue != "" {
			n += below
		}
		if cohort {
			n += other
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
