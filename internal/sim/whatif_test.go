package sim

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

var whatIfNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func liveQueue(name string, gpus int64) *v1alpha1.Queue {
	return &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.QueueSpec{
		QueueingStrategy: v1alpha1.BestEffortFIFO,
		Flavors: []v1alpha1.FlavorQuota{{Name: "a100", Resources: []v1alpha1.ResourceQuota{
			{Name: v1alpha1.ResourceGPU, NominalQuota: *resource.NewQuantity(gpus, resource.DecimalSI)}}}},
	}}
}

// liveJob is a job of gpus GPUs in queue q, created at now+created; start,
// when not nil, is when it started (it then holds resources).
func liveJob(name, q string, gpus int64, created time.Duration, start *time.Duration) *v1alpha1.Job {
	j := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: name, CreationTimestamp: metav1.NewTime(whatIfNow.Add(created))},
		Spec: v1alpha1.JobSpec{Queue: q, ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"train"},
				Resources: v1alpha1.Resources{GPU: resource.NewQuantity(gpus, resource.DecimalSI)}}}}},
		Status: v1alpha1.JobStatus{Phase: v1alpha1.JobPending},
	}
	if start != nil {
		st := metav1.NewTime(whatIfNow.Add(*start))
		j.Status.Phase, j.Status.StartTime = v1alpha1.JobRunning, &st
		j.Status.Admission = &v1alpha1.Admission{Queue: q, Flavor: "a100", Placements: []v1alpha1.Placement{
			{Group: "worker", Index: 0, Node: "n1"}}}
	}
	return j
}

func seconds(v int64) *int64 { return &v }
func ago(d time.Duration) *time.Duration {
	d = -d
	return &d
}

// whatIfCluster: one node of 16 A100s, queues team-a and team-b with 4 GPUs
// each (no cohort: no borrowing).
//
//	r1  team-a 4 GPUs, started 10m ago, estimate 1h      -> ends +50m
//	r2  team-b 2 GPUs, started 30m ago, deadline 2h      -> ends +90m
//	a1  team-a 4 GPUs pending, estimate 30m
//	a2  team-a 2 GPUs pending, no estimate (default 1h)
//	b1  team-b 2 GPUs pending, estimate 10m
//	big team-b 6 GPUs pending: more than team-b's quota, never starts
func whatIfCluster() Live {
	r1 := liveJob("r1", "team-a", 4, -time.Hour, ago(10*time.Minute))
	r1.Spec.RunPolicy.EstimatedSeconds = seconds(3600)
	r2 := liveJob("r2", "team-b", 2, -time.Hour, ago(30*time.Minute))
	r2.Spec.RunPolicy.ActiveDeadlineSeconds = seconds(7200)
	a1 := liveJob("a1", "team-a", 4, -3*time.Minute, nil)
	a1.Spec.RunPolicy.EstimatedSeconds = seconds(1800)
	a2 := liveJob("a2", "team-a", 2, -2*time.Minute, nil)
	b1 := liveJob("b1", "team-b", 2, -time.Minute, nil)
	b1.Spec.RunPolicy.EstimatedSeconds = seconds(600)
	big := liveJob("big", "team-b", 6, -time.Minute, nil)
	done := liveJob("old", "team-a", 1, -5*time.Hour, nil)
	done.Status.Phase = v1alpha1.JobSucceeded
	return Live{
		Nodes: []*v1alpha1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeSpec{GPUModel: "a100",
			Capacity: v1alpha1.Resources{GPU: resource.NewQuantity(16, resource.DecimalSI)}}}},
		Flavors: []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "a100"}}},
		Queues:  []*v1alpha1.Queue{liveQueue("team-a", 4), liveQueue("team-b", 4)},
		Jobs:    []*v1alpha1.Job{r1, r2, a1, a2, b1, big, done},
	}
}

func projectedStarts(t *testing.T, live Live) map[string]*time.Time {
	t.Helper()
	got, err := Project(live, ProjectOptions{Now: whatIfNow, DefaultRuntime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*time.Time{}
	for _, p := range got {
		out[p.Name] = p.Start
		if p.Name == "a2" && p.RuntimeFrom != RuntimeAssumed {
			t.Errorf("a2 runtime from %q, want %q", p.RuntimeFrom, RuntimeAssumed)
		}
		if p.Name == "r2" && (p.RuntimeFrom != RuntimeDeadline || p.End == nil || !p.End.Equal(whatIfNow.Add(90*time.Minute))) {
			t.Errorf("r2 = %+v, want to end at +90m by its deadline", p)
		}
		if p.Name == "big" && (p.Start != nil || p.Waiting == "") {
			t.Errorf("big = %+v, want no start and the core's reason", p)
		}
	}
	if _, ok := out["old"]; ok {
		t.Errorf("a finished job is projected: %v", out)
	}
	return out
}

func checkStarts(t *testing.T, got map[string]*time.Time, want map[string]time.Duration) {
	t.Helper()
	for name, d := range want {
		s := got[name]
		if s == nil || !s.Equal(whatIfNow.Add(d)) {
			t.Errorf("%s starts at %v, want now+%s", name, s, d)
		}
	}
}

func TestProjectHandComputed(t *testing.T) {
	got := projectedStarts(t, whatIfCluster())
	// b1 fits team-b's quota now; a1 waits for r1 (+50m) and runs 30m;
	// a2 (2 GPUs) does not fit beside a1 in team-a's 4 and starts at +80m.
	checkStarts(t, got, map[string]time.Duration{
		"r1": -10 * time.Minute, "r2": -30 * time.Minute, "b1": 0, "a1": 50 * time.Minute, "a2": 80 * time.Minute})
	if got["big"] != nil {
		t.Errorf("big starts at %v, want never", got["big"])
	}
}

func TestProjectQuotaIncreaseMovesJobsEarlier(t *testing.T) {
	live := whatIfCluster()
	ch, err := ParseQuotaChange("team-a:a100:gpu=8")
	if err != nil {
		t.Fatal(err)
	}
	queues, err := ApplyQuota(live.Queues, live.Flavors, []QuotaChange{ch})
	if err != nil {
		t.Fatal(err)
	}
	if q := live.Queues[0].Spec.Flavors[0].Resources[0].NominalQuota; q.Value() != 4 {
		t.Fatalf("ApplyQuota changed its input: team-a nominal %s", q.String())
	}
	live.Queues = queues
	// With 8 GPUs team-a runs a1 beside r1 now; a2 waits for a1's end
	// (+30m, before r1's at +50m): 50m and 50m earlier than today.
	checkStarts(t, projectedStarts(t, live), map[string]time.Duration{"b1": 0, "a1": 0, "a2": 30 * time.Minute})
}

func TestProjectOverdueAndEvicted(t *testing.T) {
	live := whatIfCluster()
	// r1 past its estimate: assumed to end now, so a1 starts now.
	live.Jobs[0].Spec.RunPolicy.EstimatedSeconds = seconds(60)
	// r2 being evicted: it stops now and waits again for its 90m left.
	live.Jobs[1].Status.Preemption = &v1alpha1.PreemptionNotice{Reason: "Reclaim"}
	got, err := Project(live, ProjectOptions{Now: whatIfNow, DefaultRuntime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		switch p.Name {
		case "r1":
			if !p.Overdue || !p.End.Equal(whatIfNow) {
				t.Errorf("r1 = %+v, want overdue, ending now", p)
			}
		case "a1":
			if !p.Start.Equal(whatIfNow) {
				t.Errorf("a1 starts at %v, want now", p.Start)
			}
		case "r2":
			if !p.Pending || p.Start == nil || !p.End.Equal(p.Start.Add(90*time.Minute)) {
				t.Errorf("r2 = %+v, want pending again, running its 90m left", p)
			}
		}
	}
}

func TestQuotaChangeErrors(t *testing.T) {
	for _, bad := range []string{"team-a:gpu=8", "team-a:a100:gpu", "team-a:a100:disk=8", "team-a:a100:gpu=lots", "team-a:a100:gpu=-1", ":a100:gpu=1"} {
		if _, err := ParseQuotaChange(bad); err == nil {
			t.Errorf("ParseQuotaChange(%q) = nil error", bad)
		}
	}
	live := whatIfCluster()
	for in, want := range map[string]string{"nope:a100:gpu=1": `no queue "nope"`, "team-a:h100:gpu=1": `no flavor "h100"`} {
		ch, err := ParseQuotaChange(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ApplyQuota(live.Queues, live.Flavors, []QuotaChange{ch}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ApplyQuota(%s) = %v, want %s", in, err, want)
		}
	}
	if _, err := Project(live, ProjectOptions{Now: whatIfNow}); err == nil {
		t.Error("Project without a default runtime: nil error")
	}
}
