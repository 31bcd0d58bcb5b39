package scheduler

import (
	"sort"
	"time"
)

// maxReservations bounds the backfill work per cycle: each reservation
// replays running jobs' ends until the blocked job fits.
const maxReservations = 16

// reserve computes when blocked job j could start on nodes if running jobs
// end as expected (start + estimatedSeconds, else activeDeadlineSeconds; a
// job with neither never frees its nodes), and reserves the nodes it would
// get then. Jobs considered later may use a reserved node only if they are
// expected to end before that time, so backfilling never delays j's
// reserved start. Without a computable start nothing is reserved and
// BestEffortFIFO lets later jobs pass. It returns a note for j's reason.
func (st *state) reserve(q *queueState, j *jobInfo) string {
	if st.reservations >= maxReservations {
		return ""
	}
	sizes := make([]int32, len(j.groups()))
	for g := range j.groups() {
		sizes[g] = j.groups()[g].min
	}
	req := j.request(sizes)
	for _, qf := range q.flavors {
		fi := qf.fi
		if fi == nil {
			continue
		}
		if ok, _ := qf.fits(req); !ok {
			continue // blocked on quota, not nodes: nothing to reserve
		}
		var ending []*jobInfo
		for _, v := range st.admitted {
			if st.endOf(v).IsZero() || !onFlavor(v, fi) {
				continue
			}
			ending = append(ending, v)
		}
		endOf := st.endOf
		sort.SliceStable(ending, func(a, b int) bool { return endOf(ending[a]).Before(endOf(ending[b])) })
		var at time.Time
		var nodes []*nodeState
		freed := 0
		for i, v := range ending {
			freeNodes(v, -1)
			freed++
			if i+1 < len(ending) && endOf(ending[i+1]).Equal(endOf(v)) {
				continue
			}
			pl := newPlacer(fi, j, sizes, time.Time{})
			if ok, _ := pl.place(); ok {
				at = endOf(v)
				for _, e := range pl.journal {
					nodes = append(nodes, e.n)
				}
				pl.rollback(0)
				break
			}
		}
		for i := freed - 1; i >= 0; i-- {
			freeNodes(ending[i], 1)
		}
		if at.IsZero() {
			continue
		}
		distinct := map[*nodeState]bool{}
		for _, n := range nodes {
			distinct[n] = true
			if n.reservedUntil.IsZero() || at.Before(n.reservedUntil) {
				n.reservedUntil = at
				st.undo.reserved(n)
			}
			if st.reservedIn == nil {
				st.reservedIn = map[*flavorIndex]bool{}
			}
			for _, x := range n.indexes {
				st.reservedIn[x] = true
			}
		}
		st.reservations++
		return "start reserved at " + at.UTC().Format(time.RFC3339) + " on " + itoa(len(distinct)) + " node(s) of flavor " + fi.flavor.Name
	}
	return ""
}

// freeNodes gives back (sign -1) or retakes a job's node capacity only;
// quota is not what a node reservation is about.
func freeNodes(j *jobInfo, sign int64) {
	for _, e := range j.placed {
		e.n.apply(e.req, e.p, sign)
	}
}

func onFlavor(j *jobInfo, fi *flavorIndex) bool {
	for _, e := range j.placed {
		for _, x := range e.n.indexes {
			if x == fi {
				return true
			}
		}
	}
	return false
}

// quotaReservation is the quota a job blocked on its queue's quota is to
// get at a computed time (state.reserveQuota): from at on it needs req,
// and freed of what the queue uses now will have been given back by then.
type quotaReservation struct {
	at         time.Time
	req, freed Amounts
}

// reserveQuota is reserve for a job blocked on its queue's quota rather
// than on nodes: if the queue's running jobs end as expected, the quota
// their ends give back lets j in at some time, and from then that quota
// is j's: later jobs of the queue may take quota ahead of j only if they
// are expected to end before it, or if j's room at that time survives
// what they take (takesReserved). The cohort's other queues are assumed
// to use what they use now. Nothing is reserved without a computable time
// or when the flavor already holds a reservation, made for a job ranked
// before j; StrictFIFO queues need none, since nothing passes their head.
func (st *state) reserveQuota(q *queueState, j *jobInfo) string {
	if st.reservations >= maxReservations || q.strict {
		return ""
	}
	req, endOf := j.minReq(), st.endOf
	for _, qf := range q.flavors {
		if qf.fi == nil || qf.res != nil {
			continue
		}
		var ending []*jobInfo
		for _, v := range q.admitted {
			// A job being evicted for another job frees its room for that
			// one (its quota is held for it), not for j.
			if v.flavor != qf.name || endOf(v).IsZero() || (v.evicting && v.by != j.preemptorID()) {
				continue
			}
			ending = append(ending, v)
		}
		sort.SliceStable(ending, func(a, b int) bool { return endOf(ending[a]).Before(endOf(ending[b])) })
		var at time.Time
		var freed Amounts
		for i, v := range ending {
			freed = freed.Add(v.used)
			if i+1 < len(ending) && endOf(ending[i+1]).Equal(endOf(v)) {
				continue
			}
			if ok, _ := qf.fits(req.Sub(freed)); ok {
				at = endOf(v)
				break
			}
		}
		if at.IsZero() {
			continue
		}
		qf.res = &quotaReservation{at: at, req: req, freed: freed}
		st.quotaRes = append(st.quotaRes, qf)
		st.reservations++
		// Failures remembered so far did not see the reservation: a job of
		// the same demand may now fail differently (memo.go).
		*q.gen++
		return "quota reserved from " + at.UTC().Format(time.RFC3339) + " in flavor " + qf.name
	}
	return ""
}

// admitted records that req was admitted in qf this cycle for a job
// expected to end at end: if that is before a reservation's time, its quota
// is given back by then too.
func (r *quotaReservation) admitted(req Amounts, end time.Time) {
	if r != nil && !end.IsZero() && !end.After(r.at) {
		r.freed = r.freed.Add(req)
	}
}

// appendReservedReason appends why a job waits for a quota reservation in
// qf; end is when the job would end (zero: unknown).
func appendReservedReason(b []byte, q *queueState, qf *queueFlavor, end time.Time) []byte {
	b = append(b, "quota in flavor "...)
	b = append(b, qf.name...)
	b = append(b, " is reserved from "...)
	b = append(b, qf.res.at.UTC().Format(time.RFC3339)...)
	b = append(b, " for a job ahead in queue "...)
	b = append(b, q.name...)
	if end.IsZero() {
		return append(b, ": declare runPolicy.estimatedSeconds to run before then if it ends in time"...)
	}
	return append(b, ", and this job is expected to run past it"...)
}

// expectedEnd is when j would end if it started now; zero when it has no
// estimate. Placements use it for backfill: a reserved node takes only
// jobs expected to end before the reservation.
func (st *state) expectedEnd(j *jobInfo) time.Time {
	if j.est <= 0 {
		return time.Time{}
	}
	return st.now.Add(j.est)
}

// endOf is when admitted job v is expected to give its resources back:
// now for one being evicted, zero when unknown (no estimate).
func (st *state) endOf(v *jobInfo) time.Time {
	if v.evicting {
		return st.now
	}
	return v.end
}

// takesReserved reports whether admitting req for j, expected to end at
// end (zero: unknown), would take quota reserved in qf for a job ranked
// before it: j would still hold req at the reserved time, and the
// reserved job would then not fit. A nominated preemptor is not asked:
// the room its victims freed is its own, and a reserved job that outranks
// it may preempt it when its time comes.
func (qf *queueFlavor) takesReserved(j *jobInfo, req Amounts, end time.Time) bool {
	r := qf.res
	if r == nil || j.nominated || (!end.IsZero() && !end.After(r.at)) {
		return false
	}
	ok, _ := qf.fits(req.Add(r.req).Sub(r.freed))
	return !ok
}
