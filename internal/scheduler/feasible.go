package scheduler

import (
	"fmt"

	"skiff.dev/skiff/api/v1alpha1"
)

// CheckFeasible rejects a job that no state of the cluster could ever run:
// its queue is missing or closed to its namespace, its total request (at
// its elastic minimum) exceeds in every flavor what the queue could ever
// hold, which is its nominal quota plus what it may borrow from its cohort,
// or a replica is larger than any node of the flavor. The error names the
// field to change.
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
		return nil
	}
	if last == nil {
		last = fmt.Errorf("spec.queue: queue %q holds no quota: give it flavors", q.Name)
	}
	return last
}

func replicasFitSomeNode(j *v1alpha1.Job, f *v1alpha1.Flavor, nodes []*v1alpha1.Node) error {
	for i, g := range j.Spec.ReplicaGroups {
		req := FromResources(g.Template.Resources)
		fits := false
		for _, n := range nodes {
			if !NodeMatches(f, n) {
				continue
			}
			capacity := FromResources(n.Spec.Capacity)
			capacity.GPUMilli = int64(gpuCount(n)) * 1000
			if ok, _ := req.Fits(capacity); ok {
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
