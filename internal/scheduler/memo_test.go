package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// TestMemoChangesNoPlan drives random, crowded clusters (many jobs of few
// shapes, preemption and reclaim policies, elastic groups, topology,
// estimates) through many cycles and checks that every plan, waiting
// reasons included, is exactly the plan the core makes without its memo
// of quota failures.
func TestMemoChangesNoPlan(t *testing.T) {
	hits := 0
	for seed := uint64(1); seed <= 150; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		w := randomWorld(r)
		if seed%2 == 0 { // room on nodes, so that quota is what binds
			for i := range 4 {
				w.do(strings.Fields(fmt.Sprintf("node big%d gpu=64 cpu=512 labels=pool:%s,rack:r%d", i, []string{"a", "b"}[i%2], i%3)))
			}
		}
		for c := 0; c < 6; c++ {
			for i := 5 + r.IntN(30); i > 0; i-- {
				submit := randomSubmit(r, w, c, i)
				if r.IntN(3) > 0 { // mostly a few common shapes
					submit = fmt.Sprintf("submit ns/j%d-%d queue=q%d prio=%d group=worker:%s:gpu=%s,cpu=1 %s", c, i, r.IntN(len(w.queues)), r.IntN(2),
						[]string{"1", "2", "3-1"}[r.IntN(3)], []string{"1", "2", "500m"}[r.IntN(3)], []string{"", "est=30", "required=rack"}[r.IntN(3)])
				}
				w.do(strings.Fields(submit))
			}
			snap := w.snapshot()
			var pending []*v1alpha1.Job
			for _, j := range sortedValues(w.jobs) {
				if j.Status.Admission == nil {
					pending = append(pending, j)
				}
			}
			restore := scheduler.SetMemo(false)
			want := scheduler.Schedule(snap, pending, w.now)
			restore()
			got := scheduler.Schedule(snap, pending, w.now)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d cycle %d: the memo changed the plan:\n%s", seed, c, planDiff(want, got))
			}
			hits += len(got.Waiting)
			w.cycle(true, false)
			for _, j := range sortedValues(w.jobs) {
				if j.Status.Preemption != nil || (j.Status.Admission != nil && r.IntN(3) == 0) {
					j.Status = v1alpha1.JobStatus{Phase: v1alpha1.JobPending}
				}
			}
		}
	}
	if hits == 0 {
		t.Fatal("no job ever waited: the scenarios do not exercise the memo")
	}
}

func planDiff(want, got scheduler.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "admissions %d vs %d, preemptions %d vs %d\n", len(want.Admissions), len(got.Admissions), len(want.Preemptions), len(got.Preemptions))
	for k, v := range want.Waiting {
		if got.Waiting[k] != v {
			fmt.Fprintf(&b, "%s:\n  want %s\n  got  %s\n", k, v, got.Waiting[k])
		}
	}
	return b.String()
}
