package scheduler

import (
	"fmt"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// CheckFeasible rejects a job that no state of the cluster could ever run:
// its queue is missing or closed to its namespace, its total request (at
// its elastic minimum) exceeds in every flavor what the queue could ever
// hold, which is its nominal quota plus what it may borrow from its cohort,
// a replica is larger than any node of the flavor, or its required
// topology level is not one of the flavor's or no domain of it could hold
// the gang. The error names the field to change.
func CheckFeasible(j *v1alpha1.Job, snap Snapshot) error {
	var q *v1alpha1.Queue
	for _, c := range snap.Queues {
		if c.Name == j.Spec.Queue {
			q = c
		}
	}
	if q == nil {
		return fmt.Errorf("spec.queue: queue %q does not exist: create it or use an existing queue (skiff get queues)", j.Spec.Queue)
	}
	if !NamespaceAllowed(q, j.Namespace) {
		return fmt.Errorf("spec.queue: namespace %q may not submit to queue %q: use a queue that lists it in spec.namespaces", j.Namespace, q.Name)
	}
	flavors := map[string]*v1alpha1.Flavor{}
	for _, f := range snap.Flavors {
		flavors[f.Name] = f
	}
	// The queue states give the cohort pools: what every member lends.
	cohorts := map[string]*cohortState{}
	var qs *queueState
	for _, c := range snap.Queues {
		s := newQueueState(c, cohorts)
		if c == q {
			qs = s
		}
	}
	req := minRequest(j)
	var last error
	for i, fq := range q.Spec.Flavors {
		qf := qs.flavors[i]
		limit := qf.nominal
		if qf.pool != nil {
			limit = qf.nominal.Add(qf.borrowLimit).min(qf.guaranteed.Add(qf.pool.capacity))
		}
		if ok, res := req.Fits(limit); !ok {
			what := "its quota"
			if qf.pool != nil {
				what = "its quota plus what it may borrow from cohort " + q.Spec.Cohort
			}
			last = fmt.Errorf("spec.replicaGroups: the job needs %s %s in total but queue %q holds at most %s in flavor %q (%s): lower replicas or resources, or use a larger queue",
				req.Format(res), res, q.Name, limit.Format(res), fq.Name, what)
			continue
		}
		f, ok := flavors[fq.Name]
		if !ok {
			last = fmt.Errorf("spec.queue: queue %q refers to flavor %q, which does not exist: create the flavor", q.Name, fq.Name)
			continue
		}
		if err := replicasFitSomeNode(j, f, snap.Nodes); err != nil {
			last = err
			continue
		}
		if err := gangFitsSomeDomain(j, f, snap.Nodes); err != nil {
			last = err
			continue
		}
		return nil
	}
	if last == nil {
		last = fmt.Errorf("spec.queue: queue %q holds no quota: give it flavors", q.Name)
	}
	return last
}

func replicasFitSomeNode(j *v1alpha1.Job, f *v1alpha1.Flavor, nodes []*v1alpha1.Node) error {
	matched := false
	for _, n := range nodes {
		if flavorSelects(f, n) {
			matched = true
			break
		}
	}
	if !matched {
		return fmt.Errorf("spec.queue: flavor %q of queue %q matches no node: give nodes the flavor's spec.nodeLabels (and spec.gpuModel), or change them (skiff get nodes shows the nodes' labels)",
			f.Name, j.Spec.Queue)
	}
	for i, g := range j.Spec.ReplicaGroups {
		req := FromResources(g.Template.Resources)
		fits := false
		for _, n := range nodes {
			if !flavorSelects(f, n) {
				continue
			}
			if ok, _ := req.Fits(nodeCapacity(n)); ok {
				fits = true
				break
			}
		}
		if !fits {
			return fmt.Errorf("spec.replicaGroups[%d].template.resources: one replica needs cpu %s, memory %s, gpu %s, more than any node of flavor %q has: lower the request",
				i, req.Format("cpu"), req.Format("memory"), req.Format("gpu"), f.Name)
		}
	}
	return nil
}

// gangFitsSomeDomain checks a required topology level: the flavor must
// have it, and some domain of it must be able to hold the gang (at its
// elastic minimum) with nothing else running. A domain is counted out only
// when it surely cannot: its nodes' total capacity is less than the gang's
// total request, or they fit fewer replicas of a group than the group
// needs. So no job that an empty domain could run is refused.
func gangFitsSomeDomain(j *v1alpha1.Job, f *v1alpha1.Flavor, nodes []*v1alpha1.Node) error {
	if j.Spec.Topology == nil || j.Spec.Topology.Required == "" {
		return nil
	}
	key := j.Spec.Topology.Required
	if levelIndex(f, key) < 0 {
		levels := "none"
		if len(f.Spec.TopologyLevels) > 0 {
			levels = strings.Join(f.Spec.TopologyLevels, ", ")
		}
		return fmt.Errorf("spec.topology.required: flavor %q has no topology level %q (its levels: %s): require one of its levels, or use spec.topology.preferred",
			f.Name, key, levels)
	}
	groups := j.Spec.ReplicaGroups
	type domain struct {
		capacity Amounts
		fit      []int64 // replicas of each group its nodes fit
	}
	domains := map[string]*domain{}
	for _, n := range nodes {
		v, ok := n.Labels[key]
		if !ok || !flavorSelects(f, n) {
			continue
		}
		d := domains[v]
		if d == nil {
			d = &domain{fit: make([]int64, len(groups))}
			domains[v] = d
		}
		capacity := nodeCapacity(n)
		d.capacity = d.capacity.Add(capacity)
		for g := range groups {
			d.fit[g] += replicasOn(FromResources(groups[g].Template.Resources), capacity)
		}
	}
	if len(domains) == 0 {
		return fmt.Errorf("spec.topology.required: no node of flavor %q carries the label %q, so there is no such domain: label the flavor's nodes with it, or use spec.topology.preferred",
			f.Name, key)
	}
	need := minRequest(j)
	for _, d := range domains {
		ok, _ := need.Fits(d.capacity)
		for g := range groups {
			ok = ok && d.fit[g] >= int64(minReplicas(groups[g]))
		}
		if ok {
			return nil
		}
	}
	var parts []string
	for _, res := range resourceNames {
		if need.Get(res) > 0 {
			parts = append(parts, need.Format(res)+" "+res)
		}
	}
	return fmt.Errorf("spec.topology.required: the gang needs %s within one %s domain of flavor %q, and none of its %d such domains could hold it even with nothing else running: lower replicas or resources, require a wider level, or use spec.topology.preferred",
		strings.Join(parts, ", "), key, f.Name, len(domains))
}

// replicasOn is how many replicas of req fit on an empty node of the given
// capacity (whole GPUs per replica, or replicas per shared GPU).
func replicasOn(req, capacity Amounts) int64 {
	k := int64(1) << 40
	if req.CPUMilli > 0 {
		k = min(k, capacity.CPUMilli/req.CPUMilli)
	}
	if req.Memory > 0 {
		k = min(k, capacity.Memory/req.Memory)
	}
	gpus := capacity.GPUMilli / 1000
	if w := int64(wholeGPUs(req)); w > 0 {
		k = min(k, gpus/w)
	} else if isFractional(req) {
		k = min(k, gpus*(1000/req.GPUMilli))
	}
	return k
}

// nodeCapacity is an empty node's room: its cpu and memory, and its GPUs
// as whole devices.
func nodeCapacity(n *v1alpha1.Node) Amounts {
	c := FromResources(n.Spec.Capacity)
	c.GPUMilli = int64(gpuCount(n)) * 1000
	return c
}
