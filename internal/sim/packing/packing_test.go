package packing

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/internal/sim/trace"
)

// Two one-GPU nodes with 100 CPUs each; tasks t1 (0.5 GPU), t2 (0.3 GPU),
// t3 (0.5 GPU), each with 10 CPUs. The size mix: 0.5 GPU with p=2/3, 0.3
// GPU with p=1/3.
//
// After t1 on A (A: 500m free, 90 CPUs), t2 can go to A or B:
//   - best-fit: A would be left with 0.2 GPU + 0.8 CPU = 1.0 of its
//     capacity, B with 0.7 + 0.9 = 1.6: A.
//   - frag-aware: on A, 200m free is below both classes' requests, so all
//     200m are fragments (ΔF = 200); on B, 700m free serves both classes
//     (ΔF = 0): B.
//
// Both then fill up and first reject t2 in the second round with 200m of
// 2000m free and unusable: 10% unallocatable, 90% allocated.
func fractionalCase() ([]trace.Job, []trace.Node) {
	tasks := []trace.Job{
		{ID: "t1", Replicas: 1, GPUMilli: 500, CPUMilli: 10},
		{ID: "t2", Replicas: 1, GPUMilli: 300, CPUMilli: 10},
		{ID: "t3", Replicas: 1, GPUMilli: 500, CPUMilli: 10},
	}
	nodes := []trace.Node{{Name: "a", Model: "x", GPUs: 1, CPUMilli: 100}, {Name: "b", Model: "x", GPUs: 1, CPUMilli: 100}}
	return tasks, nodes
}

func TestFractionalPlacementChoices(t *testing.T) {
	tasks, nodes := fractionalCase()
	for _, tc := range []struct {
		pol  Policy
		want [][]int64 // free milli per node's GPU after t1 and t2
	}{
		{BestFit, [][]int64{{200}, {1000}}},
		{FragAware, [][]int64{{500}, {700}}},
	} {
		s, ts, err := newStudy(tasks, nodes)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range ts[:2] {
			if !s.place(task, tc.pol) {
				t.Fatalf("policy %d: %s rejected", tc.pol, task.id)
			}
		}
		got := [][]int64{s.nodes[0].gpus, s.nodes[1].gpus}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("policy %d: free GPU milli (-want +got):\n%s", tc.pol, diff)
		}
		if want := 200.0; tc.pol == BestFit && math.Abs(s.fragOf(s.nodes[0])-want) > 1e-9 {
			t.Errorf("best-fit: node a fragmentation = %g, want %g", s.fragOf(s.nodes[0]), want)
		}
	}
}

func TestFractionalStudyResult(t *testing.T) {
	tasks, nodes := fractionalCase()
	for _, pol := range []Policy{BestFit, FragAware} {
		r, err := Run(tasks, nodes, pol)
		if err != nil {
			t.Fatal(err)
		}
		want := &Result{UnallocatableFraction: 0.1, AllocatedFraction: 0.9, Placed: 4, Rejected: "t2 (round 2)"}
		if diff := cmp.Diff(want, r, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); diff != "" {
			t.Errorf("policy %d (-want +got):\n%s", pol, diff)
		}
	}
}

// A multi-GPU task needs that many whole free GPUs on one node, and the
// node's partly used GPUs are fragments for it.
func TestWholeGPUTasksNeedFreeGPUs(t *testing.T) {
	n := &node{cpu: 100, mem: 100, gpus: []int64{1000, 600, 1000}}
	two := task{gpu: 2000}
	three := task{gpu: 3000}
	if !fits(n, &two) || fits(n, &three) {
		t.Fatalf("fits(2 GPUs) = %v, fits(3 GPUs) = %v; want true, false", fits(n, &two), fits(n, &three))
	}
	if got := fragFor(n, &two); got != 600 {
		t.Errorf("fragments for a 2-GPU task = %g, want 600 (the partly used GPU)", got)
	}
	if got := fragFor(n, &three); got != 2600 {
		t.Errorf("fragments for a 3-GPU task = %g, want 2600 (it cannot run: every free share)", got)
	}
	if got := fragFor(n, &task{gpu: 0}); got != 0 {
		t.Errorf("fragments for a CPU-only task = %g, want 0", got)
	}
}

func TestParsePolicy(t *testing.T) {
	if _, err := ParsePolicy("worst-fit"); err == nil {
		t.Error("ParsePolicy(worst-fit) succeeded, want an error naming the choices")
	}
}
