package scheduler

import (
	"fmt"

	"skiff.dev/skiff/api/v1alpha1"
)

// CheckFeasible rejects a job that no state of the cluster could ever run:
// its queue is missing or closed to its namespace, its total request exceeds
// the queue's quota in every flavor, or a replica is larger than any node of
// the flavor. The error names the field to change.
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
	req := JobRequest(j)
	var last error
	for _, fq := range q.Spec.Flavors {
		if ok, res := req.Fits(Quota(fq)); !ok {
			last = fmt.Errorf("spec.replicaGroups: the job needs %s %s in total but queue %q holds at most %s in flavor %q: lower replicas or resources, or use a larger queue",
				req.Format(res), res, q.Name, Quota(fq).Format(res), fq.Name)
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
			if ok, _ := req.Fits(FromResources(n.Spec.Capacity)); ok && len(gpuIndices(n)) >= wholeGPUs(req) {
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
