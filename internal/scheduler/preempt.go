package scheduler

import (
	"sort"
)

// preempt looks for admitted jobs whose eviction would let j fit, per the
// queue's policy: lower-priority jobs of the same queue (withinQueue
// LowerPriority) and jobs of cohort members that borrow in the flavor
// (reclaimWithinCohort), the latter only while j's queue stays within its
// nominal quota, since reclaiming is taking back what was lent. With
// leastAttainedService a job of equal priority but a lower level outranks
// too, within the queue and, for reclaimWithinCohort LowerPriority, across
// the cohort: levels compare as numbers (a queue without the option has
// every job at level 0), so a cohort's queues should share thresholds.
// With scope Cohort, j may also preempt, while its queue would borrow, the
// jobs it outranks in other scope-Cohort queues that borrow in the flavor:
// the cohort's borrowed capacity goes by priority and attained service.
// Victims are the fewest jobs, then the lowest priority and highest
// level, then the most recently started, so the least work is lost.
//
// Jobs already being evicted count as freed: if j would fit once they
// stop, it waits for them instead of preempting more, and while it waits
// for its own victims its request is held in the queue's quota so that no
// other job takes the room it counts on. j itself is never
// admitted in the same cycle, because victims hold their resources until
// their replicas stop. It returns j's waiting reason and whether
// preemption (new or in flight) is what j waits for.
func (st *state) preempt(q *queueState, j *jobInfo) (string, bool) {
	inQueue, reclaim, reclaimAny := q.inQueue, q.reclaim, q.reclaimAny
	if !inQueue && !reclaim {
		return "", false
	}
	prio, level := j.prio, j.level
	req := j.minReq()
	var sizes []int32 // the minimum size, made when a placement is tried
	// j's id is read only when an eviction in flight may be j's or j
	// chooses victims: reading it touches the job object, which for most
	// of a cycle's jobs nothing else does.
	id := ""
	for _, qf := range q.flavors {
		fi := qf.fi
		if fi == nil {
			continue
		}
		var cands []*jobInfo
		if inQueue {
			for _, v := range q.admitted {
				if v.flavor == qf.name && !v.evicting && outranks(prio, level, v.prio, v.level) {
					cands = append(cands, v)
				}
			}
		}
		// Reclaim takes lent quota back, so the preemptor's queue must stay
		// within its nominal quota; with leastAttainedService scope Cohort
		// a borrower may also take borrowed capacity from a job it
		// outranks in another such queue (the cohort's borrowed capacity
		// goes by attained service).
		within := qf.used.Add(req).le(qf.nominal)
		if reclaim && (within || q.lasCohort) {
			for _, o := range q.cohort.members {
				of := o.flavor(qf.name)
				if o == q || of == nil || of.borrowed().IsZero() || (!within && !o.lasCohort) {
					continue
				}
				for _, v := range o.admitted {
					if v.flavor == qf.name && !v.evicting && ((within && reclaimAny) || outranks(prio, level, v.prio, v.level)) {
						cands = append(cands, v)
					}
				}
			}
		}
		var freeing []*jobInfo
		mine := 0
		for _, v := range st.evicting {
			if v.flavor == qf.name {
				freeing = append(freeing, v)
				if id == "" {
					id = j.preemptorID()
				}
				if v.by == id {
					mine++
				}
			}
		}
		if len(freeing) == 0 && len(cands) == 0 {
			continue // nothing is freed and nothing could be
		}
		if sizes == nil {
			sizes = make([]int32, len(j.groups()))
			for g := range j.groups() {
				sizes[g] = j.groups()[g].min
			}
		}
		fits := func() bool {
			// Quota reserved for a job ranked before j is no room for j:
			// an eviction that only frees what the reservation holds would
			// free nothing j may take. (A victim expected to end before the
			// reservation is counted in its freed quota already, so evicting
			// it looks better here than it is: a rare, harmless misjudgment.)
			if ok, _ := qf.fits(req); !ok || qf.takesReserved(j, req, st.expectedEnd(j)) {
				return false
			}
			pl := newPlacer(fi, j, sizes, st.expectedEnd(j))
			ok, _ := pl.place()
			pl.rollback(0)
			return ok
		}
		st.releaseAll(freeing, -1)
		if len(freeing) > 0 && fits() {
			// What is being freed already suffices: preempting more would
			// evict jobs for nothing. If it is being freed for someone else,
			// j keeps its ordinary reason and may preempt once that is done.
			st.releaseAll(freeing, 1)
			if mine == 0 {
				return "", false
			}
			st.hold(qf, req) // see below
			st.holdRoom(fi, j, sizes, freeing)
			return "waiting for " + itoa(mine) + " preempted job(s) in flavor " + qf.name + " to stop", true
		}
		victims := st.chooseVictims(cands, fits)
		st.releaseAll(freeing, 1)
		if victims == nil {
			continue
		}
		// j's request is held in the quota for the rest of the cycle, on
		// top of what its victims hold until they stop: the free room j
		// counted on must not go to the queue's smaller jobs meanwhile, or
		// once the victims stop j no longer fits and preempts again.
		st.hold(qf, req)
		// So is the node room it will get that is free already: quota
		// alone does not keep a later job of the cycle off those nodes
		// when the queue's quota is larger than they are, and a victim
		// that stops first would be admitted there again, to be preempted
		// again once the last one stops.
		st.holdRoom(fi, j, sizes, append(freeing[:len(freeing):len(freeing)], victims...))
		if id == "" {
			id = j.preemptorID()
		}
		names, others := "", 0
		for _, v := range victims {
			st.evicted(v, id)
			p := Preemption{Namespace: v.job.Namespace, Name: v.job.Name, By: j.key, ByUID: j.job.UID, ByQueue: q.name, Flavor: qf.name, Reason: PreemptInQueue}
			if v.queue == q {
				if prio != v.prio {
					p.Message = "preempted by " + j.key + " (priority " + itoa(int(prio)) + ") of queue " + q.name + ", which outranks priority " + itoa(int(v.prio))
				} else {
					p.Message = "preempted by " + j.key + " of queue " + q.name + ", which has attained less service (level " + itoa(int(level)) + " against " + itoa(int(v.level)) + " in spec.leastAttainedService)"
				}
			} else if within {
				p.Reason = PreemptReclaim
				p.Message = "preempted by " + j.key + ": queue " + q.name + " reclaims the " + qf.name + " quota it lent to queue " + v.queue.name
			} else {
				p.Reason = PreemptReclaim
				rank := "has attained less service (level " + itoa(int(level)) + " against " + itoa(int(v.level)) + ")"
				if prio != v.prio {
					rank = "outranks priority " + itoa(int(v.prio)) + " with " + itoa(int(prio))
				}
				p.Message = "preempted by " + j.key + " of queue " + q.name + ", which " + rank + ": queue " + v.queue.name + " ran it on " + qf.name +
					" capacity borrowed from cohort " + q.cohort.name + ", which goes by priority and attained service (leastAttainedService scope Cohort)"
			}
			st.plan.Preemptions = append(st.plan.Preemptions, p)
			// The reason is j's owner's to read: other namespaces' jobs
			// are counted, not named.
			if v.job.Namespace != j.job.Namespace {
				others++
				continue
			}
			if names != "" {
				names += ", "
			}
			names += v.key
		}
		if others > 0 {
			if names != "" {
				names += " and "
			}
			names += itoa(others) + " of other namespaces"
		}
		return "preempting " + itoa(len(victims)) + " job(s) in flavor " + qf.name + " (" + names + "); admitted once they stop", true
	}
	return "", false
}

// chooseVictims returns the fewest candidates whose release makes fits
// true, preferring lower priority and later starts; nil when even all of
// them are not enough. State is unchanged on return.
func (st *state) chooseVictims(cands []*jobInfo, fits func() bool) []*jobInfo {
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(a, b int) bool {
		va, vb := cands[a], cands[b]
		if va.prio != vb.prio || va.level != vb.level {
			return outranks(vb.prio, vb.level, va.prio, va.level)
		}
		if !va.start.Equal(vb.start) {
			return va.start.After(vb.start)
		}
		return va.key < vb.key
	})
	// One victim is the fewest possible: take the first that suffices.
	for _, c := range cands {
		st.release(c, -1)
		ok := fits()
		st.release(c, 1)
		if ok {
			return []*jobInfo{c}
		}
	}
	var taken []*jobInfo
	ok := false
	for _, c := range cands {
		st.release(c, -1)
		taken = append(taken, c)
		if ok = fits(); ok {
			break
		}
	}
	if !ok {
		st.releaseAll(taken, 1)
		return nil
	}
	// Give back every victim that turns out unneeded, the most valuable
	// (highest priority, longest running) first.
	var victims []*jobInfo
	for i := len(taken) - 1; i >= 0; i-- {
		st.release(taken[i], 1)
		if !fits() {
			st.release(taken[i], -1)
			victims = append(victims, taken[i])
		}
	}
	st.releaseAll(victims, 1)
	sort.SliceStable(victims, func(a, b int) bool { return victims[a].key < victims[b].key })
	return victims
}

func (st *state) releaseAll(jobs []*jobInfo, sign int64) {
	if sign < 0 {
		for _, v := range jobs {
			st.release(v, -1)
		}
		return
	}
	for i := len(jobs) - 1; i >= 0; i-- {
		st.release(jobs[i], 1)
	}
}

// holdRoom charges to the nodes, for the rest of the cycle, the part of
// j's placement that is free already, the placement being the one j gets
// once the jobs in freeing have stopped: what those jobs hold stays
// theirs until they stop and is j's afterwards, and no job placed later in
// the cycle takes the rest. Schedule gives the room back at the cycle's
// end, as it does held quota.
func (st *state) holdRoom(fi *flavorIndex, j *jobInfo, sizes []int32, freeing []*jobInfo) {
	st.releaseAll(freeing, -1)
	pl := newPlacer(fi, j, sizes, st.expectedEnd(j))
	ok, _ := pl.place()
	var room []placed
	if ok {
		room = append(room, pl.journal...)
	}
	pl.rollback(0)
	st.releaseAll(freeing, 1)
	for _, e := range room {
		req, p := e.n.freePart(e.req, e.p)
		if req.CPUMilli == 0 && req.Memory == 0 && len(p.GPUs) == 0 {
			continue
		}
		e.n.apply(req, p, 1)
		st.heldRoom = append(st.heldRoom, placed{n: e.n, req: req, p: p})
	}
}

// hold charges req to qf for the rest of the cycle without admitting
// anything (a preemptor's room); the plan's usage and the waiting reasons
// leave it out.
func (st *state) hold(qf *queueFlavor, req Amounts) {
	qf.add(req)
	if qf.held.IsZero() {
		st.held = append(st.held, qf)
	}
	qf.held = qf.held.Add(req)
}
