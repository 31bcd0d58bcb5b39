package sim

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/sim/trace"
)

// Options tune a replay.
type Options struct {
	// RestartPenalty is the time, in seconds, a job loses each time it
	// starts again after a preemption or a node failure (checkpoint
	// reload, warm-up); its progress up to the stop is kept.
	RestartPenalty float64
	// NodeMTBF, when positive, makes every node fail after exponentially
	// distributed times with this mean (seconds); a failed node takes no
	// work for NodeRepair seconds and the jobs on it start again.
	NodeMTBF, NodeRepair float64
	Seed                 uint64
	// Interval, when positive, is the scheduling period in seconds: the
	// core runs at most once per period, at multiples of it, on whatever
	// changed since (arrivals and completions keep their exact times).
	// Zero runs the core at every instant something changed. Like the
	// live server's cycle or Gavel's rounds, a period trades a little
	// queueing delay (half a period on average) for far fewer cycles.
	Interval float64
	// OnPreempt, when set, is told of every preemption: when, the
	// victim's and the preemptor's trace IDs.
	OnPreempt func(t float64, victim, by string)
	// Progress, when set, is called now and then with jobs finished and
	// jobs in all.
	Progress func(done, total int)
}

// job states
const (
	waiting = iota
	running
	done
	rejected
)

type simJob struct {
	tj  *trace.Job
	job *v1alpha1.Job
	idx int
	// state and where the job sits in the pending or running list
	state, pos int
	gen        int // bumped at every start and stop: stale events are ignored
	// remaining is the fraction of the work left; the current run holds
	// resources since runFrom and progresses from workFrom (after the
	// restart penalty) at 1/dur per second.
	remaining, runFrom, workFrom, dur float64
	gpuMilli                          int64
	attained                          float64 // GPU-seconds held by earlier runs
	level                             int32   // LAS level, as the core reads it
	prio                              int32   // priority when it joined the pending order
	firstStart, finish                float64
	waitSince, waited                 float64
	starts, preemptions               int
	nodes                             []int
}

type event struct {
	t    float64
	kind int
	j    *simJob
	node int
	gen  int
}

const (
	evFinish = iota
	evDemote
	evFail
	evRepair
)

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(a, b int) bool {
	if h[a].t != h[b].t {
		return h[a].t < h[b].t
	}
	return h[a].kind < h[b].kind
}
func (h eventHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type engine struct {
	p   Policy
	opt Options
	c   *cluster
	// sched is the core. It keeps its cycle state and what it read of
	// each pending job between cycles, and finds what changed by object
	// identity, so the engine never modifies a job or node it has passed
	// to it: a changed one is a new object (see changed), as informers
	// hand them out to the live server. snap keeps its admitted jobs at
	// stable positions (a job that stops is swapped with the last), which
	// is what makes the core's comparison cheap.
	sched   scheduler.Scheduler
	snap    scheduler.Snapshot
	jobs    []*simJob
	byName  map[string]*simJob
	pending []*v1alpha1.Job
	pendJ   []*simJob
	runJ    []*simJob
	events  eventHeap
	now     float64
	rng     *rand.Rand
	// gating: what changed since the last cycle
	freed, arrived, prio bool
	minArrival           int64
	pendingSizes         map[int64]int
	usedGPU, upGPU       int64
	nodeDown             []bool
	nodeJobs             [][]*simJob
	down                 int
	res                  *Result
	finished             int
	series               []Point
	tick                 float64 // next scheduling instant (Interval > 0); -1: none
	// candidates' state: whether estimates are in play, scratch slices,
	// running GPUs by priority and by queue, a queue's nominal GPUs.
	estimates  bool
	allPending bool // tests: pass every pending job to the core
	freshCore  bool // tests: call the core without a Scheduler (state built per cycle)
	scratch    []*v1alpha1.Job
	order      ordered        // single-queue policies only
	byRank     map[rank]int64 // running GPUs per queue, priority and level
	below      map[rank]int64 // preemptable's within-queue sums, per cycle
	belowOther map[rank]int64 // and those of the other queues
	byQueue    map[string]int64
	nominalGPU int64
}

// Run replays jobs (sorted by Submit) on nodes under policy p.
func Run(jobs []trace.Job, nodes []trace.Node, p Policy, opt Options) (*Result, error) {
	if opt.Interval < 0 || math.IsNaN(opt.Interval) {
		return nil, fmt.Errorf("interval %g: give 0 (every event) or a positive period", opt.Interval)
	}
	e, err := newEngine(jobs, nodes, p, opt)
	if err != nil {
		return nil, err
	}
	e.loop()
	e.res.finish(e)
	return e.res, nil
}

func newEngine(jobs []trace.Job, nodes []trace.Node, p Policy, opt Options) (*engine, error) {
	c, err := newCluster(nodes, jobs)
	if err != nil {
		return nil, err
	}
	e := &engine{p: p, opt: opt, c: c, byName: make(map[string]*simJob, len(jobs)), pendingSizes: map[int64]int{},
		rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x5eed)), res: &Result{Policy: p.Name}, tick: -1}
	tenants := tenantsOf(jobs)
	e.snap = scheduler.Snapshot{Nodes: c.nodes, Flavors: c.flavors, Queues: c.queues(&p, tenants)}
	e.upGPU = c.totalGPU
	e.byRank, e.below, e.belowOther, e.byQueue = map[rank]int64{}, map[rank]int64{}, map[rank]int64{}, map[string]int64{}
	e.nominalGPU = c.totalGPU
	if p.PerTenant {
		e.nominalGPU = c.totalGPU / int64(max(1, len(tenants)))
	}
	e.estimates = p.OracleEstimates
	for i := range jobs {
		if p.TraceEstimates && jobs[i].Estimate > 0 {
			e.estimates = true
		}
	}
	e.minArrival = math.MaxInt64
	e.nodeDown = make([]bool, len(c.nodes))
	if opt.NodeMTBF > 0 {
		e.nodeJobs = make([][]*simJob, len(c.nodes))
		for i := range c.nodes {
			heap.Push(&e.events, event{t: e.rng.ExpFloat64() * opt.NodeMTBF, kind: evFail, node: i})
		}
	}
	// The core's feasibility check reads a job's namespace, queue and
	// replica group (size and request), which many jobs share; it builds
	// every queue's quota state per call, so it runs once per such shape.
	type shape struct {
		ns, queue          string
		replicas           int32
		gpu, cpu, memoryMi int64
	}
	feasible := map[shape]error{}
	for i := range jobs {
		tj := &jobs[i]
		sj := &simJob{tj: tj, idx: i, remaining: 1, firstStart: -1, gpuMilli: tj.GPUMilli * int64(tj.Replicas)}
		sj.job = newJob(i, tj, &p)
		k := shape{sj.job.Namespace, sj.job.Spec.Queue, tj.Replicas, tj.GPUMilli, tj.CPUMilli, tj.MemoryMiB}
		err, known := feasible[k]
		if !known {
			err = scheduler.CheckFeasible(sj.job, e.snap)
			feasible[k] = err
		}
		if err != nil {
			sj.state = rejected
			e.res.Rejected = append(e.res.Rejected, fmt.Sprintf("%s (%s, %g GPUs): %v", tj.ID, tj.Tenant, tj.GPUs(), err))
			continue
		}
		e.jobs = append(e.jobs, sj)
		e.byName[sj.job.Name] = sj
	}
	return e, nil
}

func tenantsOf(jobs []trace.Job) []string {
	seen := map[string]bool{}
	var out []string
	for i := range jobs {
		if !seen[jobs[i].Tenant] {
			seen[jobs[i].Tenant] = true
			out = append(out, jobs[i].Tenant)
		}
	}
	sort.Strings(out)
	return out
}

func (e *engine) loop() {
	next := 0 // next arrival
	total := len(e.jobs)
	lastReport := -1
	for next < total || len(e.runJ) > 0 || len(e.pendJ) > 0 {
		t := math.Inf(1)
		if next < total {
			t = e.jobs[next].tj.Submit
		}
		if len(e.events) > 0 && e.events[0].t < t {
			t = e.events[0].t
		}
		if e.tick >= 0 && e.tick < t {
			t = e.tick
		}
		if math.IsInf(t, 1) {
			// Pending jobs remain but nothing will ever change.
			for _, sj := range e.pendJ {
				e.res.Stuck = append(e.res.Stuck, sj.tj.ID)
			}
			return
		}
		if len(e.runJ) == 0 && next == total && e.down == 0 && e.tick < 0 && e.onlyFailures() && len(e.pendJ) > 0 {
			for _, sj := range e.pendJ {
				e.res.Stuck = append(e.res.Stuck, sj.tj.ID)
			}
			return
		}
		e.now = t
		for next < total && e.jobs[next].tj.Submit == t {
			e.arrive(e.jobs[next])
			next++
		}
		for len(e.events) > 0 && e.events[0].t == t {
			e.handle(heap.Pop(&e.events).(event))
		}
		if e.opt.Interval <= 0 {
			e.cycle()
		} else if e.tick >= 0 && t >= e.tick {
			e.tick = -1
			e.cycle()
		} else if e.tick < 0 && e.needCycle() {
			e.tick = math.Ceil(t/e.opt.Interval) * e.opt.Interval
			if e.tick <= t {
				e.tick = -1
				e.cycle()
			}
		}
		e.record()
		if e.opt.Progress != nil && e.finished/1000 != lastReport {
			lastReport = e.finished / 1000
			e.opt.Progress(e.finished, total)
		}
	}
	if e.opt.Progress != nil {
		e.opt.Progress(e.finished, total)
	}
}

// onlyFailures reports whether the event queue holds nothing but future
// node failures (which free nothing).
func (e *engine) onlyFailures() bool {
	for _, ev := range e.events {
		if ev.kind != evFail {
			return false
		}
	}
	return true
}

func (e *engine) arrive(sj *simJob) {
	sj.waitSince = e.now
	e.addPending(sj)
	e.arrived = true
	e.minArrival = min(e.minArrival, sj.gpuMilli)
}

func (e *engine) addPending(sj *simJob) {
	sj.state, sj.pos = waiting, len(e.pendJ)
	e.pendJ = append(e.pendJ, sj)
	e.pending = append(e.pending, sj.job)
	e.pendingSizes[sj.gpuMilli]++
	if !e.p.PerTenant {
		e.order.add(sj)
	}
}

func (e *engine) removePending(sj *simJob) {
	last := len(e.pendJ) - 1
	moved := e.pendJ[last]
	e.pendJ[sj.pos], e.pending[sj.pos] = moved, moved.job
	moved.pos = sj.pos
	e.pendJ, e.pending = e.pendJ[:last], e.pending[:last]
	if e.pendingSizes[sj.gpuMilli]--; e.pendingSizes[sj.gpuMilli] == 0 {
		delete(e.pendingSizes, sj.gpuMilli)
	}
	if !e.p.PerTenant {
		e.order.remove(sj)
	}
}

func (e *engine) removeRunning(sj *simJob) {
	last := len(e.runJ) - 1
	moved := e.runJ[last]
	e.runJ[sj.pos], e.snap.Admitted[sj.pos] = moved, moved.job
	moved.pos = sj.pos
	e.runJ, e.snap.Admitted = e.runJ[:last], e.snap.Admitted[:last]
}

func (e *engine) handle(ev event) {
	switch ev.kind {
	case evFinish:
		sj := ev.j
		if sj.gen != ev.gen || sj.state != running {
			return
		}
		e.stop(sj)
		sj.remaining = 0
		sj.state, sj.finish = done, e.now
		sj.job.Status.Phase = v1alpha1.JobSucceeded
		e.finished++
		e.freed = true
	case evDemote:
		sj := ev.j
		if sj.gen != ev.gen || sj.state != running {
			return
		}
		// The core derives the level from the admission's time; this
		// only says when to run it (as the live loop's periodic cycle).
		e.tally(sj, -1)
		sj.level++
		e.tally(sj, 1)
		e.prio = true
		e.scheduleDemotion(sj)
	case evFail:
		n := ev.node
		e.nodeDown[n] = true
		e.down++
		e.setUnschedulable(n, true)
		e.upGPU -= e.c.nodes[n].Spec.Capacity.GPU.Value() * 1000
		victims := e.nodeJobs[n]
		e.nodeJobs[n] = nil
		for _, sj := range victims {
			if sj.state == running && containsInt(sj.nodes, n) {
				e.res.Failures++
				e.requeue(sj)
			}
		}
		heap.Push(&e.events, event{t: e.now + e.opt.NodeRepair, kind: evRepair, node: n})
	case evRepair:
		n := ev.node
		e.nodeDown[n] = false
		e.down--
		e.setUnschedulable(n, false)
		e.upGPU += e.c.nodes[n].Spec.Capacity.GPU.Value() * 1000
		e.freed = true
		heap.Push(&e.events, event{t: e.now + e.rng.ExpFloat64()*e.opt.NodeMTBF, kind: evFail, node: n})
	}
}

// setUnschedulable marks node n down or up again, in a new object.
func (e *engine) setUnschedulable(n int, v bool) {
	node := *e.c.nodes[n]
	node.Spec.Unschedulable = v
	e.c.nodes[n] = &node // snap.Nodes too: they share the array
}

// changed replaces sj's job with a copy for the caller to modify, where
// the engine lists it (pending or running), and returns the copy.
func (e *engine) changed(sj *simJob) *v1alpha1.Job {
	j := *sj.job
	sj.job = &j
	switch sj.state {
	case waiting:
		e.pending[sj.pos] = &j
	case running:
		e.snap.Admitted[sj.pos] = &j
	}
	return &j
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// stop ends a job's current run at e.now: it gives back its resources and
// keeps the progress made.
func (e *engine) stop(sj *simJob) {
	held := e.now - sj.runFrom
	sj.attained += held * float64(sj.gpuMilli) / 1000
	if e.now > sj.workFrom && sj.dur > 0 {
		sj.remaining = math.Max(0, sj.remaining-(e.now-sj.workFrom)/sj.dur)
	}
	e.removeRunning(sj)
	e.tally(sj, -1)
	e.usedGPU -= sj.gpuMilli
	sj.gen++
	sj.state = done // listed nowhere until the caller says what follows
	j := e.changed(sj)
	// What the job controller records when it releases an admission.
	j.Status.AttainedGPUSeconds = int64(math.Round(sj.attained))
	sj.level = scheduler.AttainedLevel(e.p.LAS, float64(j.Status.AttainedGPUSeconds))
	j.Status.Admission = nil
	j.Status.StartTime = nil
	e.res.busy += held * float64(sj.gpuMilli) / 1000
}

// requeue stops a running job and makes it pending again.
func (e *engine) requeue(sj *simJob) {
	e.stop(sj)
	sj.job.Status.Phase = v1alpha1.JobPending
	sj.waitSince = e.now
	e.addPending(sj)
	e.freed = true
}

// needCycle decides whether the core could admit or preempt anything now:
// a cheap necessary condition, so that a trace of 100,000 jobs does not
// run a cycle per arrival when nothing could fit.
func (e *engine) needCycle() bool {
	if len(e.pendJ) == 0 {
		return false
	}
	preempts := e.p.WithinQueue != "" || e.p.Reclaim != ""
	if e.prio && preempts {
		return true
	}
	free := e.upGPU - e.usedGPU
	if e.freed {
		if preempts {
			return true
		}
		for size := range e.pendingSizes {
			if size <= free {
				return true
			}
		}
		return false
	}
	if e.arrived {
		return preempts || e.minArrival <= free
	}
	return false
}

// cycle runs the core until its plan changes nothing more at this instant.
func (e *engine) cycle() {
	for round := 0; round < 64 && e.needCycle(); round++ {
		e.freed, e.arrived, e.prio = false, false, false
		e.minArrival = math.MaxInt64
		var plan scheduler.Plan
		if e.freshCore {
			plan = scheduler.Schedule(e.snap, e.candidates(), at(e.now))
		} else {
			plan = e.sched.Schedule(e.snap, e.candidates(), at(e.now))
		}
		e.res.Cycles++
		for _, a := range plan.Admissions {
			e.start(e.byName[a.Name], a.Admission)
		}
		for _, p := range plan.Preemptions {
			sj := e.byName[p.Name]
			if sj == nil || sj.state != running {
				continue
			}
			sj.preemptions++
			e.res.Preemptions++
			if e.opt.OnPreempt != nil {
				by := p.By
				if _, name, ok := strings.Cut(p.By, "/"); ok && e.byName[name] != nil {
					by = e.byName[name].tj.ID
				}
				e.opt.OnPreempt(e.now, sj.tj.ID, by)
			}
			e.requeue(sj)               // the victim stops at once in simulated time
			sj.job.Status.Preemptions++ // a new object, not yet passed to the core
		}
		if len(plan.Preemptions) == 0 {
			break
		}
	}
	e.freed, e.arrived, e.prio = false, false, false
}

func (e *engine) start(sj *simJob, adm v1alpha1.Admission) {
	e.removePending(sj)
	sj.waited += e.now - sj.waitSince
	model := adm.Flavor
	d, ok := sj.tj.DurationOn(model)
	if !ok {
		// The core has no per-job flavor constraint: a job admitted on a
		// model the trace has no duration for runs at its slowest known one.
		d = slowest(sj.tj)
		e.res.OffModel++
	}
	penalty := 0.0
	if sj.starts > 0 {
		penalty = e.opt.RestartPenalty
	}
	sj.starts++
	if sj.firstStart < 0 {
		sj.firstStart = e.now
	}
	sj.state, sj.pos = running, len(e.runJ)
	sj.dur, sj.runFrom, sj.workFrom = d, e.now, e.now+penalty
	sj.gen++
	j := *sj.job // a new object: the old one was passed to the core as pending
	sj.job = &j
	j.Status.Phase = v1alpha1.JobRunning
	st := metav1.NewTime(at(e.now))
	adm.Time = &st
	j.Status.Admission = &adm
	j.Status.StartTime = &st
	e.runJ = append(e.runJ, sj)
	e.snap.Admitted = append(e.snap.Admitted, sj.job)
	e.usedGPU += sj.gpuMilli
	e.tally(sj, 1)
	heap.Push(&e.events, event{t: sj.workFrom + sj.remaining*d, kind: evFinish, j: sj, gen: sj.gen})
	if e.p.LAS != nil {
		e.scheduleDemotion(sj)
	}
	if e.nodeJobs != nil {
		sj.nodes = sj.nodes[:0]
		for _, pl := range adm.Placements {
			if n, ok := e.c.nodeIdx[pl.Node]; ok && !containsInt(sj.nodes, n) {
				sj.nodes = append(sj.nodes, n)
				e.nodeJobs[n] = append(e.nodeJobs[n], sj)
			}
		}
	}
}

// scheduleDemotion queues the moment a running job's attained service
// crosses its next LAS threshold, a millisecond late so that the core,
// which reads the admission's time at nanosecond precision, sees the new
// level.
func (e *engine) scheduleDemotion(sj *simJob) {
	th := e.p.LAS.ThresholdsGPUSeconds
	if int(sj.level) >= len(th) || sj.gpuMilli == 0 {
		return
	}
	g := float64(sj.gpuMilli) / 1000
	attainedNow := float64(sj.job.Status.AttainedGPUSeconds) + (e.now-sj.runFrom)*g
	t := e.now + math.Max(0, float64(th[sj.level])-attainedNow)/g + 1e-3
	heap.Push(&e.events, event{t: t, kind: evDemote, j: sj, gen: sj.gen})
}

func slowest(tj *trace.Job) float64 {
	d := tj.Duration
	for _, v := range tj.Durations {
		d = max(d, v)
	}
	return d
}

// record appends a point of the utilization and queue series when either
// changed.
func (e *engine) record() {
	p := Point{T: e.now, BusyGPUs: float64(e.usedGPU) / 1000, Queued: len(e.pendJ)}
	if n := len(e.series); n > 0 {
		last := &e.series[n-1]
		if last.BusyGPUs == p.BusyGPUs && last.Queued == p.Queued {
			return
		}
		if last.T == p.T {
			*last = p
			return
		}
	}
	e.series = append(e.series, p)
}
