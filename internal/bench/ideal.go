package bench

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/scheduler"
)

// This file replays a scenario through the pure scheduler core in virtual
// time: what the scheduling policy alone yields, without the control
// plane's latencies (store writes, watch delays, cycle time) that a live
// run (RunScheduler) also measures.

// IdealOptions tune RunIdeal. The zero value is the policy-only reference:
// every decision takes effect the instant it is made.
type IdealOptions struct {
	// EvictionDelay is how long a preempted job keeps its resources after
	// its preemption notice lands (its replicas stopping) before it is
	// requeued and the room is free.
	EvictionDelay time.Duration
	// CycleLatency is how long after a cycle its decisions land: an
	// admission is seen (and the job starts) that much later, and an
	// eviction starts that much later. The next cycles already count the
	// decisions, as the live loop's assume cache does.
	CycleLatency time.Duration
}

// IdealDetail says how a Result was replayed; set in Detail by RunIdeal.
type IdealDetail struct {
	// Cycles is how many times the core ran.
	Cycles int
	// PreemptionLoops counts the instants at which the core's plans went
	// round in a circle: with no time passing between a preemption and
	// the victim's release, a cycle returned the admitted jobs to a state
	// an earlier cycle of the same instant had left, so the replay waited
	// for the next event instead of cycling forever. Each such loop cost
	// evictions that free nothing for long; see RunIdeal.
	PreemptionLoops int
	// Preemptions counts the core's preemptions by reason
	// (scheduler.PreemptInQueue, scheduler.PreemptReclaim).
	Preemptions map[string]int
	// LostUnitSeconds is the usage that preempted runs held, from their
	// start to their release, and that their jobs had to run again: the
	// part of the usage integral that finished no work.
	LostUnitSeconds float64
	EvictionDelay   time.Duration
	CycleLatency    time.Duration
}

// idealStart is the virtual t0. Any instant would do; a fixed one keeps
// creation timestamps, and so the output, the same from run to run.
var idealStart = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// maxCyclesPerInstant bounds the cycles run at one virtual instant. Every
// cycle after the first at an instant follows evictions that ended at it,
// and a state that repeats stops the cycling (see replay.run), so reaching
// the bound means the core kept preempting into ever new states: a bug to
// report, not to wait out.
const maxCyclesPerInstant = 10000

// RunIdeal replays setup through the scheduler core the live server uses
// (scheduler.Scheduler), as a discrete-event simulation in virtual time:
// jobs arrive exactly as the live submitter sends them (the n-th job of a
// stream at t0 + n×interval), a cycle runs at every instant where jobs
// arrive, finish or finish being evicted, admitted jobs run for exactly
// their template's runtime, and a preempted job loses its work, goes back
// to pending with its original creation time and runs its whole runtime
// again once readmitted. The same recorder as a live run turns the
// virtual times into the Result, which is therefore comparable number for
// number. The replay is deterministic.
//
// With no eviction delay and no cycle latency, a preemption's victim is
// released at the very instant it was chosen and the core runs again at
// once. The core can then go round in a circle: a queue within its
// nominal quota reclaims a unit from a borrowing queue, the next cycle
// hands the freed unit to another borrowing queue whose head asks for
// less than the reclaiming queue's head, and the reclaimer preempts again.
// The live loop would repeat that at the pace of its evictions; here it
// would repeat forever within one instant. When a cycle leaves the
// admitted jobs as an earlier cycle of the same instant did, the replay
// stops cycling until the next event and counts a preemption loop.
func RunIdeal(setup *Setup, opts IdealOptions) (*Result, error) {
	if setup == nil {
		return nil, errors.New("no setup: build one from a scenario with Build")
	}
	if opts.EvictionDelay < 0 {
		return nil, fmt.Errorf("evictionDelay: %s is negative: give 0 or more", opts.EvictionDelay)
	}
	if opts.CycleLatency < 0 {
		return nil, fmt.Errorf("cycleLatency: %s is negative: give 0 or more", opts.CycleLatency)
	}
	r, err := newReplay(setup, opts)
	if err != nil {
		return nil, err
	}
	end, err := r.run()
	if err != nil {
		return nil, err
	}
	res := newResult(setup, r.rec, r.t0, end)
	res.Detail.Ideal = &IdealDetail{Cycles: r.cycles, PreemptionLoops: r.loops, Preemptions: r.preemptions, LostUnitSeconds: r.lost, EvictionDelay: opts.EvictionDelay, CycleLatency: opts.CycleLatency}
	return res, nil
}

// replayJob is one submitted job and where it stands. obj is its current
// state; it is replaced, never modified, on every change, because the
// core's Scheduler remembers pending jobs by pointer.
type replayJob struct {
	key     string
	hash    uint64 // of key, for state fingerprints
	created int64  // creation time, Unix nanoseconds
	units   float64
	// landedAt is when the current admission landed (the recorder counts
	// its usage from then).
	landedAt time.Time
	obj      *v1alpha1.Job
	runtime  time.Duration
	// pending: the job waits for the core; admitted: it holds resources
	// in the snapshot (its admission was decided); landed: the admission
	// has been seen and the job started; evicting: a preemption notice is
	// out. A finished job is none of these.
	pending, admitted, landed, evicting bool
	// pos is the job's index in replay.admitted while admitted.
	pos int
	// gen counts runs and preemptions, so that the finish event of a run
	// that was preempted is ignored.
	gen int
}

type eventKind int

// Events at one instant are handled in this order: an admission lands
// before an eviction that ends at the same instant (the notice cannot
// precede the admission it revokes).
const (
	evFinish eventKind = iota
	evLand
	evEvicted
	evArrive
)

type replayEvent struct {
	at   time.Time
	kind eventKind
	seq  uint64 // ties: first pushed, first handled
	job  *replayJob
	gen  int
	src  *arrivals // evArrive
}

type eventQueue []replayEvent

func (h eventQueue) Len() int { return len(h) }
func (h eventQueue) Less(a, b int) bool {
	if c := h[a].at.Compare(h[b].at); c != 0 {
		return c < 0
	}
	if h[a].kind != h[b].kind {
		return h[a].kind < h[b].kind
	}
	return h[a].seq < h[b].seq
}
func (h eventQueue) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *eventQueue) Push(x any)   { *h = append(*h, x.(replayEvent)) }
func (h *eventQueue) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// arrivals is one stream's submission schedule: its n-th job (n from 1)
// arrives at t0 + n×Interval, as submitter.stream sends it.
type arrivals struct {
	q  *QueueSetup
	st Stream
	n  int // jobs submitted so far
	// feasible[i] is set once a job of template i passed the feasibility
	// check, which reads only what all of them share: the spec, the
	// namespace and the queue.
	feasible []bool
}

type replay struct {
	opts  IdealOptions
	t0    time.Time
	rec   *recorder
	sched scheduler.Scheduler
	snap  scheduler.Snapshot // nodes, flavors and queues; Admitted per cycle
	jobs  map[string]*replayJob
	total int

	events eventQueue
	seq    uint64
	// pending in the order cycles pass them (creation time, then name);
	// jobs that arrive or are requeued wait in added until the next cycle
	// merges them in. Entries no longer pending are dropped then too.
	pending, added, spare []*replayJob
	admitted              []*replayJob
	finished              int
	end                   time.Time // the last finish
	cycles                int
	// The cycles of the current instant: when it is, how many ran, the
	// fingerprints of the states they left, and whether one repeated.
	instant       time.Time
	instantCycles int
	seen          map[uint64]bool
	looped        bool
	loops         int
	lost          float64 // see IdealDetail.LostUnitSeconds
	preemptions   map[string]int
	// lastWaiting is the last plan's reasons, for a replay that stalls.
	lastWaiting map[string]string
}

func newReplay(setup *Setup, opts IdealOptions) (*replay, error) {
	r := &replay{opts: opts, t0: idealStart, rec: newRecorder(setup), jobs: make(map[string]*replayJob, setup.Total), total: setup.Total, seen: map[uint64]bool{}, preemptions: map[string]int{}}
	// The objects go through the server's defaulting and validation, as
	// createSetup's API calls would.
	flavor := setup.Flavor.DeepCopy()
	if err := defaulted(flavor); err != nil {
		return nil, err
	}
	r.snap.Flavors = []*v1alpha1.Flavor{flavor}
	for _, n := range setup.Nodes {
		n = n.DeepCopy()
		if err := defaulted(n); err != nil {
			return nil, err
		}
		r.snap.Nodes = append(r.snap.Nodes, n)
	}
	for _, qs := range setup.Queues {
		q := qs.Queue.DeepCopy()
		if err := defaulted(q); err != nil {
			return nil, err
		}
		r.snap.Queues = append(r.snap.Queues, q)
		for _, st := range qs.Streams {
			if st.Rounds > 0 && len(st.Jobs) > 0 {
				r.pushArrival(&arrivals{q: qs, st: st, feasible: make([]bool, len(st.Jobs))})
			}
		}
	}
	r.rec.start(r.t0)
	return r, nil
}

func defaulted(o v1alpha1.Object) error {
	v1alpha1.Default(o)
	if err := v1alpha1.Validate(o); err != nil {
		return fmt.Errorf("creating %s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
	}
	return nil
}

func (r *replay) push(ev replayEvent) {
	r.seq++
	ev.seq = r.seq
	heap.Push(&r.events, ev)
}

// pushArrival queues a stream's next job, if it has one left.
func (r *replay) pushArrival(a *arrivals) {
	if a.n >= a.st.Rounds*len(a.st.Jobs) {
		return
	}
	r.push(replayEvent{at: r.t0.Add(time.Duration(a.n+1) * a.st.Interval), kind: evArrive, src: a})
}

// run replays until every job has finished and returns the instant the
// last one did.
func (r *replay) run() (time.Time, error) {
	r.end = r.t0
	for r.finished < r.total {
		if len(r.events) == 0 {
			return r.end, r.stalled()
		}
		now := r.events[0].at
		changed := false
		for len(r.events) > 0 && r.events[0].at.Equal(now) {
			ev := heap.Pop(&r.events).(replayEvent)
			c, err := r.handle(ev)
			if err != nil {
				return r.end, err
			}
			changed = changed || c
		}
		if !changed {
			continue
		}
		if !now.Equal(r.instant) {
			r.instant, r.instantCycles, r.looped = now, 0, false
			clear(r.seen)
		}
		if r.looped {
			continue // the core went round in a circle at this instant
		}
		r.cycle(now)
		r.instantCycles++
		if r.instantCycles > maxCyclesPerInstant {
			return r.end, fmt.Errorf("the replay made no progress: %d cycles at %s after the start kept preempting jobs into new states", maxCyclesPerInstant, now.Sub(r.t0))
		}
		if fp := r.fingerprint(); r.seen[fp] {
			r.looped = true
			r.loops++
		} else {
			r.seen[fp] = true
		}
	}
	return r.end, nil
}

// fingerprint identifies the state a cycle left: which jobs are admitted,
// which of them are being evicted, and how many finished; the rest are
// pending (no job arrives between the cycles of one instant). It sums a
// mix of each job's hash, so the order of the admitted list does not
// matter.
func (r *replay) fingerprint() uint64 {
	fp := uint64(r.finished) * 0x9e3779b97f4a7c15
	for _, j := range r.admitted {
		h := j.hash
		if j.evicting {
			h ^= 0x5bd1e9955bd1e995
		}
		fp += mix64(h)
	}
	return fp
}

// mix64 is the splitmix64 finalizer: it spreads every input bit over the
// output, so that sums of mixed hashes rarely collide.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// handle applies one event and reports whether it calls for a cycle.
func (r *replay) handle(ev replayEvent) (bool, error) {
	switch ev.kind {
	case evArrive:
		return true, r.arrive(ev.src, ev.at)
	case evLand:
		r.land(ev.job, ev.at)
		return false, nil
	case evEvicted:
		r.evicted(ev.job, ev.at)
		return true, nil
	case evFinish:
		j := ev.job
		if ev.gen != j.gen || !j.landed || j.evicting {
			return false, nil // the run was preempted
		}
		r.finish(j, ev.at)
		return true, nil
	}
	return false, fmt.Errorf("unknown replay event %d", ev.kind)
}

// arrive submits a stream's next job at now: the job the live submitter
// creates, defaulted, validated and checked for feasibility as the API
// server does, with its creation time now.
func (r *replay) arrive(a *arrivals, now time.Time) error {
	idx := a.n
	a.n++
	r.pushArrival(a)
	ti := idx % len(a.st.Jobs)
	round, jt := idx/len(a.st.Jobs), a.st.Jobs[ti]
	job := newBenchJob(a.q, a.st, round, jt)
	job.CreationTimestamp = metav1.NewTime(now)
	v1alpha1.Default(job)
	key := job.Namespace + "/" + job.Name
	if err := v1alpha1.Validate(job); err != nil {
		return fmt.Errorf("submitting job %s: %w", key, err)
	}
	if !a.feasible[ti] {
		if err := scheduler.CheckFeasible(job, r.snap); err != nil {
			return fmt.Errorf("submitting job %s: %w", key, err)
		}
		a.feasible[ti] = true
	}
	if _, dup := r.jobs[key]; dup {
		return fmt.Errorf("submitting job %s: the scenario submits it twice", key)
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	j := &replayJob{key: key, hash: h.Sum64(), created: now.UnixNano(), units: jt.Units, obj: job, runtime: jt.Runtime}
	r.jobs[key] = j
	r.rec.submit(key, jt, a.q.Queue.Name, now)
	r.rec.observe(job, now)
	r.addPending(j)
	return nil
}

func (r *replay) addPending(j *replayJob) {
	j.pending = true
	r.added = append(r.added, j)
}

// pendingOrder is the order of the core's input: creation time, then
// namespace/name, so that the input, and so the plan, never depends on
// the order events were handled in.
func pendingOrder(a, b *replayJob) int {
	if c := cmp.Compare(a.created, b.created); c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// sortPending merges the jobs added since the last cycle into the
// pending order and drops those admitted since.
func (r *replay) sortPending() {
	slices.SortFunc(r.added, pendingOrder)
	out := r.spare[:0]
	old, add := r.pending, r.added
	for len(old) > 0 || len(add) > 0 {
		var j *replayJob
		if len(add) == 0 || len(old) > 0 && pendingOrder(old[0], add[0]) <= 0 {
			j, old = old[0], old[1:]
		} else {
			j, add = add[0], add[1:]
		}
		if j.pending {
			out = append(out, j)
		}
	}
	r.spare, r.pending = r.pending, out
	r.added = r.added[:0]
}

// cycle runs the core once at now and applies its plan.
func (r *replay) cycle(now time.Time) {
	r.sortPending()
	pending := make([]*v1alpha1.Job, len(r.pending))
	for i, j := range r.pending {
		pending[i] = j.obj
	}
	snap := r.snap
	snap.Admitted = make([]*v1alpha1.Job, len(r.admitted))
	for i, j := range r.admitted {
		snap.Admitted[i] = j.obj
	}
	plan := r.sched.Schedule(snap, pending, now)
	r.cycles++
	r.lastWaiting = plan.Waiting
	for _, a := range plan.Admissions {
		if j := r.jobs[a.Namespace+"/"+a.Name]; j != nil && j.pending {
			r.admit(j, a.Admission, now)
		}
	}
	for _, p := range plan.Preemptions {
		if j := r.jobs[p.Namespace+"/"+p.Name]; j != nil {
			r.preempt(j, p, now)
		}
	}
	// As the committer does: each preemptor is nominated to the flavor
	// it makes room in.
	for key, flavor := range plan.Nominations() {
		if j := r.jobs[key]; j != nil && j.pending && j.obj.Status.NominatedFlavor != flavor {
			obj := j.obj.DeepCopy()
			obj.Status.NominatedFlavor = flavor
			j.obj = obj
		}
	}
}

// admit applies an admission decided at now: the job holds its resources
// from now on and starts when the admission lands.
func (r *replay) admit(j *replayJob, adm v1alpha1.Admission, now time.Time) {
	obj := j.obj.DeepCopy()
	obj.Status.Admission = &adm
	obj.Status.Phase = v1alpha1.JobAdmitted
	obj.Status.NominatedFlavor = ""
	j.obj = obj
	j.pending = false
	j.admitted = true
	j.pos = len(r.admitted)
	r.admitted = append(r.admitted, j)
	if r.opts.CycleLatency == 0 {
		r.land(j, now)
		return
	}
	r.push(replayEvent{at: now.Add(r.opts.CycleLatency), kind: evLand, job: j})
}

// land makes an admission seen at now and starts the job, unless it was
// preempted in the meantime, in which case it never starts. Like the job
// controller, the start time is the first run's.
func (r *replay) land(j *replayJob, now time.Time) {
	if !j.admitted || j.landed {
		return
	}
	j.landed, j.landedAt = true, now
	if !j.evicting {
		obj := j.obj.DeepCopy()
		obj.Status.Phase = v1alpha1.JobRunning
		if obj.Status.StartTime == nil {
			t := metav1.NewTime(now)
			obj.Status.StartTime = &t
		}
		j.obj = obj
		j.gen++
		r.push(replayEvent{at: now.Add(j.runtime), kind: evFinish, job: j, gen: j.gen})
	}
	r.rec.observe(j.obj, now)
}

// preempt applies a preemption decided at now as the live committer does:
// the victim carries the notice (so later cycles count it as freeing, not
// as a candidate) and keeps its resources until its eviction ends, after
// the cycle latency and the eviction delay. Its run is lost.
func (r *replay) preempt(j *replayJob, p scheduler.Preemption, now time.Time) {
	if !j.admitted || j.evicting {
		return
	}
	r.preemptions[p.Reason]++
	notice := controller.PreemptionNotice(j.obj.Namespace, p, now)
	obj := j.obj.DeepCopy()
	obj.Status.Preemption = &notice
	j.obj = obj
	j.evicting = true
	j.gen++ // its finish no longer counts
	r.push(replayEvent{at: now.Add(r.opts.CycleLatency + r.opts.EvictionDelay), kind: evEvicted, job: j})
}

// evicted requeues a preempted job at now as the job controller does: the
// notice is cleared, the preemption counted, the admission released and
// the job pending again with its original creation time.
func (r *replay) evicted(j *replayJob, now time.Time) {
	obj := j.obj.DeepCopy()
	st := &obj.Status
	if j.landed && st.Phase == v1alpha1.JobRunning {
		st.Attempt++ // a new attempt's replicas get new names
	}
	if j.landed {
		r.lost += j.units * now.Sub(j.landedAt).Seconds()
	}
	st.Preemption = nil
	st.Preemptions++
	st.Phase = v1alpha1.JobPending
	st.Admission = nil
	j.obj = obj
	r.release(j)
	r.rec.observe(obj, now)
	r.addPending(j)
}

// finish ends a job's run at now: it succeeded.
func (r *replay) finish(j *replayJob, now time.Time) {
	obj := j.obj.DeepCopy()
	obj.Status.Phase = v1alpha1.JobSucceeded
	t := metav1.NewTime(now)
	obj.Status.CompletionTime = &t
	j.obj = obj
	r.release(j)
	r.finished++
	r.end = now
	r.rec.observe(obj, now)
}

// release takes j out of the admitted jobs.
func (r *replay) release(j *replayJob) {
	last := len(r.admitted) - 1
	moved := r.admitted[last]
	r.admitted[j.pos] = moved
	moved.pos = j.pos
	r.admitted = r.admitted[:last]
	j.admitted, j.landed, j.evicting = false, false, false
}

// stalled explains why jobs remain pending when nothing more can happen.
func (r *replay) stalled() error {
	r.sortPending()
	stuck := r.pending
	if len(stuck) == 0 {
		return fmt.Errorf("the replay stopped with %d of %d jobs finished and none pending", r.finished, r.total)
	}
	first := stuck[0]
	reason := r.lastWaiting[first.key]
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Errorf("%d jobs can never be admitted (a live run would wait for them until its --timeout); first %s: %s", len(stuck), first.key, reason)
}
