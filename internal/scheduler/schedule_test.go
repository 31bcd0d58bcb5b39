package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func q(s string) *resource.Quantity { v := resource.MustParse(s); return &v }

func node(name string, cpu, mem string, gpus int) *v1alpha1.Node {
	return &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{CPU: q(cpu), Memory: q(mem), GPU: resource.NewQuantity(int64(gpus), resource.DecimalSI)}}}
}

func queue(name, strategy string, gpu string, namespaces ...string) *v1alpha1.Queue {
	return &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{
		QueueingStrategy: strategy, Namespaces: namespaces,
		Flavors: []v1alpha1.FlavorQuota{{Name: "default", Resources: []v1alpha1.ResourceQuota{
			{Name: "cpu", NominalQuota: resource.MustParse("64")},
			{Name: "memory", NominalQuota: resource.MustParse("256Gi")},
			{Name: "gpu", NominalQuota: resource.MustParse(gpu)},
		}}}}}
}

// job builds a job with one group of n replicas requesting gpus GPUs each,
// created sec seconds after t0.
func job(name string, prio int32, n int32, gpus string, sec int) *v1alpha1.Job {
	return &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(sec) * time.Second))},
		Spec: v1alpha1.JobSpec{Queue: "q", Priority: prio, ReplicaGroups: []v1alpha1.ReplicaGroup{{
			Name: "worker", Replicas: n,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"x"}, Resources: v1alpha1.Resources{CPU: q("1"), Memory: q("1Gi"), GPU: q(gpus)}},
		}}},
	}
}

func snapshot(qs ...*v1alpha1.Queue) scheduler.Snapshot {
	return scheduler.Snapshot{
		Nodes:   []*v1alpha1.Node{node("a", "8", "32Gi", 4), node("b", "8", "32Gi", 4)},
		Flavors: []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "default"}}},
		Queues:  qs,
	}
}

func admitted(p scheduler.Plan) []string {
	var out []string
	for _, a := range p.Admissions {
		out = append(out, a.Name)
	}
	return out
}

func TestScheduleOrdersByPriorityThenArrival(t *testing.T) {
	snap := snapshot(queue("q", v1alpha1.BestEffortFIFO, "8"))
	pending := []*v1alpha1.Job{job("late-high", 10, 1, "4", 5), job("early-low", 0, 1, "4", 1), job("early-high", 10, 1, "4", 2)}
	plan := scheduler.Schedule(snap, pending, t0)
	if diff := cmp.Diff([]string{"early-high", "late-high"}, admitted(plan)); diff != "" {
		t.Errorf("admitted (-want +got):\n%s", diff)
	}
	if !strings.Contains(plan.Waiting["team-a/early-low"], "waiting for 4 gpu in flavor default: queue q uses 8/8") {
		t.Errorf("waiting reason = %q, want it to mention the quota", plan.Waiting["team-a/early-low"])
	}
}

func TestScheduleAdmitsEveryJobThatFitsInOneCycle(t *testing.T) {
	snap := snapshot(queue("q", v1alpha1.StrictFIFO, "8"))
	var pending []*v1alpha1.Job
	for i := 0; i < 8; i++ {
		pending = append(pending, job(string(rune('a'+i)), 0, 1, "1", i))
	}
	if got := len(scheduler.Schedule(snap, pending, t0).Admissions); got != 8 {
		t.Fatalf("admitted %d jobs, want all 8", got)
	}
}

func TestStrictFIFOBlocksAndBestEffortSkips(t *testing.T) {
	pending := func() []*v1alpha1.Job {
		return []*v1alpha1.Job{job("big", 0, 3, "4", 1), job("small", 0, 1, "1", 2)}
	}
	strict := scheduler.Schedule(snapshot(queue("q", v1alpha1.StrictFIFO, "16")), pending(), t0)
	if len(strict.Admissions) != 0 || !strings.Contains(strict.Waiting["team-a/small"], "waiting behind team-a/big") {
		t.Errorf("StrictFIFO admitted %v, small waits with %q", admitted(strict), strict.Waiting["team-a/small"])
	}
	best := scheduler.Schedule(snapshot(queue("q", v1alpha1.BestEffortFIFO, "16")), pending(), t0)
	if diff := cmp.Diff([]string{"small"}, admitted(best)); diff != "" {
		t.Errorf("BestEffortFIFO admitted (-want +got):\n%s", diff)
	}
}

func TestGangIsPlacedWholeWithExclusiveGPUs(t *testing.T) {
	snap := snapshot(queue("q", v1alpha1.BestEffortFIFO, "8"))
	plan := scheduler.Schedule(snap, []*v1alpha1.Job{job("gang", 0, 3, "2", 1)}, t0)
	if len(plan.Admissions) != 1 {
		t.Fatalf("plan = %+v", plan)
	}
	want := []v1alpha1.Placement{
		{Group: "worker", Index: 0, Node: "a", GPUs: []int32{0, 1}},
		{Group: "worker", Index: 1, Node: "a", GPUs: []int32{2, 3}},
		{Group: "worker", Index: 2, Node: "b", GPUs: []int32{0, 1}},
	}
	if diff := cmp.Diff(want, plan.Admissions[0].Admission.Placements); diff != "" {
		t.Errorf("placements (-want +got):\n%s", diff)
	}
}

func TestAdmittedJobsHoldTheirGPUs(t *testing.T) {
	snap := snapshot(queue("q", v1alpha1.BestEffortFIFO, "8"))
	running := job("running", 0, 1, "3", 0)
	running.Status.Phase = v1alpha1.JobRunning
	running.Status.Admission = &v1alpha1.Admission{Queue: "q", Flavor: "default", Placements: []v1alpha1.Placement{{Group: "worker", Index: 0, Node: "a", GPUs: []int32{0, 1, 2}}}}
	snap.Admitted = []*v1alpha1.Job{running}
	// A gang goes to the fewest nodes (both replicas on b); a single
	// replica bin-packs onto the fullest node (a's last free GPU).
	plan := scheduler.Schedule(snap, []*v1alpha1.Job{job("next", 0, 2, "1", 1), job("one", 0, 1, "1", 2)}, t0)
	want := []v1alpha1.Placement{{Group: "worker", Index: 0, Node: "b", GPUs: []int32{0}}, {Group: "worker", Index: 1, Node: "b", GPUs: []int32{1}}}
	if diff := cmp.Diff(want, plan.Admissions[0].Admission.Placements); diff != "" {
		t.Errorf("placements (-want +got):\n%s", diff)
	}
	want = []v1alpha1.Placement{{Group: "worker", Index: 0, Node: "a", GPUs: []int32{3}}}
	if diff := cmp.Diff(want, plan.Admissions[1].Admission.Placements); diff != "" {
		t.Errorf("placements (-want +got):\n%s", diff)
	}
	// A finished job holds nothing.
	running.Status.Phase = v1alpha1.JobSucceeded
	plan = scheduler.Schedule(snap, []*v1alpha1.Job{job("next", 0, 2, "4", 1)}, t0)
	if len(plan.Admissions) != 1 {
		t.Errorf("after the job finished, want the 8-GPU gang admitted; waiting: %v", plan.Waiting)
	}
}

func TestQueueNamespacesAndFeasibility(t *testing.T) {
	snap := snapshot(queue("q", v1alpha1.BestEffortFIFO, "4", "team-b"))
	plan := scheduler.Schedule(snap, []*v1alpha1.Job{job("j", 0, 1, "1", 0)}, t0)
	if len(plan.Admissions) != 0 || !strings.Contains(plan.Waiting["team-a/j"], "may not submit") {
		t.Errorf("plan = %+v", plan)
	}
	if err := scheduler.CheckFeasible(job("j", 0, 1, "1", 0), snap); err == nil || !strings.Contains(err.Error(), "spec.queue") {
		t.Errorf("CheckFeasible(namespace) = %v", err)
	}
	snap = snapshot(queue("q", v1alpha1.BestEffortFIFO, "4"))
	err := scheduler.CheckFeasible(job("huge", 0, 2, "4", 0), snap)
	if err == nil || !strings.Contains(err.Error(), "needs 8 gpu in total but queue \"q\" holds at most 4") {
		t.Errorf("CheckFeasible(too big for quota) = %v", err)
	}
	snap = snapshot(queue("q", v1alpha1.BestEffortFIFO, "16"))
	err = scheduler.CheckFeasible(job("wide", 0, 1, "8", 0), snap)
	if err == nil || !strings.Contains(err.Error(), "spec.replicaGroups[0].template.resources") {
		t.Errorf("CheckFeasible(replica larger than a node) = %v", err)
	}
	if err := scheduler.CheckFeasible(job("ok", 0, 2, "4", 0), snap); err != nil {
		t.Errorf("CheckFeasible(ok) = %v", err)
	}
	j := job("nq", 0, 1, "1", 0)
	j.Spec.Queue = "missing"
	if err := scheduler.CheckFeasible(j, snap); err == nil || !strings.Contains(err.Error(), "queue \"missing\" does not exist") {
		t.Errorf("CheckFeasible(missing queue) = %v", err)
	}
}
