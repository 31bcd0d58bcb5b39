package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// TestFairSharesConvergeToWeights runs three always-backlogged queues with
// weights 1, 2 and 3 that hold no quota of their own and borrow everything
// from an idle lender, over many cycles with jobs finishing at random. Their
// mean usage must converge to 1:2:3 of the 60 GPUs.
func TestFairSharesConvergeToWeights(t *testing.T) {
	w := &world{now: t0, jobs: map[string]*v1alpha1.Job{}, nodes: map[string]*v1alpha1.Node{}, queues: map[string]*v1alpha1.Queue{}}
	for _, d := range []string{
		"flavor default", "nodes n 8 gpu=8",
		"queue lender cohort=c", "quota lender default gpu=60",
		"queue w1 cohort=c weight=1 strategy=BestEffortFIFO", "quota w1 default gpu=0",
		"queue w2 cohort=c weight=2 strategy=BestEffortFIFO", "quota w2 default gpu=0",
		"queue w3 cohort=c weight=3 strategy=BestEffortFIFO", "quota w3 default gpu=0",
	} {
		if _, err := w.do(strings.Fields(d)); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	sum := map[string]float64{}
	const cycles, warmup = 300, 50
	n := 0
	for c := 0; c < cycles; c++ {
		for _, q := range []string{"w1", "w2", "w3"} {
			pending := 0
			for _, j := range w.jobs {
				if j.Spec.Queue == q && j.Status.Admission == nil {
					pending++
				}
			}
			for ; pending < 20; pending++ {
				n++
				w.do(strings.Fields(fmt.Sprintf("submit ns/%s-%d queue=%s group=worker:1:gpu=%d", q, n, q, 1+r.IntN(2))))
			}
		}
		w.cycle(true, false)
		plan := scheduler.Schedule(w.snapshot(), nil, w.now)
		if c >= warmup {
			for _, q := range []string{"w1", "w2", "w3"} {
				sum[q] += float64(plan.Usage[q]["default"].GPUMilli) / 1000
			}
		}
		for k, j := range w.jobs {
			if j.Status.Admission != nil && r.IntN(5) == 0 {
				delete(w.jobs, k)
			}
		}
	}
	total := sum["w1"] + sum["w2"] + sum["w3"]
	for i, q := range []string{"w1", "w2", "w3"} {
		got, want := sum[q]/total, float64(i+1)/6
		t.Logf("%s: share %.3f, want %.3f", q, got, want)
		if got < want*0.9 || got > want*1.1 {
			t.Errorf("%s: mean share %.3f, want %.3f ± 10%%", q, got, want)
		}
	}
}
