package scheduler

import (
	"container/heap"
	"sort"
	"time"

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
	// By is the preemptor's namespace/name.
	By      string
	Message string
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
}

// HoldsResources reports whether a job's admission still holds quota and
// node capacity: from admission until it finishes or is suspended.
func HoldsResources(j *v1alpha1.Job) bool {
	if j.Status.Admission == nil {
		return false
	}
	return j.Status.Phase == v1alpha1.JobAdmitted || j.Status.Phase == v1alpha1.JobRunning
}

// Key is the namespace/name key of a job.
func Key(j *v1alpha1.Job) string { return j.Namespace + "/" + j.Name }

// jobInfo is a pending or admitted job with its derived numbers.
type jobInfo struct {
	job    *v1alpha1.Job
	key    string
	groups []groupInfo
	// Admitted jobs only:
	queue    *queueState
	flavor   string
	used     Amounts
	placed   []placed
	evicting bool
	by       string // the preemptor an evicting job makes room for
	start    time.Time
	end      time.Time // expected end; zero when unknown (never frees)
}

type groupInfo struct {
	name          string
	req           Amounts
	replicas, min int32
}

func newJobInfo(j *v1alpha1.Job) *jobInfo {
	ji := &jobInfo{job: j, key: Key(j)}
	for _, g := range j.Spec.ReplicaGroups {
		ji.groups = append(ji.groups, groupInfo{name: g.Name, req: FromResources(g.Template.Resources), replicas: g.Replicas, min: minReplicas(g)})
	}
	return ji
}

func (j *jobInfo) request(sizes []int32) Amounts {
	var a Amounts
	for g, s := range sizes {
		a = a.Add(j.groups[g].req.Scale(int64(s)))
	}
	return a
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
	// reservations made this cycle (backfill); capped to bound the work
	reservations int
}

func newState(snap Snapshot, now time.Time) *state {
	st := &state{now: now, indexes: map[string]*flavorIndex{}, queues: map[string]*queueState{}}
	nodes := append([]*v1alpha1.Node(nil), snap.Nodes...)
	sort.Slice(nodes, func(a, b int) bool { return nodes[a].Name < nodes[b].Name })
	byName := make(map[string]*nodeState, len(nodes))
	for i, n := range nodes {
		ns := newNodeState(i, n)
		st.nodes = append(st.nodes, ns)
		byName[n.Name] = ns
	}
	cohorts := map[string]*cohortState{}
	queues := append([]*v1alpha1.Queue(nil), snap.Queues...)
	sort.Slice(queues, func(a, b int) bool { return queues[a].Name < queues[b].Name })
	for _, q := range queues {
		qs := newQueueState(q, cohorts)
		st.queues[q.Name] = qs
		st.queueList = append(st.queueList, qs)
	}
	// Running jobs take their exact placements (GPU indices and shares)
	// before the indexes are built, so buckets start out right.
	for _, j := range snap.Admitted {
		if !HoldsResources(j) {
			continue
		}
		ji := newJobInfo(j)
		adm := j.Status.Admission
		ji.flavor = adm.Flavor
		ji.used = AdmittedRequest(j)
		if p := j.Status.Preemption; p != nil {
			ji.evicting, ji.by = true, p.By
		}
		if j.Status.StartTime != nil {
			ji.start = j.Status.StartTime.Time
		}
		if d := estimate(j); d > 0 {
			from := now
			if !ji.start.IsZero() {
				from = ji.start
			}
			ji.end = from.Add(d)
		}
		for _, p := range adm.Placements {
			ns, ok := byName[p.Node]
			if !ok {
				continue // the node is gone; so is what ran there
			}
			for g := range ji.groups {
				if ji.groups[g].name == p.Group {
					ji.placed = append(ji.placed, placed{n: ns, g: g, req: ji.groups[g].req, p: p})
					ns.apply(ji.groups[g].req, p, 1)
				}
			}
		}
		if qs := st.queues[adm.Queue]; qs != nil {
			ji.queue = qs
			if qs.flavor(adm.Flavor) != nil {
				qs.admitted = append(qs.admitted, ji)
			}
		}
		st.addUsage(ji, 1)
		st.admitted = append(st.admitted, ji)
	}
	flavors := append([]*v1alpha1.Flavor(nil), snap.Flavors...)
	sort.Slice(flavors, func(a, b int) bool { return flavors[a].Name < flavors[b].Name })
	for _, f := range flavors {
		st.indexes[f.Name] = newFlavorIndex(f, st.nodes)
	}
	return st
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
	st := newState(snap, now)
	plan := Plan{Waiting: make(map[string]string, len(pending))}
	st.plan = &plan

	byQueue := map[string][]*v1alpha1.Job{}
	for _, j := range pending {
		byQueue[j.Spec.Queue] = append(byQueue[j.Spec.Queue], j)
	}
	h := &queueHeap{}
	for qn, jobs := range byQueue {
		sortJobs(jobs)
		q := st.queues[qn]
		if q == nil {
			for _, j := range jobs {
				plan.Waiting[Key(j)] = "queue " + quote(qn) + " does not exist: create it or change spec.queue"
			}
			continue
		}
		q.pending = make([]*jobInfo, len(jobs))
		for i, j := range jobs {
			q.pending[i] = newJobInfo(j)
		}
		q.share = q.computeShare()
		heap.Push(h, q)
	}
	for h.Len() > 0 {
		q := (*h)[0]
		j := q.pending[q.next]
		q.next++
		_, blocks := st.consider(q, j, q.next)
		if blocks {
			q.done = true
			reason := "waiting behind " + j.key + " in StrictFIFO queue " + q.name
			for i, rest := range q.pending[q.next:] {
				plan.Waiting[rest.key] = reason + "; position " + itoa(q.next+i+1) + " in queue " + q.name
			}
		}
		if q.done || q.next == len(q.pending) {
			heap.Pop(h)
			continue
		}
		q.share = q.computeShare() // the head changed, so its share did
		heap.Fix(h, 0)
	}
	plan.Usage, plan.Borrowed = st.usageMaps()
	return plan
}

// consider tries to admit j, the pos-th job of q, and records the outcome.
// It reports whether j was admitted and whether it blocks the rest of a
// StrictFIFO queue.
func (st *state) consider(q *queueState, j *jobInfo, pos int) (admitted, blocks bool) {
	if !NamespaceAllowed(q.q, j.job.Namespace) {
		st.plan.Waiting[j.key] = "namespace " + quote(j.job.Namespace) + " may not submit to queue " + quote(q.name) + ": use a queue that lists it in spec.namespaces"
		return false, false
	}
	a := st.tryAdmit(q, j)
	if a.ok {
		st.plan.Admissions = append(st.plan.Admissions, Admission{Namespace: j.job.Namespace, Name: j.job.Name,
			Admission: v1alpha1.Admission{Queue: q.name, Flavor: a.flavor, Placements: a.placements}})
		return true, false
	}
	reason := a.reason
	if msg, ok := st.preempt(q, j); ok {
		reason = msg
	} else if a.nodesOnly {
		if msg := st.reserve(q, j); msg != "" {
			reason += "; " + msg
		}
	}
	st.plan.Waiting[j.key] = reason + "; position " + itoa(pos) + " in queue " + q.name
	return false, q.strict
}

type attempt struct {
	ok         bool
	flavor     string
	placements []v1alpha1.Placement
	reason     string
	// nodesOnly: some flavor had quota for the job but no node room, which
	// is what a backfill reservation can help with.
	nodesOnly bool
}

// tryAdmit tries the queue's flavors in order, each at the largest size
// between the elastic minimum and the full size that fits, and commits the
// first that fits to the cycle's state.
func (st *state) tryAdmit(q *queueState, j *jobInfo) attempt {
	var a attempt
	end := time.Time{}
	if d := estimate(j.job); d > 0 {
		end = st.now.Add(d)
	}
	for _, qf := range q.flavors {
		fi := st.indexes[qf.name]
		if fi == nil {
			a.reason = join(a.reason, "flavor "+quote(qf.name)+" does not exist: create it")
			continue
		}
		sizes := fullSizes(j)
		var why string
		for {
			req := j.request(sizes)
			if ok, res := qf.fits(req); !ok {
				why = q.quotaReason(qf, req, res)
			} else {
				pl := newPlacer(fi, j, sizes, end)
				ok, topo := pl.place()
				if ok {
					qf.add(req)
					a.ok, a.flavor, a.placements = true, qf.name, pl.placements()
					return a
				}
				a.nodesOnly = true
				why = nodeReason(fi, j, sizes, topo)
				if st.reservations > 0 && !topo {
					why += " (nodes reserved for a blocked job's start are off limits to jobs that may run past it: declare runPolicy.estimatedSeconds to backfill)"
				}
			}
			if !shrink(j, sizes) {
				break
			}
		}
		a.reason = join(a.reason, why)
	}
	if a.reason == "" {
		a.reason = "queue " + quote(q.name) + " lists no flavors"
	}
	return a
}

func fullSizes(j *jobInfo) []int32 {
	s := make([]int32, len(j.groups))
	for g := range j.groups {
		s[g] = j.groups[g].replicas
	}
	return s
}

// shrink removes one replica from the elastic group furthest above its
// minimum; false when every group is at its minimum.
func shrink(j *jobInfo, sizes []int32) bool {
	best, room := -1, int32(0)
	for g := range sizes {
		if r := sizes[g] - j.groups[g].min; r > room {
			best, room = g, r
		}
	}
	if best < 0 {
		return false
	}
	sizes[best]--
	return true
}

func nodeReason(fi *flavorIndex, j *jobInfo, sizes []int32, topo bool) string {
	f := fi.flavor.Name
	if t := j.job.Spec.Topology; topo && t != nil && t.Required != "" {
		if levelIndex(fi.flavor, t.Required) < 0 {
			return "flavor " + f + " has no topology level " + t.Required + ": change spec.topology.required or the flavor's topologyLevels"
		}
		return "waiting for one " + t.Required + " domain in flavor " + f + " with room for the whole gang (" + describeSizes(j, sizes) + ")"
	}
	return "waiting for node room in flavor " + f + " for " + describeSizes(j, sizes) + ": " + fi.freeSummary()
}

func describeSizes(j *jobInfo, sizes []int32) string {
	s := ""
	for g, n := range sizes {
		if g > 0 {
			s += ", "
		}
		s += itoa(int(n)) + " x"
		r := j.groups[g].req
		for _, name := range resourceNames {
			if r.Get(name) != 0 {
				s += " " + name + "=" + r.Format(name)
			}
		}
	}
	return s
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func quote(s string) string { return `"` + s + `"` }

// sortJobs orders by priority (high first), then creation time, then name.
func sortJobs(jobs []*v1alpha1.Job) {
	sort.SliceStable(jobs, func(a, b int) bool {
		ja, jb := jobs[a], jobs[b]
		if ja.Spec.Priority != jb.Spec.Priority {
			return ja.Spec.Priority > jb.Spec.Priority
		}
		ta, tb := ja.CreationTimestamp.Time, jb.CreationTimestamp.Time
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		if ja.Namespace != jb.Namespace {
			return ja.Namespace < jb.Namespace
		}
		return ja.Name < jb.Name
	})
}

// queueHeap orders queues by fair share, then by their head job.
type queueHeap []*queueState

func (h queueHeap) Len() int { return len(h) }
func (h queueHeap) Less(a, b int) bool {
	qa, qb := h[a], h[b]
	if qa.share != qb.share {
		return qa.share < qb.share
	}
	ja, jb := qa.pending[qa.next].job, qb.pending[qb.next].job
	if ja.Spec.Priority != jb.Spec.Priority {
		return ja.Spec.Priority > jb.Spec.Priority
	}
	if ta, tb := ja.CreationTimestamp.Time, jb.CreationTimestamp.Time; !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return qa.name < qb.name
}
func (h queueHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a]; h[a].heapIdx = a; h[b].heapIdx = b }
func (h *queueHeap) Push(x any)   { q := x.(*queueState); q.heapIdx = len(*h); *h = append(*h, q) }
func (h *queueHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	*h = old[:len(old)-1]
	return q
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
	if n.Spec.Unschedulable {
		return false
	}
	for k, v := range f.Spec.NodeLabels {
		if n.Labels[k] != v {
			return false
		}
	}
	return f.Spec.GPUModel == "" || n.Spec.GPUModel == "" || f.Spec.GPUModel == n.Spec.GPUModel
}
