package scheduler

import (
	"cmp"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"skiff.dev/skiff/api/v1alpha1"
)

// Snapshot is the state the core decides on. Callers pass copies; the core
// does not modify them.
type Snapshot struct {
	Nodes   []*v1alpha1.Node
	Flavors []*v1alpha1.Flavor
	Queues  []*v1alpha1.Queue
	// Admitted are the jobs that hold resources (see HoldsResources). Those
	// with Status.Preemption set are being evicted: they hold their
	// resources until they stop but are never chosen as victims again.
	Admitted []*v1alpha1.Job
}

// Admission is one job the plan admits.
type Admission struct {
	Namespace, Name string
	Admission       v1alpha1.Admission
}

// Preemption is one admitted job the plan evicts so that a pending job can
// run. The committer sets the victim's Status.Preemption from it; the
// preemptor is admitted in a later cycle, once the victims have stopped.
type Preemption struct {
	Namespace, Name string
	// Reason is InQueue (a higher-priority job of the same queue) or
	// Reclaim (the lending queue takes its quota back).
	Reason string
	// By is the preemptor's namespace/name, ByUID its uid (the committer
	// stores it in the victim's notice as the preemptor's identity), and
	// Flavor the flavor it makes room in: the committer nominates the
	// preemptor to it (Status.NominatedFlavor).
	By      string
	ByUID   types.UID
	Flavor  string
	Message string
	// ByQueue is the preemptor's queue (queues are cluster-wide, so a
	// victim of another namespace may be told it).
	ByQueue string
}

// Nominations returns, per preemptor key, the flavor the plan's
// preemptions make room in: what the committer sets as the preemptor's
// Status.NominatedFlavor.
func (p Plan) Nominations() map[string]string {
	out := map[string]string{}
	for _, pr := range p.Preemptions {
		out[pr.By] = pr.Flavor
	}
	return out
}

// Preemption reasons.
const (
	PreemptInQueue = "InQueue"
	PreemptReclaim = "Reclaim"
)

// Plan is the core's decision for one cycle.
type Plan struct {
	Admissions  []Admission
	Preemptions []Preemption
	// Waiting says, per pending job key (namespace/name), why it still waits.
	Waiting map[string]string
	// Usage is each queue's usage per flavor once the plan is applied.
	Usage map[string]map[string]Amounts
	// Borrowed is, per queue and flavor, how much of Usage lies above the
	// queue's nominal quota (borrowed from its cohort); absent when none.
	Borrowed map[string]map[string]Amounts
	// Pending is, per queue, how many of the pending jobs handed to the
	// cycle asked for it (those it admits included), so that callers
	// reporting queue status need not read every pending job again.
	Pending map[string]int32
}

// HoldsResources reports whether a job's admission still holds quota and
// node capacity: from admission until it finishes or is suspended.
func HoldsResources(j *v1alpha1.Job) bool {
	if j.Status.Admission == nil {
		return false
	}
	return j.Status.Phase == v1alpha1.JobAdmitted || j.Status.Phase == v1alpha1.JobRunning
}

// preemptorID is how evictions in flight name the job they make room for:
// its uid, or its key where it has none (jobs that were never stored).
func (j *jobInfo) preemptorID() string {
	if j.job.UID != "" {
		return string(j.job.UID)
	}
	return j.key
}

// Key is the namespace/name key of a job.
func Key(j *v1alpha1.Job) string { return j.Namespace + "/" + j.Name }

// jobInfo is a pending or admitted job with its derived numbers. A
// cycle's pending jobs lie in one array in the order each queue considers
// them, and the fields every consideration reads come first and are kept
// small (a job with one replica group keeps it inline), so that walking a
// queue touches little and adjacent memory.
type jobInfo struct {
	// Read once from the job, since a cycle compares and sizes pending
	// jobs many times over:
	prio int32
	// level is the job's least-attained-service level in its queue (0
	// when the queue has none): jobs of equal priority go lowest first.
	level int32
	// The creation time as Unix seconds and nanoseconds, which order
	// exactly as the time.Time does and take half its room.
	nsec int32
	sec  int64
	est  time.Duration // estimate(job)
	// The replica groups (see groups): a job with one keeps it inline,
	// others point to theirs.
	group0 [1]groupInfo
	more   *[]groupInfo
	key    string
	job    *v1alpha1.Job
	// Admitted jobs only (nil for pending ones, which keeps the many
	// pending jobInfos of a cycle small):
	*running
	spread bool // placementPolicy Spread
	// nominated: the job preempted others to make room for itself
	// (status.nominatedFlavor), so its queue goes first while it heads it.
	nominated bool
	topo      bool // spec.topology.required is set
	// spec.topology, so that comparing demands need not read the job
	topology *v1alpha1.TopologyRequest
}

// groupInfo is a replica group's request, sizes and name (kept here so
// that placing a job need not read the job again).
type groupInfo struct {
	req           Amounts
	replicas, min int32
	name          string
}

func newJobInfo(j *v1alpha1.Job) *jobInfo {
	ji := &jobInfo{job: j, key: Key(j)}
	ji.fill(nil)
	return ji
}

// fill derives everything but the key from ji.job into ji. A job with
// other than one replica group gets its groups from more, whose length is
// theirs (nil: allocate).
func (ji *jobInfo) fill(more *[]groupInfo) {
	j := ji.job
	ji.prio, ji.est = j.Spec.Priority, estimate(j)
	ji.spread = j.Spec.PlacementPolicy == v1alpha1.Spread
	ji.nominated = j.Status.NominatedFlavor != ""
	ji.topology = j.Spec.Topology
	ji.topo = ji.topology != nil && ji.topology.Required != ""
	t := j.CreationTimestamp.Time
	ji.sec, ji.nsec = t.Unix(), int32(t.Nanosecond())
	n := len(j.Spec.ReplicaGroups)
	switch {
	case n == 1:
		ji.more = nil
	case more != nil:
		ji.more = more
	default:
		gs := make([]groupInfo, n)
		ji.more = &gs
	}
	groups := ji.groups()
	for i := range j.Spec.ReplicaGroups {
		g := &j.Spec.ReplicaGroups[i]
		groups[i] = groupInfo{req: FromResources(g.Template.Resources), replicas: g.Replicas, min: minReplicas(*g), name: g.Name}
	}
}

// groups are the job's replica groups.
func (j *jobInfo) groups() []groupInfo {
	if j.more != nil {
		return *j.more
	}
	return j.group0[:]
}

// minReq is the request at every group's minimum size.
func (j *jobInfo) minReq() Amounts {
	var a Amounts
	for _, g := range j.groups() {
		a = a.Add(g.req.Scale(int64(g.min)))
	}
	return a
}

// groupName is the name of replica group g.
func (j *jobInfo) groupName(g int) string { return j.groups()[g].name }

// compareCreated orders creation times: -1, 0 or 1.
func compareCreated(sa int64, na int32, sb int64, nb int32) int {
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	return cmp.Compare(na, nb)
}

func (j *jobInfo) request(sizes []int32) Amounts {
	var a Amounts
	groups := j.groups()
	for g, s := range sizes {
		a = a.Add(groups[g].req.Scale(int64(s)))
	}
	return a
}

// running is what an admitted job holds.
type running struct {
	queue    *queueState
	flavor   string
	used     Amounts
	placed   []placed
	evicting bool
	by       string // the preemptor an evicting job makes room for (preemptorID)
	start    time.Time
	end      time.Time // expected end; zero when unknown (never frees)
	// at is the job's index in state.admitted, qat in its queue's
	// admitted (-1: not there), so that a Scheduler can drop it.
	at, qat int
	// levelAt is when level was last derived; levelUntil when it may next
	// change (zero: never, while the job keeps this admission).
	levelAt, levelUntil time.Time
}

// estimate is the job's expected runtime: its declared estimate, else its
// deadline; 0 when neither is known.
func estimate(j *v1alpha1.Job) time.Duration {
	rp := j.Spec.RunPolicy
	switch {
	case rp.EstimatedSeconds != nil:
		return time.Duration(*rp.EstimatedSeconds) * time.Second
	case rp.ActiveDeadlineSeconds != nil:
		return time.Duration(*rp.ActiveDeadlineSeconds) * time.Second
	}
	return 0
}

type state struct {
	now       time.Time
	nodes     []*nodeState
	indexes   map[string]*flavorIndex
	queues    map[string]*queueState
	queueList []*queueState
	admitted  []*jobInfo
	plan      *Plan
	waiting   *waitingWriter // writes plan.Waiting
	// admissions so far: full chunks, then the current one
	admChunks [][]Admission
	admChunk  []Admission
	// evicting are the admitted jobs being preempted (from the snapshot
	// or chosen this cycle): what preemption counts as already freed.
	evicting []*jobInfo
	// reservations made this cycle (backfill); capped to bound the work
	reservations int
	// reservedIn are the flavors with nodes reserved this cycle
	reservedIn map[*flavorIndex]bool
	// preemptors are the keys of the jobs that evictions are for, and
	// evictGen counts evictions (see memo.go)
	preemptors map[string]int // evictions per preemptor
	// held is quota charged for preemptors this cycle (see hold), and
	// heldRoom node room (see holdRoom)
	held     []*queueFlavor
	heldRoom []placed
	// quotaRes are the queue flavors holding a quota reservation this
	// cycle (see reserveQuota)
	quotaRes []*queueFlavor
	evictGen uint64
	// cache, when not nil, holds what earlier cycles read from pending
	// jobs (see Scheduler)
	cache *jobCache
	// byName finds the nodes by name (addRunning)
	byName map[string]*nodeState
	// undo, when not nil, records what the cycle changes in a state that
	// a Scheduler keeps for the next cycle (see base.go).
	undo *undoLog
	// scratch for the hot path: reasons are rendered into why and stored
	// through text; sizes and pl serve tryAdmit.
	why   []byte
	text  strArena
	fmt   textCache
	sizes []int32
	pl    placer
}

// newState builds the queues of a cycle's state; addNodes adds the rest.
func newState(snap Snapshot, now time.Time) *state {
	st := &state{now: now, indexes: map[string]*flavorIndex{}, queues: make(map[string]*queueState, len(snap.Queues))}
	cohorts := map[string]*cohortState{}
	queues := append([]*v1alpha1.Queue(nil), snap.Queues...)
	sort.Slice(queues, func(a, b int) bool { return queues[a].Name < queues[b].Name })
	st.queueList = make([]*queueState, 0, len(queues))
	for i, q := range queues {
		qs := newQueueState(q, cohorts)
		qs.idx = i
		st.queues[q.Name] = qs
		st.queueList = append(st.queueList, qs)
	}
	return st
}

// addNodes adds the nodes, the admitted jobs and the flavor indexes to a
// state that has its queues. Of the queues it writes only their admitted
// jobs and usage.
func (st *state) addNodes(snap Snapshot) {
	nodes := append([]*v1alpha1.Node(nil), snap.Nodes...)
	sort.Slice(nodes, func(a, b int) bool { return nodes[a].Name < nodes[b].Name })
	byName := make(map[string]*nodeState, len(nodes))
	st.nodes = newNodeStates(nodes)
	for i, n := range nodes {
		byName[n.Name] = st.nodes[i]
	}
	st.byName = byName
	// Running jobs take their exact placements (GPU indices and shares)
	// before the indexes are built, so buckets start out right.
	for _, j := range snap.Admitted {
		if HoldsResources(j) {
			st.addRunning(j)
		}
	}
	flavors := append([]*v1alpha1.Flavor(nil), snap.Flavors...)
	sort.Slice(flavors, func(a, b int) bool { return flavors[a].Name < flavors[b].Name })
	for _, f := range flavors {
		st.indexes[f.Name] = newFlavorIndex(f, st.nodes)
	}
}

// release gives an admitted job's resources back (sign -1) or takes them
// again (sign 1): the what-if step of preemption and backfill.
func (st *state) release(j *jobInfo, sign int64) {
	st.addUsage(j, sign)
	for _, e := range j.placed {
		e.n.apply(e.req, e.p, sign)
	}
}

// Schedule admits every pending job that fits. Queues take turns by
// weighted fair share within their cohorts (lowest share first); within a
// queue jobs go by priority, then arrival. A StrictFIFO queue stops at the
// first job that does not fit; a BestEffortFIFO queue lets later jobs try
// as long as they do not delay a blocked job's reserved start (backfill).
// A job that does not fit may preempt (see preempt.go). now dates running
// jobs' expected ends for backfill.
func Schedule(snap Snapshot, pending []*v1alpha1.Job, now time.Time) Plan {
	return schedule(snap, pending, now, nil)
}

// schedule is Schedule, reading pending jobs through cache when it is not
// nil (see Scheduler).
func schedule(snap Snapshot, pending []*v1alpha1.Job, now time.Time, cache *jobCache) Plan {
	// Building the state (nodes, indexes, admitted jobs) and reading the
	// pending jobs are independent once the queues exist: at cluster scale
	// they run side by side. Neither writes anything the other reads.
	// A Scheduler's cache keeps the state of the last cycle and brings it
	// up to date with what changed (see base.go).
	var st *state
	var prepare func()
	if cache != nil {
		st, prepare = cache.base.begin(snap, now)
	} else {
		st = newState(snap, now)
		prepare = func() { st.addNodes(snap) }
	}
	st.cache = cache
	var failed any
	built := make(chan struct{})
	go func() {
		defer close(built)
		defer func() { failed = recover() }() // re-raised in the caller's goroutine
		prepare()
	}()
	pj := st.readPending(pending)
	<-built
	if failed != nil {
		panic(failed)
	}
	plan := Plan{Waiting: make(map[string]string, len(pending))}
	st.plan = &plan
	st.waiting = newWaitingWriter(plan.Waiting, len(pending) >= parallelMin)
	defer st.waiting.close() // also on a panic: the writer must not outlive the cycle

	pj.queue(st)
	for _, q := range st.queueList {
		for _, qf := range q.flavors {
			qf.fi = st.indexes[qf.name]
		}
	}
	h := make(queueHeap, 0, len(st.queueList))
	for _, q := range st.queueList {
		if len(q.pending) > 0 {
			q.refresh()
			h.push(q)
		}
	}
	for len(h) > 0 {
		q := h[0].q
		j := &q.pending[q.next]
		q.next++
		_, blocks := st.consider(q, j, q.next)
		if blocks {
			q.done = true
			// Jobs of other namespaces learn that a job blocks them, not
			// which one.
			b := st.why[:0]
			var mine, others string
			for i := range q.pending[q.next:] {
				rest := &q.pending[q.next+i]
				if rest.job.Namespace == j.job.Namespace {
					if mine == "" {
						mine = "waiting behind " + j.key + " in StrictFIFO queue " + q.name + "; position "
					}
					b = append(b[:0], mine...)
				} else {
					if others == "" {
						others = "waiting behind a job of another namespace in StrictFIFO queue " + q.name + "; position "
					}
					b = append(b[:0], others...)
				}
				b = strconv.AppendInt(b, int64(q.next+i+1), 10)
				b = append(b, " in queue "...)
				b = append(b, q.name...)
				st.waiting.set(rest.key, st.text.str(b))
			}
			st.why = b
		}
		if q.done || q.next == len(q.pending) {
			h.pop()
			continue
		}
		q.refresh() // the head changed, so its share did
		h[0] = heapEntry(q)
		h.fix(0)
	}
	plan.Admissions = st.admissions()
	for _, qf := range st.held {
		qf.add(qf.held.Scale(-1))
		qf.held = Amounts{}
	}
	for i := len(st.heldRoom) - 1; i >= 0; i-- {
		e := st.heldRoom[i]
		e.n.apply(e.req, e.p, -1)
	}
	st.heldRoom = st.heldRoom[:0]
	for _, qf := range st.quotaRes {
		qf.res = nil
	}
	st.quotaRes = st.quotaRes[:0]
	plan.Usage, plan.Borrowed = st.usageMaps()
	plan.Pending = make(map[string]int32, len(st.queueList))
	for _, q := range st.queueList {
		if len(q.pending) > 0 {
			plan.Pending[q.name] = int32(len(q.pending))
		}
	}
	st.waiting.close()
	if cache != nil {
		cache.base.end(st)
	}
	return plan
}

// admit appends to the plan's admissions. They are gathered in chunks and
// copied out once at the end, which at scale allocates and copies far less
// than growing one slice.
func (st *state) admit(a Admission) {
	if len(st.admChunk) == cap(st.admChunk) {
		if st.admChunk != nil {
			st.admChunks = append(st.admChunks, st.admChunk)
		}
		st.admChunk = make([]Admission, 0, min(1024, 8<<len(st.admChunks)))
	}
	st.admChunk = append(st.admChunk, a)
}

// admissions returns what admit gathered, in order; nil when nothing.
func (st *state) admissions() []Admission {
	if len(st.admChunks) == 0 {
		return st.admChunk
	}
	n := len(st.admChunk)
	for _, c := range st.admChunks {
		n += len(c)
	}
	out := make([]Admission, 0, n)
	for _, c := range st.admChunks {
		out = append(out, c...)
	}
	return append(out, st.admChunk...)
}

// consider tries to admit j, the pos-th job of q, and records the outcome.
// It reports whether j was admitted and whether it blocks the rest of a
// StrictFIFO queue.
func (st *state) consider(q *queueState, j *jobInfo, pos int) (admitted, blocks bool) {
	if !q.allows(j) {
		st.waiting.set(j.key, "namespace "+quote(j.job.Namespace)+" may not submit to queue "+quote(q.name)+": use a queue that lists it in spec.namespaces")
		return false, false
	}
	if m := st.recall(q, j); m != "" {
		return false, st.waitWith(q, j, pos, append(st.why[:0], m...))
	}
	a := st.tryAdmit(q, j)
	if a.ok {
		// The names come from the key, which the cycle reads anyway, rather
		// than from the job object, which it otherwise does not touch.
		ns, name, _ := strings.Cut(j.key, "/")
		st.admit(Admission{Namespace: ns, Name: name,
			Admission: v1alpha1.Admission{Queue: q.name, Flavor: a.flavor, Placements: a.placements}})
		return true, false
	}
	// tryAdmit left its reason in st.why.
	b := st.why
	if msg, ok := st.preempt(q, j); ok {
		b = append(b[:0], msg...)
	} else if a.nodesOnly {
		if msg := st.reserve(q, j); msg != "" {
			b = append(b, "; "...)
			b = append(b, msg...)
		}
	} else {
		st.remember(q, j, b)
		if msg := st.reserveQuota(q, j); msg != "" {
			b = append(b, "; "...)
			b = append(b, msg...)
		}
	}
	return false, st.waitWith(q, j, pos, b)
}

// waitWith records j's waiting reason b with j's position in q, and
// reports whether j blocks the rest of a StrictFIFO queue.
func (st *state) waitWith(q *queueState, j *jobInfo, pos int, b []byte) bool {
	b = append(b, "; position "...)
	b = strconv.AppendInt(b, int64(pos), 10)
	b = append(b, " in queue "...)
	b = append(b, q.name...)
	st.why = b
	st.waiting.set(j.key, st.text.str(b))
	return q.strict
}

type attempt struct {
	ok         bool
	flavor     string
	placements []v1alpha1.Placement
	// nodesOnly: some flavor had quota for the job but no node room, which
	// is what a backfill reservation can help with.
	nodesOnly bool
}

// tryAdmit tries the queue's flavors in order, each at the largest size
// between the elastic minimum and the full size that fits, and commits the
// first that fits to the cycle's state. When none fits, the reason is left
// in st.why.
func (st *state) tryAdmit(q *queueState, j *jobInfo) attempt {
	var a attempt
	b := st.why[:0]
	end := st.expectedEnd(j)
	for _, qf := range q.flavors {
		fi := qf.fi
		if fi == nil {
			b = appendSep(b)
			b = append(b, "flavor "...)
			b = appendQuoted(b, qf.name)
			b = append(b, " does not exist: create it"...)
			continue
		}
		sizes := st.fullSizes(j)
		// Only the last attempt's reason is kept, and a failed attempt
		// leaves the state as it found it, so the reason is rendered once,
		// after the last attempt, from what it recorded.
		var quota, reserved bool
		var req Amounts
		var res string
		var topo bool
		for {
			req = j.request(sizes)
			var ok bool
			if ok, res = qf.fits(req); !ok {
				quota, reserved = true, false
			} else if qf.takesReserved(j, req, end) {
				quota, reserved = true, true
			} else {
				pl := st.placer(fi, j, sizes, end)
				ok, topo = pl.place()
				if ok {
					qf.add(req)
					qf.res.admitted(req, end)
					*q.gen++
					a.ok, a.flavor, a.placements = true, qf.name, pl.placements()
					st.undo.admitted(qf, req, pl.journal, a.placements)
					st.why = b[:0]
					return a
				}
				quota = false
				a.nodesOnly = true
			}
			if !shrink(j, sizes) {
				break
			}
		}
		b = appendSep(b)
		if reserved {
			b = appendReservedReason(b, q, qf, end)
		} else if quota {
			b = st.appendQuotaReason(b, q, qf, req, res)
		} else {
			b = st.appendNodeReason(b, fi, j, sizes, topo)
			if st.reservedIn[fi] && !topo {
				if end.IsZero() {
					b = append(b, " (nodes reserved for a blocked job's start are off limits to jobs that may run past it: declare runPolicy.estimatedSeconds to backfill)"...)
				} else {
					b = append(b, " (nodes reserved for a blocked job's start are off limits to jobs that may run past it, as this one is expected to)"...)
				}
			}
		}
	}
	if len(b) == 0 {
		b = append(b, "queue "...)
		b = appendQuoted(b, q.name)
		b = append(b, " lists no flavors"...)
	}
	st.why = b
	return a
}

// fullSizes returns the job's full size per group in st's scratch slice.
func (st *state) fullSizes(j *jobInfo) []int32 {
	s := st.sizes[:0]
	for _, g := range j.groups() {
		s = append(s, g.replicas)
	}
	st.sizes = s
	return s
}

// placer returns st's placer, reset for one attempt.
func (st *state) placer(fi *flavorIndex, j *jobInfo, sizes []int32, end time.Time) *placer {
	pl := &st.pl
	pl.fi, pl.job, pl.sizes, pl.spread, pl.end = fi, j, sizes, j.spread, end
	pl.journal, pl.gbuf = pl.journal[:0], pl.gbuf[:0]
	pl.next = append(pl.next[:0], make([]int32, len(sizes))...)
	return pl
}

// shrink removes one replica from the elastic group furthest above its
// minimum; false when every group is at its minimum.
func shrink(j *jobInfo, sizes []int32) bool {
	best, room := -1, int32(0)
	groups := j.groups()
	for g := range sizes {
		if r := sizes[g] - groups[g].min; r > room {
			best, room = g, r
		}
	}
	if best < 0 {
		return false
	}
	sizes[best]--
	return true
}

// appendNodeReason appends why a job found no node room in a flavor.
func (st *state) appendNodeReason(b []byte, fi *flavorIndex, j *jobInfo, sizes []int32, topo bool) []byte {
	f := fi.flavor.Name
	if t := j.job.Spec.Topology; topo && t != nil && t.Required != "" {
		if levelIndex(fi.flavor, t.Required) < 0 {
			return append(b, "flavor "+f+" has no topology level "+t.Required+": change spec.topology.required or the flavor's topologyLevels"...)
		}
		b = append(b, "waiting for one "+t.Required+" domain in flavor "+f+" with room for the whole gang ("...)
		b = st.appendSizes(b, j, sizes)
		return append(b, ')')
	}
	b = append(b, "waiting for node room in flavor "...)
	b = append(b, f...)
	b = append(b, " for "...)
	b = st.appendSizes(b, j, sizes)
	b = append(b, ": "...)
	return fi.appendFreeSummary(b)
}

// appendSizes describes an attempt's size, e.g. "2 x gpu=8 cpu=4".
func (st *state) appendSizes(b []byte, j *jobInfo, sizes []int32) []byte {
	for g, n := range sizes {
		if g > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, " x"...)
		r := j.groups()[g].req
		for _, name := range resourceNames {
			if v := r.Get(name); v != 0 {
				b = append(b, ' ')
				b = append(b, name...)
				b = append(b, '=')
				b = st.fmt.appendAmount(b, name, v)
			}
		}
	}
	return b
}

func appendSep(b []byte) []byte {
	if len(b) > 0 {
		b = append(b, "; "...)
	}
	return b
}

func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func quote(s string) string { return `"` + s + `"` }

// allows reports whether q admits j's namespace. The namespace is read
// from j's key, which the walk over q's jobs touches anyway.
func (q *queueState) allows(j *jobInfo) bool {
	if q.allNamespaces {
		return true
	}
	ns, _, _ := strings.Cut(j.key, "/")
	if ns != q.lastNS || q.lastNS == "" {
		q.lastNS, q.lastOK = ns, NamespaceAllowed(q.q, ns)
	}
	return q.lastOK
}

// NamespaceAllowed reports whether a queue admits jobs from ns.
func NamespaceAllowed(q *v1alpha1.Queue, ns string) bool {
	if len(q.Spec.Namespaces) == 0 {
		return true
	}
	for _, n := range q.Spec.Namespaces {
		if n == "*" || n == ns {
			return true
		}
	}
	return false
}

// NodeMatches reports whether a node belongs to a flavor and takes new work.
func NodeMatches(f *v1alpha1.Flavor, n *v1alpha1.Node) bool {
	return !n.Spec.Unschedulable && flavorSelects(f, n)
}

// flavorSelects is NodeMatches whether or not the node is schedulable
// now: feasibility asks whether a job could ever run, and a node cordoned
// or failed for now may come back.
func flavorSelects(f *v1alpha1.Flavor, n *v1alpha1.Node) bool {
	for k, v := range f.Spec.NodeLabels {
		if n.Labels[k] != v {
			return false
		}
	}
	return f.Spec.GPUModel == "" || n.Spec.GPUModel == "" || f.Spec.GPUModel == n.Spec.GPUModel
}
