package scheduler

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// Snapshot is the state the core decides on. Callers pass copies; the core
// does not modify them.
type Snapshot struct {
	Nodes   []*v1alpha1.Node
	Flavors []*v1alpha1.Flavor
	Queues  []*v1alpha1.Queue
	// Admitted are the jobs that hold resources (see HoldsResources).
	Admitted []*v1alpha1.Job
}

// Admission is one job the plan admits.
type Admission struct {
	Namespace, Name string
	Admission       v1alpha1.Admission
}

// Plan is the core's decision for one cycle.
type Plan struct {
	Admissions []Admission
	// Waiting says, per pending job key (namespace/name), why it still waits.
	Waiting map[string]string
	// Usage is each queue's usage per flavor once the plan is applied.
	Usage map[string]map[string]Amounts
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

// Schedule admits every pending job that fits, queue by queue, in priority
// then arrival order. A StrictFIFO queue stops at the first job that does
// not fit; a BestEffortFIFO queue lets later jobs try. now is unused by this
// policy and kept so that time-aware policies share the signature.
func Schedule(snap Snapshot, pending []*v1alpha1.Job, now time.Time) Plan {
	_ = now
	st := newState(snap)
	plan := Plan{Waiting: map[string]string{}}

	byQueue := map[string][]*v1alpha1.Job{}
	for _, j := range pending {
		byQueue[j.Spec.Queue] = append(byQueue[j.Spec.Queue], j)
	}
	queueNames := make([]string, 0, len(byQueue))
	for q := range byQueue {
		queueNames = append(queueNames, q)
	}
	sort.Strings(queueNames)

	for _, qn := range queueNames {
		jobs := byQueue[qn]
		sortJobs(jobs)
		q, ok := st.queues[qn]
		if !ok {
			for _, j := range jobs {
				plan.Waiting[Key(j)] = fmt.Sprintf("queue %q does not exist: create it or change spec.queue", qn)
			}
			continue
		}
		blocked := ""
		for _, j := range jobs {
			if blocked != "" {
				plan.Waiting[Key(j)] = blocked
				continue
			}
			if !NamespaceAllowed(q, j.Namespace) {
				plan.Waiting[Key(j)] = fmt.Sprintf("namespace %q may not submit to queue %q", j.Namespace, qn)
				continue
			}
			adm, reason := st.tryAdmit(q, j)
			if adm == nil {
				plan.Waiting[Key(j)] = reason
				if q.Spec.QueueingStrategy != v1alpha1.BestEffortFIFO {
					blocked = fmt.Sprintf("waiting behind %s in StrictFIFO queue %q", j.Name, qn)
				}
				continue
			}
			plan.Admissions = append(plan.Admissions, Admission{Namespace: j.Namespace, Name: j.Name, Admission: *adm})
		}
	}
	plan.Usage = st.usage
	return plan
}

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
		return Key(ja) < Key(jb)
	})
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

// nodeState is a node's remaining room during one cycle.
type nodeState struct {
	node     *v1alpha1.Node
	free     Amounts
	freeGPUs []int32 // ascending device indices
}

type state struct {
	nodes   []*nodeState
	flavors map[string]*v1alpha1.Flavor
	queues  map[string]*v1alpha1.Queue
	usage   map[string]map[string]Amounts // queue -> flavor -> used
}

func newState(snap Snapshot) *state {
	st := &state{
		flavors: map[string]*v1alpha1.Flavor{},
		queues:  map[string]*v1alpha1.Queue{},
		usage:   map[string]map[string]Amounts{},
	}
	for _, f := range snap.Flavors {
		st.flavors[f.Name] = f
	}
	for _, q := range snap.Queues {
		st.queues[q.Name] = q
		st.usage[q.Name] = map[string]Amounts{}
	}
	byName := map[string]*nodeState{}
	nodes := append([]*v1alpha1.Node(nil), snap.Nodes...)
	sort.Slice(nodes, func(a, b int) bool { return nodes[a].Name < nodes[b].Name })
	for _, n := range nodes {
		ns := &nodeState{node: n, free: FromResources(n.Spec.Capacity), freeGPUs: gpuIndices(n)}
		st.nodes = append(st.nodes, ns)
		byName[n.Name] = ns
	}
	for _, j := range snap.Admitted {
		if !HoldsResources(j) {
			continue
		}
		adm := j.Status.Admission
		if u, ok := st.usage[adm.Queue]; ok {
			u[adm.Flavor] = u[adm.Flavor].Add(JobRequest(j))
		}
		req := groupRequests(j)
		for _, p := range adm.Placements {
			ns, ok := byName[p.Node]
			if !ok {
				continue
			}
			ns.free = ns.free.Sub(req[p.Group])
			ns.freeGPUs = without(ns.freeGPUs, p.GPUs)
		}
	}
	return st
}

func gpuIndices(n *v1alpha1.Node) []int32 {
	var out []int32
	if len(n.Status.GPUs) > 0 {
		for _, g := range n.Status.GPUs {
			out = append(out, g.Index)
		}
	} else if n.Spec.Capacity.GPU != nil {
		for i := int64(0); i < n.Spec.Capacity.GPU.Value(); i++ {
			out = append(out, int32(i))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func without(list, remove []int32) []int32 {
	drop := map[int32]bool{}
	for _, r := range remove {
		drop[r] = true
	}
	out := list[:0:0]
	for _, v := range list {
		if !drop[v] {
			out = append(out, v)
		}
	}
	return out
}

func groupRequests(j *v1alpha1.Job) map[string]Amounts {
	out := map[string]Amounts{}
	for _, g := range j.Spec.ReplicaGroups {
		out[g.Name] = FromResources(g.Template.Resources)
	}
	return out
}

// tryAdmit finds the first flavor of q with quota and node room for the
// whole gang and commits it to the cycle's state.
func (st *state) tryAdmit(q *v1alpha1.Queue, j *v1alpha1.Job) (*v1alpha1.Admission, string) {
	req := JobRequest(j)
	var reasons []string
	for _, fq := range q.Spec.Flavors {
		flavor, ok := st.flavors[fq.Name]
		if !ok {
			reasons = append(reasons, fmt.Sprintf("flavor %q does not exist", fq.Name))
			continue
		}
		used := st.usage[q.Name][fq.Name]
		quota := Quota(fq)
		if ok, res := used.Add(req).Fits(quota); !ok {
			reasons = append(reasons, fmt.Sprintf("queue %q has %s of %s %s free in flavor %q, the job needs %s",
				q.Name, quota.Sub(used).Format(res), quota.Format(res), res, fq.Name, req.Format(res)))
			continue
		}
		placements, why := st.place(flavor, j)
		if placements == nil {
			reasons = append(reasons, why)
			continue
		}
		st.usage[q.Name][fq.Name] = used.Add(req)
		return &v1alpha1.Admission{Queue: q.Name, Flavor: fq.Name, Placements: placements}, ""
	}
	if len(reasons) == 0 {
		return nil, fmt.Sprintf("queue %q lists no flavors", q.Name)
	}
	return nil, strings.Join(reasons, "; ")
}

// place puts every replica first-fit on the flavor's nodes, or none.
func (st *state) place(f *v1alpha1.Flavor, j *v1alpha1.Job) ([]v1alpha1.Placement, string) {
	type saved struct {
		free Amounts
		gpus []int32
	}
	backup := make([]saved, len(st.nodes))
	for i, n := range st.nodes {
		backup[i] = saved{n.free, n.freeGPUs}
	}
	restore := func() {
		for i, n := range st.nodes {
			n.free, n.freeGPUs = backup[i].free, backup[i].gpus
		}
	}
	var out []v1alpha1.Placement
	for _, g := range j.Spec.ReplicaGroups {
		req := FromResources(g.Template.Resources)
		for idx := int32(0); idx < g.Replicas; idx++ {
			n := st.firstFit(f, req)
			if n == nil {
				restore()
				return nil, fmt.Sprintf("no node of flavor %q has room for replica %s-%d (cpu %s, memory %s, gpu %s)",
					f.Name, g.Name, idx, req.Format("cpu"), req.Format("memory"), req.Format("gpu"))
			}
			k := wholeGPUs(req)
			gpus := append([]int32(nil), n.freeGPUs[:k]...)
			n.freeGPUs = n.freeGPUs[k:]
			n.free = n.free.Sub(req)
			out = append(out, v1alpha1.Placement{Group: g.Name, Index: idx, Node: n.node.Name, GPUs: gpus})
		}
	}
	return out, ""
}

func (st *state) firstFit(f *v1alpha1.Flavor, req Amounts) *nodeState {
	for _, n := range st.nodes {
		if !NodeMatches(f, n.node) {
			continue
		}
		if ok, _ := req.Fits(n.free); !ok || len(n.freeGPUs) < wholeGPUs(req) {
			continue
		}
		return n
	}
	return nil
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
