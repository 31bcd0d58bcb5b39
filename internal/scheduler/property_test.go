package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// TestPlansNeverExceedQuotaOrCapacity drives random clusters through many
// cycles and checks, from the jobs alone and independently of the core's
// bookkeeping, that no queue exceeds nominal quota plus its borrowing
// limit, no cohort lends more than its members' lending limits allow, and
// no node or GPU is oversubscribed.
func TestPlansNeverExceedQuotaOrCapacity(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		w := randomWorld(r)
		for c := 0; c < 8; c++ {
			for i := r.IntN(6); i > 0; i-- {
				w.do(strings.Fields(randomSubmit(r, w, c, i)))
			}
			w.cycle(true, false)
			if err := checkInvariants(w); err != nil {
				t.Fatalf("seed %d cycle %d: %v", seed, c, err)
			}
			for _, j := range sortedValues(w.jobs) {
				if j.Status.Preemption != nil || (j.Status.Admission != nil && r.IntN(4) == 0) {
					j.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobPending, AttainedGPUSeconds: int64(r.IntN(72000))}
				}
			}
		}
	}
}

func randomWorld(r *rand.Rand) *world {
	w := &world{now: t0, jobs: map[string]*v1alpha1.Job{}, nodes: map[string]*v1alpha1.Node{}, queues: map[string]*v1alpha1.Queue{}}
	w.do(strings.Fields("flavor f1 labels=pool:a levels=rack,kubernetes.io/hostname"))
	w.do(strings.Fields("flavor f2 labels=pool:b"))
	for i := 0; i < 2+r.IntN(5); i++ {
		w.do(strings.Fields(fmt.Sprintf("node n%d gpu=%d cpu=%d labels=pool:%s,rack:r%d", i, r.IntN(9), 4+r.IntN(60), []string{"a", "b"}[r.IntN(2)], r.IntN(3))))
	}
	policies := []string{"", "withinQueue=LowerPriority", "reclaim=Any", "reclaim=LowerPriority withinQueue=LowerPriority"}
	for i := 0; i < 1+r.IntN(4); i++ {
		cohort := ""
		if r.IntN(3) > 0 {
			cohort = fmt.Sprintf("cohort=c%d", r.IntN(2))
		}
		las := []string{"", "las=3600", "las=3600,36000 lasScope=Cohort"}[r.IntN(3)]
		w.do(strings.Fields(fmt.Sprintf("queue q%d %s strategy=%s %s %s", i, cohort, []string{"StrictFIFO", "BestEffortFIFO"}[r.IntN(2)], policies[r.IntN(4)], las)))
		for _, f := range []string{"f1", "f2"} {
			if r.IntN(3) == 0 {
				continue
			}
			limit := func() string {
				if r.IntN(2) == 0 {
					return ""
				}
				return fmt.Sprint(r.IntN(8))
			}
			w.do(strings.Fields(fmt.Sprintf("quota q%d %s gpu=%d:%s:%s cpu=%d", i, f, r.IntN(12), limit(), limit(), 8+r.IntN(64))))
		}
	}
	return w
}

func randomSubmit(r *rand.Rand, w *world, c, i int) string {
	gpus := []string{"1", "2", "4", "250m", "500m", "8"}[r.IntN(6)]
	reps := 1 + r.IntN(4)
	group := fmt.Sprintf("worker:%d:gpu=%s,cpu=1", reps, gpus)
	if r.IntN(4) == 0 {
		group = fmt.Sprintf("worker:%d-%d:gpu=%s,cpu=1", reps+2, reps, gpus)
	}
	extra := []string{"", "required=rack", "preferred=rack", "policy=Spread", "est=30"}[r.IntN(5)]
	return fmt.Sprintf("submit ns/j%d-%d queue=q%d prio=%d group=%s %s", c, i, r.IntN(len(w.queues)), r.IntN(3), group, extra)
}

func checkInvariants(w *world) error {
	type key struct{ q, f string }
	used := map[key]scheduler.Amounts{}
	type gpuKey struct {
		node string
		gpu  int32
	}
	gpuUse := map[gpuKey]int64{}
	nodeUse := map[string]scheduler.Amounts{}
	for _, j := range sortedValues(w.jobs) {
		if !scheduler.HoldsResources(j) {
			continue
		}
		adm := j.Status.Admission
		for gi, g := range j.Spec.ReplicaGroups {
			n := 0
			for _, p := range adm.Placements {
				if p.Group == g.Name {
					n++
				}
			}
			if g.MinReplicas != nil {
				min := *g.MinReplicas
				if n < int(min) || n > int(g.Replicas) {
					return fmt.Errorf("%s group %d has %d placements, want %d..%d", j.Name, gi, n, min, g.Replicas)
				}
			} else if n != int(g.Replicas) {
				return fmt.Errorf("%s group %d has %d placements, want %d", j.Name, gi, n, g.Replicas)
			}
		}
		used[key{adm.Queue, adm.Flavor}] = used[key{adm.Queue, adm.Flavor}].Add(scheduler.AdmittedRequest(j))
		for _, p := range adm.Placements {
			var req scheduler.Amounts
			for _, g := range j.Spec.ReplicaGroups {
				if g.Name == p.Group {
					req = scheduler.FromResources(g.Template.Resources)
				}
			}
			nodeUse[p.Node] = nodeUse[p.Node].Add(req)
			if want := (req.GPUMilli + 999) / 1000; req.GPUMilli >= 1000 && int64(len(p.GPUs)) != want {
				return fmt.Errorf("%s replica %d has GPUs %v, want %d", j.Name, p.Index, p.GPUs, want)
			}
			for _, g := range p.GPUs {
				m := int64(1000)
				if p.GPUMilli > 0 {
					m = p.GPUMilli
				}
				gpuUse[gpuKey{p.Node, g}] += m
			}
		}
	}
	for k, m := range gpuUse {
		if m > 1000 {
			return fmt.Errorf("GPU %d of node %s is %dm used", k.gpu, k.node, m)
		}
	}
	for name, u := range nodeUse {
		n := w.nodes[name]
		c := scheduler.FromResources(n.Spec.Capacity)
		if ok, res := u.Fits(c); !ok {
			return fmt.Errorf("node %s: %s %s used of %s", name, res, u.Format(res), c.Format(res))
		}
	}
	poolUse := map[key]scheduler.Amounts{}
	poolCap := map[key]scheduler.Amounts{}
	for _, q := range sortedValues(w.queues) {
		for _, fq := range q.Spec.Flavors {
			u := used[key{q.Name, fq.Name}]
			nominal := scheduler.Quota(fq)
			limit, lend := nominal, nominal
			for _, r := range fq.Resources {
				v := r.NominalQuota.MilliValue()
				if q.Spec.Cohort != "" {
					if r.BorrowingLimit != nil {
						v += r.BorrowingLimit.MilliValue()
					} else {
						v = 1 << 50
					}
				}
				setRes(&limit, r.Name, v)
				if r.LendingLimit != nil {
					setRes(&lend, r.Name, min(r.LendingLimit.MilliValue(), nominal.Get(r.Name)))
				}
			}
			if ok, res := u.Fits(limit); !ok {
				return fmt.Errorf("queue %s flavor %s uses %s %s, limit %s", q.Name, fq.Name, u.Format(res), res, limit.Format(res))
			}
			if q.Spec.Cohort != "" {
				k := key{q.Spec.Cohort, fq.Name}
				guaranteed := nominal.Sub(lend)
				over := u.Sub(guaranteed)
				over = scheduler.Amounts{CPUMilli: max(over.CPUMilli, 0), Memory: max(over.Memory, 0), GPUMilli: max(over.GPUMilli, 0)}
				poolUse[k] = poolUse[k].Add(over)
				poolCap[k] = poolCap[k].Add(lend)
			}
		}
	}
	for k, u := range poolUse {
		if ok, res := u.Fits(poolCap[k]); !ok {
			return fmt.Errorf("cohort %s flavor %s lends %s %s, more than its members lend (%s)", k.q, k.f, u.Format(res), res, poolCap[k].Format(res))
		}
	}
	return nil
}

func setRes(a *scheduler.Amounts, name string, v int64) {
	switch name {
	case "cpu":
		a.CPUMilli = v
	case "gpu":
		a.GPUMilli = v
	}
}
