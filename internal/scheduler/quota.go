package scheduler

import (
	"slices"
	"strconv"

	"skiff.dev/skiff/api/v1alpha1"
)

// The quota model follows Kueue's: a queue always has its nominal quota
// minus what it lends (its guaranteed part); everything a cohort's members
// lend forms the cohort's pool, and a member's usage above its guaranteed
// part is drawn from that pool. So a queue uses its own lendable quota
// through the pool too, and a queue that lent quota out has to reclaim it
// (by preemption) when the pool is exhausted.

// queueState is one queue during a cycle.
type queueState struct {
	q        *v1alpha1.Queue
	name     string
	cohort   *cohortState
	flavors  []*queueFlavor
	weight   float64
	strict   bool
	pending  []jobInfo  // ordered by priority, then arrival
	next     int        // first pending job not yet considered
	admitted []*jobInfo // jobs holding resources, candidates for preemption
	share    float64
	done     bool
	idx      int // position in state.queueList
	// allNamespaces: spec.namespaces admits every namespace.
	allNamespaces bool
	// The last namespace checked against spec.namespaces and the answer:
	// a queue's pending jobs mostly share a namespace.
	lastNS string
	lastOK bool
	// spec.preemption, read once: withinQueue LowerPriority, and
	// reclaimWithinCohort Any or LowerPriority (with a cohort) and Any.
	inQueue, reclaim, reclaimAny bool
	// las is spec.leastAttainedService (nil: every job is at level 0);
	// lasCohort: its scope is Cohort (levels order the cohort's queues,
	// and borrowed capacity is reclaimed by level, see preempt).
	las       *v1alpha1.LeastAttainedService
	lasCohort bool
	// the head job's order, cached by refresh for the queue heap
	headPrio int32
	headLvl  int32
	// the head's priority, level and creation time as the cohort compares
	// them before fair share: zero unless the queue's leastAttainedService
	// has scope Cohort
	cohortPrio, cohortLvl int32
	cohortNsec            int32
	cohortSec             int64
	headNsec              int32
	// headNominated: the head job is nominated (jobInfo.nominated)
	headNominated bool
	headSec       int64
	nextPrio      int32 // unused: the prefetching load in refresh
	// gen counts the admissions that changed this queue's quota state: its
	// cohort's counter, or its own without a cohort (see memo.go).
	gen *uint64
	// memo remembers the latest quota failures (see memo.go).
	memo     [memoSize]failMemo
	memoNext int
	ownGen   uint64
}

// queueFlavor is a queue's quota and usage in one flavor.
type queueFlavor struct {
	name        string
	nominal     Amounts
	borrowLimit Amounts
	guaranteed  Amounts // nominal minus what the queue lends
	used        Amounts
	held        Amounts // part of used held for preemptors this cycle (state.hold)
	res         *quotaReservation
	pool        *pool        // nil without a cohort
	fi          *flavorIndex // the flavor's nodes; nil when it does not exist
}

// pool is a cohort's lendable quota in one flavor and how much of it its
// members use.
type pool struct {
	capacity, used Amounts
}

type cohortState struct {
	name    string
	members []*queueState
	pools   map[string]*pool
	gen     uint64 // admissions in any member (see memo.go)
}

func newQueueState(q *v1alpha1.Queue, cohorts map[string]*cohortState) *queueState {
	qs := &queueState{q: q, name: q.Name, weight: 1, strict: q.Spec.QueueingStrategy != v1alpha1.BestEffortFIFO}
	qs.allNamespaces = len(q.Spec.Namespaces) == 0 || slices.Contains(q.Spec.Namespaces, "*")
	if las := q.Spec.LeastAttainedService; las != nil && len(las.ThresholdsGPUSeconds) > 0 {
		qs.las = las
		qs.lasCohort = las.Scope == v1alpha1.AttainedServiceScopeCohort && q.Spec.Cohort != ""
	}
	if q.Spec.Weight != nil {
		qs.weight = float64(q.Spec.Weight.MilliValue()) / 1000
	}
	if q.Spec.Cohort != "" {
		c := cohorts[q.Spec.Cohort]
		if c == nil {
			c = &cohortState{name: q.Spec.Cohort, pools: map[string]*pool{}}
			cohorts[q.Spec.Cohort] = c
		}
		c.members = append(c.members, qs)
		qs.cohort = c
		qs.gen = &c.gen
	} else {
		qs.gen = &qs.ownGen
	}
	if pol := q.Spec.Preemption; pol != nil {
		qs.inQueue = pol.WithinQueue == v1alpha1.PreemptLowerPriority
		qs.reclaimAny = pol.ReclaimWithinCohort == v1alpha1.PreemptAny
		qs.reclaim = qs.cohort != nil && (qs.reclaimAny || pol.ReclaimWithinCohort == v1alpha1.PreemptLowerPriority)
	}
	for _, fq := range q.Spec.Flavors {
		qf := &queueFlavor{name: fq.Name, nominal: Quota(fq), borrowLimit: borrowingLimit(fq)}
		lend := lendingLimit(fq)
		qf.guaranteed = qf.nominal.Sub(lend)
		if qs.cohort != nil {
			p := qs.cohort.pools[fq.Name]
			if p == nil {
				p = &pool{}
				qs.cohort.pools[fq.Name] = p
			}
			p.capacity = p.capacity.Add(lend)
			qf.pool = p
		} else {
			qf.borrowLimit = Amounts{}
		}
		qs.flavors = append(qs.flavors, qf)
	}
	return qs
}

func (q *queueState) flavor(name string) *queueFlavor {
	for _, qf := range q.flavors {
		if qf.name == name {
			return qf
		}
	}
	return nil
}

// fits reports whether req more fits the queue's quota in this flavor, and
// if not, which resource does not.
func (qf *queueFlavor) fits(req Amounts) (bool, string) {
	next := qf.used.Add(req)
	if ok, r := next.Fits(qf.nominal.Add(qf.borrowLimit)); !ok {
		return false, r
	}
	if qf.pool == nil {
		return true, ""
	}
	poolUse := qf.pool.used.Sub(qf.used.Sub(qf.guaranteed).posPart()).Add(next.Sub(qf.guaranteed).posPart())
	return poolUse.Fits(qf.pool.capacity)
}

// add changes the queue's usage by delta (negative to release), keeping the
// cohort pool's usage in step.
func (qf *queueFlavor) add(delta Amounts) {
	next := qf.used.Add(delta)
	if qf.pool != nil {
		qf.pool.used = qf.pool.used.Sub(qf.used.Sub(qf.guaranteed).posPart()).Add(next.Sub(qf.guaranteed).posPart())
	}
	qf.used = next
}

// borrowed is the usage above nominal quota.
func (qf *queueFlavor) borrowed() Amounts { return qf.used.Sub(qf.nominal).posPart() }

// computeShare is the queue's weighted dominant-resource share were its
// head job admitted (in its first flavor): the largest fraction, over
// resources, of the cohort's lendable pool that the queue would borrow
// beyond its nominal quota, divided by its weight. A job that keeps its
// queue within nominal quota has share 0 and goes first, so a lender gets
// its quota back before a borrower takes more; among borrowers the lowest
// share goes next, which drives borrowed shares to the weights' ratio.
func (q *queueState) computeShare() float64 {
	if q.cohort == nil {
		return 0
	}
	var head Amounts
	if q.next < len(q.pending) {
		head = q.pending[q.next].minReq()
	}
	s := 0.0
	for i, qf := range q.flavors {
		b := qf.borrowed()
		if i == 0 {
			b = qf.used.Add(head).Sub(qf.nominal).posPart()
		}
		c := &qf.pool.capacity
		if c.GPUMilli > 0 && b.GPUMilli > 0 {
			s = max(s, float64(b.GPUMilli)/float64(c.GPUMilli))
		}
		if c.CPUMilli > 0 && b.CPUMilli > 0 {
			s = max(s, float64(b.CPUMilli)/float64(c.CPUMilli))
		}
		if c.Memory > 0 && b.Memory > 0 {
			s = max(s, float64(b.Memory)/float64(c.Memory))
		}
	}
	if s == 0 {
		return 0
	}
	if q.weight <= 0 {
		return s * 1e9 // weight 0: borrow only when nobody else wants it
	}
	return s / q.weight
}

// refresh recomputes the queue's share and caches its head job's order
// after the head changed; the queue must have a job left.
func (q *queueState) refresh() {
	q.share = q.computeShare()
	h := &q.pending[q.next]
	q.headPrio, q.headLvl, q.headSec, q.headNsec, q.headNominated = h.prio, h.level, h.sec, h.nsec, h.nominated
	if q.lasCohort {
		q.cohortPrio, q.cohortLvl, q.cohortSec, q.cohortNsec = h.prio, h.level, h.sec, h.nsec
	}
	if q.next+1 < len(q.pending) {
		// Load the next head now, while other queues take their turns, so
		// that it is in cache when this queue's turn comes again.
		q.nextPrio = q.pending[q.next+1].prio
	}
}

// appendQuotaReason explains a quota failure, e.g. "waiting for 8 gpu in flavor
// h100: queue team-a uses 12/16, cohort gpus has 0 free".
func (st *state) appendQuotaReason(b []byte, q *queueState, qf *queueFlavor, req Amounts, res string) []byte {
	tc := &st.fmt
	b = append(b, "waiting for "...)
	b = tc.appendAmount(b, res, req.Get(res))
	b = append(b, ' ')
	b = append(b, res...)
	b = append(b, " in flavor "...)
	b = append(b, qf.name...)
	b = append(b, ": queue "...)
	b = append(b, q.name...)
	// Quota held for a preemptor (state.hold) is not in the number: the
	// hold lasts while its victims stop, and a reason that changed its
	// wording for that long would be rewritten for every waiting job.
	b = append(b, " uses "...)
	b = tc.appendAmount(b, res, qf.used.Get(res)-qf.held.Get(res))
	b = append(b, '/')
	b = tc.appendAmount(b, res, qf.nominal.Get(res))
	if qf.pool == nil {
		return append(b, " and has no cohort to borrow from"...)
	}
	if bl := qf.borrowLimit.Get(res); bl < unlimited {
		if qf.used.Get(res)+req.Get(res) > qf.nominal.Get(res)+bl {
			b = append(b, " and may borrow at most "...)
			b = tc.appendAmount(b, res, bl)
			return append(b, " (spec.flavors[].resources[].borrowingLimit)"...)
		}
		b = append(b, " (may borrow "...)
		b = tc.appendAmount(b, res, bl)
		b = append(b, ')')
	}
	free := qf.pool.capacity.Get(res) - qf.pool.used.Get(res)
	b = append(b, ", cohort "...)
	b = append(b, q.cohort.name...)
	b = append(b, " has "...)
	b = tc.appendAmount(b, res, max(free, 0))
	b = append(b, " free"...)
	// The job fits the queue's own nominal quota: what it lacks is lent to
	// the cohort's other queues. Say so, and what would take it back.
	if qf.used.Get(res)+req.Get(res) <= qf.nominal.Get(res) {
		b = append(b, " (this queue's unused quota is lent to the cohort's other queues and returns as their jobs end"...)
		switch {
		case q.reclaimAny: // takes back whatever it can: nothing to add
		case q.reclaim:
			b = append(b, "; reclaimWithinCohort: LowerPriority takes it back only from jobs ranked below this one"...)
		default:
			b = append(b, "; set spec.preemption.reclaimWithinCohort to take it back sooner"...)
		}
		b = append(b, ')')
	}
	return b
}

// addUsage books a job's resources to its queue (sign 1) or releases them.
func (st *state) addUsage(j *jobInfo, sign int64) {
	if j.queue == nil {
		return
	}
	if qf := j.queue.flavor(j.flavor); qf != nil {
		qf.add(j.used.Scale(sign))
	}
}

// usageMaps renders Plan.Usage and Plan.Borrowed.
func (st *state) usageMaps() (usage, borrowed map[string]map[string]Amounts) {
	usage = make(map[string]map[string]Amounts, len(st.queueList))
	borrowed = map[string]map[string]Amounts{}
	for _, q := range st.queueList {
		u := map[string]Amounts{}
		for _, qf := range q.flavors {
			if !qf.used.IsZero() {
				u[qf.name] = qf.used
			}
			if b := qf.borrowed(); !b.IsZero() {
				if borrowed[q.name] == nil {
					borrowed[q.name] = map[string]Amounts{}
				}
				borrowed[q.name][qf.name] = b
			}
		}
		usage[q.name] = u
	}
	return usage, borrowed
}

func itoa(i int) string { return strconv.Itoa(i) }
