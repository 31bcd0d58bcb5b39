package scheduler

import (
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// A cycle's state (nodes, flavor indexes, queues with their usage, and the
// admitted jobs on them) costs about two microseconds per admitted job to
// build, and a cycle that admits a job or two among thousands running
// would spend nearly all its time on it. A Scheduler therefore keeps the
// state of its last cycle as a base: the next cycle compares its snapshot
// with the last one and, when the nodes, flavors and queues are the same
// objects, only removes the admitted jobs that left and adds those that
// came: a pass of pointer comparisons, then work that grows with the
// changes. What a cycle itself changes
// in the state (its admissions, backfill reservations and evictions) is
// written to an undo log and rolled back when it ends, so the base is
// always the state the last snapshot alone gives.
//
// The state built this way is the one a fresh build gives, up to the order
// of the admitted-job lists, which no decision depends on: usage and node
// capacity are sums, preemption sorts its candidates by priority, start and
// key, and backfill frees running jobs in the order of their expected ends,
// all the jobs ending at one instant together (TestSchedulerKeepsState
// holds the two to the same plans and state after every cycle).

// stateBase is the state a Scheduler keeps between cycles.
type stateBase struct {
	st *state // nil: the next cycle builds afresh
	// what the kept state was built from
	nodes   ptrSet[v1alpha1.Node]
	flavors ptrSet[v1alpha1.Flavor]
	queues  ptrSet[v1alpha1.Queue]
	// admitted is a copy of the last snapshot's Admitted, infos the kept
	// jobInfo of each of them that holds resources.
	admitted []*v1alpha1.Job
	infos    map[*v1alpha1.Job]*jobInfo
	// floating are admitted jobs with an estimate and no start time:
	// their expected end is counted from now, so it moves every cycle.
	floating []*jobInfo
	// broken: the snapshot listed an admitted job twice; the state is not
	// kept (a build from scratch handles that as Schedule does).
	broken bool
	// The changes of the next snapshot: net count per job, and the jobs
	// that left and came, in snapshot order.
	delta         map[*v1alpha1.Job]int
	gone, arrived []*v1alpha1.Job
	undo          undoLog
}

// begin returns the state for a cycle at now over snap and the work that
// completes it: adding nodes and admitted jobs to a new state, or bringing
// the kept one up to date. The work runs beside readPending, so it writes
// nothing readPending reads (queue names and positions). The kept state is
// taken out until end gives it back, so a cycle that panics leaves none.
func (b *stateBase) begin(snap Snapshot, now time.Time) (*state, func()) {
	st := b.st
	b.st = nil
	b.undo.reset()
	if st != nil && b.nodes.same(snap.Nodes) && b.flavors.same(snap.Flavors) && b.queues.same(snap.Queues) && b.diff(snap.Admitted) {
		st.startCycle(now)
		st.undo = &b.undo
		return st, func() {
			for _, ji := range b.floating {
				ji.end = now.Add(ji.est)
			}
			b.apply(st)
			st.refreshLevels()
			b.undo.evicting = len(st.evicting)
		}
	}
	st = newState(snap, now)
	st.undo = &b.undo
	return st, func() {
		st.addNodes(snap)
		b.built(st, snap)
		b.undo.evicting = len(st.evicting)
	}
}

// end rolls back what the cycle changed in st and keeps st for the next.
func (b *stateBase) end(st *state) {
	b.undo.rollback(st)
	st.plan, st.waiting = nil, nil
	st.admChunks, st.admChunk = nil, nil
	if !b.broken {
		b.st = st
	}
}

// built records what a state built from scratch was built from.
func (b *stateBase) built(st *state, snap Snapshot) {
	b.nodes.reset(snap.Nodes)
	b.flavors.reset(snap.Flavors)
	b.queues.reset(snap.Queues)
	b.admitted = append(b.admitted[:0], snap.Admitted...)
	if b.infos == nil {
		b.infos = make(map[*v1alpha1.Job]*jobInfo, len(st.admitted))
	}
	clear(b.infos)
	b.floating = b.floating[:0]
	b.broken = false
	for _, ji := range st.admitted {
		if b.infos[ji.job] != nil {
			b.broken = true
		}
		b.infos[ji.job] = ji
		b.track(ji)
	}
}

// track notes an added job whose expected end moves with now.
func (b *stateBase) track(ji *jobInfo) {
	if ji.start.IsZero() && ji.est > 0 {
		b.floating = append(b.floating, ji)
	}
}

// diff finds which admitted jobs left and came since the last snapshot,
// comparing position by position (callers that change their list in place
// leave most positions as they were) and netting out jobs that only moved.
// It reports false when the changes cannot be applied to the kept state:
// a job listed twice.
func (b *stateBase) diff(admitted []*v1alpha1.Job) bool {
	if b.delta == nil {
		b.delta = map[*v1alpha1.Job]int{}
	}
	clear(b.delta)
	b.gone, b.arrived = b.gone[:0], b.arrived[:0]
	n := min(len(admitted), len(b.admitted))
	for i, j := range admitted[:n] {
		if old := b.admitted[i]; old != j {
			b.delta[old]--
			b.delta[j]++
			b.gone = append(b.gone, old)
			b.arrived = append(b.arrived, j)
			b.admitted[i] = j // a failed diff leaves b.admitted to built
		}
	}
	for _, old := range b.admitted[n:] {
		b.delta[old]--
		b.gone = append(b.gone, old)
	}
	for _, j := range admitted[n:] {
		b.delta[j]++
		b.arrived = append(b.arrived, j)
	}
	for _, j := range b.arrived {
		if d := b.delta[j]; d > 1 || (d == 1 && b.infos[j] != nil) {
			return false // listed twice; the state is built afresh (built)
		}
	}
	// Only the changed positions were copied: a full copy per cycle would
	// cost more than the diff.
	if len(admitted) <= len(b.admitted) {
		clear(b.admitted[len(admitted):])
		b.admitted = b.admitted[:len(admitted)]
	} else {
		b.admitted = append(b.admitted, admitted[len(b.admitted):]...)
	}
	return true
}

// apply removes the jobs that left from st and adds those that came.
func (b *stateBase) apply(st *state) {
	for _, j := range b.gone {
		if b.delta[j] >= 0 {
			continue // moved, or already removed
		}
		b.delta[j] = 0
		ji := b.infos[j]
		if ji == nil {
			continue // it held nothing
		}
		delete(b.infos, j)
		st.removeRunning(ji)
		if ji.start.IsZero() && ji.est > 0 {
			for i, f := range b.floating {
				if f == ji {
					b.floating = append(b.floating[:i], b.floating[i+1:]...)
					break
				}
			}
		}
	}
	for _, j := range b.arrived {
		if b.delta[j] <= 0 {
			continue
		}
		b.delta[j] = 0
		if !HoldsResources(j) {
			continue
		}
		ji := st.addRunning(j)
		b.infos[j] = ji
		b.track(ji)
	}
}

// addRunning adds an admitted job that holds resources: its placements
// take node capacity (on the nodes that still exist), its usage its
// queue's quota, and it becomes a candidate for preemption.
func (st *state) addRunning(j *v1alpha1.Job) *jobInfo {
	ji := newJobInfo(j)
	ji.running = &running{at: len(st.admitted), qat: -1}
	adm := j.Status.Admission
	ji.flavor = adm.Flavor
	ji.used = AdmittedRequest(j)
	if p := j.Status.Preemption; p != nil {
		by := string(p.PreemptorUID)
		if by == "" {
			by = p.By // a notice from before preemptorUID
		}
		st.evicted(ji, by)
	}
	if j.Status.StartTime != nil {
		ji.start = j.Status.StartTime.Time
	}
	if d := ji.est; d > 0 {
		from := st.now
		if !ji.start.IsZero() {
			from = ji.start
		}
		ji.end = from.Add(d)
	}
	for _, p := range adm.Placements {
		ns, ok := st.byName[p.Node]
		if !ok {
			continue // the node is gone; so is what ran there
		}
		for g, grp := range ji.groups() {
			if ji.groupName(g) == p.Group {
				ji.placed = append(ji.placed, placed{n: ns, g: g, req: grp.req, p: p})
				ns.apply(grp.req, p, 1)
			}
		}
	}
	if qs := st.queues[adm.Queue]; qs != nil {
		ji.queue = qs
		if qs.las != nil {
			st.deriveLevel(ji)
		}
		if qs.flavor(adm.Flavor) != nil {
			ji.qat = len(qs.admitted)
			qs.admitted = append(qs.admitted, ji)
		}
	}
	st.addUsage(ji, 1)
	st.admitted = append(st.admitted, ji)
	return ji
}

// removeRunning is the inverse of addRunning.
func (st *state) removeRunning(ji *jobInfo) {
	st.release(ji, -1)
	last := st.admitted[len(st.admitted)-1]
	st.admitted[ji.at], last.at = last, ji.at
	st.admitted[len(st.admitted)-1] = nil
	st.admitted = st.admitted[:len(st.admitted)-1]
	if q := ji.queue; ji.qat >= 0 {
		last := q.admitted[len(q.admitted)-1]
		q.admitted[ji.qat], last.qat = last, ji.qat
		q.admitted[len(q.admitted)-1] = nil
		q.admitted = q.admitted[:len(q.admitted)-1]
	}
	if ji.evicting {
		for i, v := range st.evicting {
			if v == ji {
				st.evicting = append(st.evicting[:i], st.evicting[i+1:]...)
				break
			}
		}
		st.unevict(ji.by)
	}
}

// refreshLevels brings a kept state's attained-service levels to now: a
// running job's level rises with the time it holds its GPUs, so the
// levels a kept state holds are those of its last cycle. Each job's level
// is derived again only once now reaches the moment it may change.
func (st *state) refreshLevels() {
	for _, ji := range st.admitted {
		if q := ji.queue; q != nil && q.las != nil {
			if r := ji.running; st.now.Before(r.levelAt) || (!r.levelUntil.IsZero() && !st.now.Before(r.levelUntil)) {
				st.deriveLevel(ji)
			}
		}
	}
}

// deriveLevel sets an admitted job's level in its queue at st.now, and
// when it may next change (NextLevelChange rounds that moment down, so
// the level holds until then).
func (st *state) deriveLevel(ji *jobInfo) {
	las := ji.queue.las
	ji.level = AttainedLevel(las, AttainedGPUSeconds(ji.job, st.now))
	ji.running.levelAt = st.now
	ji.running.levelUntil, _ = NextLevelChange(las, ji.job, st.now)
}

// unevict forgets one eviction for the preemptor by.
func (st *state) unevict(by string) {
	if st.preemptors[by]--; st.preemptors[by] <= 0 {
		delete(st.preemptors, by)
	}
}

// startCycle readies a kept state for the next cycle at now: what a new
// state starts without.
func (st *state) startCycle(now time.Time) {
	st.now = now
	st.reservations = 0
	clear(st.reservedIn)
	st.held = st.held[:0]
	for _, q := range st.queueList {
		q.pending, q.next, q.done, q.share = nil, 0, false, 0
		q.memo, q.memoNext = [memoSize]failMemo{}, 0
	}
}

// undoLog records a cycle's changes to a kept state.
type undoLog struct {
	quota    []quotaUse
	placed   []placed
	nodes    []*nodeState // reserved for backfill
	evicting int          // len(state.evicting) before the cycle
}

type quotaUse struct {
	qf  *queueFlavor
	req Amounts
}

func (u *undoLog) reset() {
	clear(u.placed) // they point into old plans' placements
	u.quota, u.placed, u.nodes = u.quota[:0], u.placed[:0], u.nodes[:0]
}

// admitted records an admission: req charged to qf, and the replicas of
// journal placed as pls (the plan's copies; the journal's GPU lists are
// scratch space).
func (u *undoLog) admitted(qf *queueFlavor, req Amounts, journal []placed, pls []v1alpha1.Placement) {
	if u == nil {
		return
	}
	u.quota = append(u.quota, quotaUse{qf, req})
	for i, e := range journal {
		e.p = pls[i]
		u.placed = append(u.placed, e)
	}
}

// reserved records a backfill reservation on n.
func (u *undoLog) reserved(n *nodeState) {
	if u != nil {
		u.nodes = append(u.nodes, n)
	}
}

// rollback undoes what the log recorded and the cycle's evictions, in
// reverse order.
func (u *undoLog) rollback(st *state) {
	for i := len(u.placed) - 1; i >= 0; i-- {
		e := &u.placed[i]
		e.n.apply(e.req, e.p, -1)
	}
	for i := len(u.quota) - 1; i >= 0; i-- {
		u.quota[i].qf.add(u.quota[i].req.Scale(-1))
	}
	for _, n := range u.nodes {
		n.reservedUntil = time.Time{}
	}
	for i := len(st.evicting) - 1; i >= u.evicting; i-- {
		v := st.evicting[i]
		st.unevict(v.by)
		v.evicting, v.by = false, ""
		st.evicting[i] = nil
	}
	st.evicting = st.evicting[:u.evicting]
	u.reset()
}

// ptrSet remembers a list of objects to tell whether a later list holds
// the very same ones, in any order.
type ptrSet[T any] struct {
	list []*T
	seen map[*T]uint64
	mark uint64
	ok   bool // the list had no duplicates
}

func (s *ptrSet[T]) reset(l []*T) {
	s.list = append(s.list[:0], l...)
	if s.seen == nil {
		s.seen = make(map[*T]uint64, len(l))
	}
	clear(s.seen)
	s.mark, s.ok = 1, true
	for _, p := range l {
		if _, dup := s.seen[p]; dup {
			s.ok = false
		}
		s.seen[p] = 1
	}
}

// same reports whether l holds exactly the remembered objects.
func (s *ptrSet[T]) same(l []*T) bool {
	if !s.ok || len(l) != len(s.list) {
		return false
	}
	i := 0
	for i < len(l) && l[i] == s.list[i] {
		i++
	}
	if i == len(l) {
		return true
	}
	s.mark++
	for _, p := range l {
		if m, ok := s.seen[p]; !ok || m == s.mark {
			return false
		}
		s.seen[p] = s.mark
	}
	copy(s.list, l) // the next cycle likely passes this order again
	return true
}
