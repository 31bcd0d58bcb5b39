package scheduler

// queueHeap orders queues for their turns (see less). It is
// container/heap's algorithm without the interface calls, on copies of
// the order that refresh cached, so that comparing reads no queue.
type queueHeap []queueEntry

type queueEntry struct {
	share                 float64
	headSec               int64
	headNsec              int32
	headPrio              int32
	headLvl               int32
	cohortPrio, cohortLvl int32
	cohortNsec            int32
	cohortSec             int64
	headNominated         bool
	q                     *queueState
}

func heapEntry(q *queueState) queueEntry {
	return queueEntry{share: q.share, headSec: q.headSec, headNsec: q.headNsec, headPrio: q.headPrio, headLvl: q.headLvl,
		cohortPrio: q.cohortPrio, cohortLvl: q.cohortLvl, cohortSec: q.cohortSec, cohortNsec: q.cohortNsec, headNominated: q.headNominated, q: q}
}

// less orders queues for their next turn: a queue whose head preempted
// others for room first (the room it freed must not go to another queue
// that happens to come first, or it would preempt again); then, for
// queues whose leastAttainedService has scope Cohort, the head's priority
// and attained-service level, then the oldest head (other queues compare
// as priority 0, level 0 and older than any head, so that the order stays
// total in a cohort that mixes them); then the lowest share, the highest
// head priority, the lowest head level and the oldest head.
//
// Between scope-Cohort queues, arrival and not fair share decides among
// equal levels, as within one Tiresias queue: a tenant of large gangs
// holds the largest share, and ordering fresh jobs by share made its
// fresh jobs wait longest (on the Philly trace Jain's index over tenants'
// slowdown was 0.56 by share and 0.78 by arrival).
func (h queueHeap) less(a, b int) bool {
	qa, qb := &h[a], &h[b]
	if qa.headNominated != qb.headNominated {
		return qa.headNominated
	}
	if qa.cohortPrio != qb.cohortPrio || qa.cohortLvl != qb.cohortLvl {
		return outranks(qa.cohortPrio, qa.cohortLvl, qb.cohortPrio, qb.cohortLvl)
	}
	if c := compareCreated(qa.cohortSec, qa.cohortNsec, qb.cohortSec, qb.cohortNsec); c != 0 {
		return c < 0
	}
	if qa.share != qb.share {
		return qa.share < qb.share
	}
	if qa.headPrio != qb.headPrio {
		return qa.headPrio > qb.headPrio
	}
	if qa.headLvl != qb.headLvl {
		return qa.headLvl < qb.headLvl
	}
	if c := compareCreated(qa.headSec, qa.headNsec, qb.headSec, qb.headNsec); c != 0 {
		return c < 0
	}
	return qa.q.name < qb.q.name
}

func (h queueHeap) swap(a, b int) { h[a], h[b] = h[b], h[a] }

func (h *queueHeap) push(q *queueState) {
	*h = append(*h, heapEntry(q))
	h.up(len(*h) - 1)
}

func (h *queueHeap) pop() *queueState {
	old := *h
	n := len(old) - 1
	old.swap(0, n)
	old.down(0, n)
	q := old[n].q
	*h = old[:n]
	return q
}

func (h queueHeap) fix(i int) {
	if !h.down(i, len(h)) {
		h.up(i)
	}
}

func (h queueHeap) up(j int) {
	for {
		i := (j - 1) / 2 // parent
		if i == j || !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h queueHeap) down(i0, n int) bool {
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && h.less(j2, j1) {
			j = j2
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
