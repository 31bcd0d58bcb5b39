package scheduler

// A cycle considers many jobs that ask a queue for the same thing: in a
// busy cluster most of a queue's pending jobs wait on its quota, and each
// of them would repeat the same quota checks, the same search for victims
// and render the same reason. Within a cycle, free capacity only shrinks
// (admissions take it; preemption's and backfill's releases are what-ifs
// that are undone), so once a job has failed on quota alone and found
// nothing to preempt, a job with the same demand fails the same way for as
// long as nothing has changed the queue's quota state or the set of jobs
// that could be preempted. The memo remembers such failures per queue and
// reuses their reason; it changes no outcome (TestMemoChangesNoPlan).
//
// What invalidates a remembered failure:
//   - an admission in the queue's cohort (or the queue, without one):
//     queueState.gen, which covers quota use, cohort pools and the
//     admitted jobs that preemption may pick from;
//   - any preemption chosen in the cycle: state.evictGen, which covers the
//     jobs counted as being freed.
//
// Node capacity is not tracked: a quota failure never looked at nodes,
// and preemption's trial placements only get harder as nodes fill. A job
// that another job's eviction is for (a preemptor) is never answered from
// the memo, since preemption treats it differently.

// memoSize is how many failures a queue remembers; a queue's pending jobs
// usually come in a few shapes.
const memoSize = 4

// memoEnabled lets tests compare plans with and without the memo.
var memoEnabled = true

type failMemo struct {
	job      *jobInfo // whose demand failed
	gen      uint64
	evictGen uint64
	reason   string // without the position suffix
}

// sameDemand reports whether a and b ask for exactly the same: the same
// groups, sizes, priority and level, estimate, placement policy and topology.
func sameDemand(a, b *jobInfo) bool {
	if a.prio != b.prio || a.level != b.level || a.est != b.est || a.spread != b.spread || a.topo != b.topo {
		return false
	}
	ga, gb := a.groups(), b.groups()
	if len(ga) != len(gb) {
		return false
	}
	for i := range ga {
		if ga[i].req != gb[i].req || ga[i].replicas != gb[i].replicas || ga[i].min != gb[i].min {
			return false
		}
	}
	ta, tb := a.topology, b.topology
	if (ta == nil) != (tb == nil) {
		return false
	}
	return ta == nil || *ta == *tb
}

// recall returns the reason of a remembered failure that j would repeat,
// or "" when there is none.
func (st *state) recall(q *queueState, j *jobInfo) string {
	if !memoEnabled || st.isPreemptor(j) {
		return ""
	}
	for i := range q.memo {
		m := &q.memo[i]
		if m.job != nil && m.gen == *q.gen && m.evictGen == st.evictGen && sameDemand(m.job, j) {
			return m.reason
		}
	}
	return ""
}

// remember records that j failed on quota alone, found nothing to
// preempt and waits for reason.
func (st *state) remember(q *queueState, j *jobInfo, reason []byte) {
	if !memoEnabled || st.isPreemptor(j) {
		return
	}
	q.memo[q.memoNext] = failMemo{job: j, gen: *q.gen, evictGen: st.evictGen, reason: st.text.str(reason)}
	q.memoNext = (q.memoNext + 1) % memoSize
}

// evicted records that victim is evicted for the job keyed by.
func (st *state) evicted(victim *jobInfo, by string) {
	victim.evicting, victim.by = true, by
	st.evicting = append(st.evicting, victim)
	if st.preemptors == nil {
		st.preemptors = map[string]int{}
	}
	st.preemptors[by]++
	st.evictGen++
}

// isPreemptor reports whether an eviction is for j.
func (st *state) isPreemptor(j *jobInfo) bool {
	return len(st.preemptors) > 0 && st.preemptors[j.preemptorID()] > 0
}
