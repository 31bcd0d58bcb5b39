package bench

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

func jobState(ns, name string, phase v1alpha1.JobPhase, queue string) *v1alpha1.Job {
	j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	j.Status.Phase = phase
	if queue != "" {
		j.Status.Admission = &v1alpha1.Admission{Queue: queue}
	}
	return j
}

// Two queues of nominal 10 over a 10 s run: q1 holds 5 units for 4 s and
// then, after being preempted, 5 units for 2 s more (30 unit·s = 30%); q2
// borrows and holds 20 units for 5 s (100 unit·s = 100%).
func TestRecorderComputesKueueMetrics(t *testing.T) {
	setup := &Setup{Total: 2, Queues: []*QueueSetup{
		{Queue: &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "q1"}}, Class: "cq", Nominal: 10},
		{Queue: &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "q2"}}, Class: "cq", Nominal: 10},
	}}
	r := newRecorder(setup)
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	r.start(t0)
	r.submit("ns1/a", JobTemplate{Class: "small", Units: 5, Runtime: time.Second}, "q1", at(0))
	r.submit("ns2/b", JobTemplate{Class: "large", Units: 20, Runtime: 4 * time.Second}, "q2", at(1))

	r.observe(jobState("ns1", "a", v1alpha1.JobPending, ""), at(0.1))
	r.observe(jobState("ns1", "a", v1alpha1.JobAdmitted, "q1"), at(1))
	r.observe(jobState("ns1", "a", v1alpha1.JobRunning, "q1"), at(2))
	r.observe(jobState("ns2", "b", v1alpha1.JobAdmitted, "q2"), at(3))
	// a is preempted: its admission is released, then it is admitted again.
	r.observe(jobState("ns1", "a", v1alpha1.JobPending, ""), at(5))
	r.observe(jobState("ns1", "a", v1alpha1.JobAdmitted, "q1"), at(6))
	r.observe(jobState("ns2", "b", v1alpha1.JobSucceeded, "q2"), at(8))
	r.observe(jobState("ns1", "a", v1alpha1.JobSucceeded, "q1"), at(8))
	select {
	case <-r.done:
	default:
		t.Fatal("the recorder is not done after every job finished")
	}
	// Events after a job finished change nothing.
	r.observe(jobState("ns1", "a", v1alpha1.JobRunning, "q1"), at(9))

	classes, queues := r.summary(t0, at(10))
	if got := classes["small"].AvgTimeToAdmissionMs; got != 6000 {
		t.Errorf("small TTA = %dms, want 6000 (the last admission, as Kueue counts it)", got)
	}
	if got := classes["large"].AvgTimeToAdmissionMs; got != 2000 {
		t.Errorf("large TTA = %dms, want 2000", got)
	}
	cq := queues["cq"]
	for name, c := range map[string][2]float64{
		"min": {cq.MinUsagePercent, 30}, "max": {cq.MaxUsagePercent, 100}, "class": {cq.ClassUsagePercent, 65}, "peak": {cq.PeakPercent, 200},
	} {
		if math.Abs(c[0]-c[1]) > 1e-9 {
			t.Errorf("%s usage = %v%%, want %v%%", name, c[0], c[1])
		}
	}
	if r.evictions != 1 {
		t.Errorf("evictions = %d, want 1", r.evictions)
	}
	// q1's 30 unit·s: a's 1 s of runtime at 5 units is the work, the 4 s
	// it held before its eviction are lost, and the 1 s its second hold
	// outlasted its runtime is held beyond it.
	if lo, want := cq.Lowest, (QueueUsage{Queue: "q1", Held: 30, Work: 5, Lost: 20, Beyond: 5}); !approxUsage(lo, want) {
		t.Errorf("lowest queue = %+v, want %+v", lo, want)
	}

	// Second by second: a holds 5 units over [1,5) and [6,8), b 20 over
	// [3,8), of the queues' 20 nominal; a's eviction at 5 throws away the
	// 4 s it had held 5 units; each held 1 s beyond its runtime in the end.
	tl := r.tl.timeline(at(10), 20)
	// (The run ends exactly at 10 s: the second starting then is listed,
	// empty, as the one a finish at that instant would be counted in.)
	wantHeld := []float64{0, 25, 25, 125, 125, 100, 125, 125, 0, 0, 0}
	wantPending := []int{1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0}
	if len(tl.Seconds) != len(wantHeld) {
		t.Fatalf("timeline has %d seconds, want %d: %+v", len(tl.Seconds), len(wantHeld), tl.Seconds)
	}
	for i, s := range tl.Seconds {
		if s.T != i || s.HeldPercent != wantHeld[i] || s.Pending != wantPending[i] {
			t.Errorf("second %d = %+v, want held %v%%, pending %d", i, s, wantHeld[i], wantPending[i])
		}
	}
	for i, c := range map[int][3]map[string]int{
		1: {{"small": 1}, nil, nil}, 3: {{"large": 1}, nil, nil}, 5: {nil, nil, {"small": 1}},
		6: {{"small": 1}, nil, nil}, 8: {nil, {"small": 1, "large": 1}, nil},
	} {
		s := tl.Seconds[i]
		if !reflect.DeepEqual(s.Admitted, c[0]) || !reflect.DeepEqual(s.Finished, c[1]) || !reflect.DeepEqual(s.Evicted, c[2]) {
			t.Errorf("second %d: admitted %v finished %v evicted %v, want %v %v %v", i, s.Admitted, s.Finished, s.Evicted, c[0], c[1], c[2])
		}
	}
	if tl.LostUnitSeconds != 20 {
		t.Errorf("lost work = %v unit·s, want 20", tl.LostUnitSeconds)
	}
	if want := map[string]float64{"small": 1000, "large": 1000}; !reflect.DeepEqual(tl.HeldBeyondRuntimeMs, want) {
		t.Errorf("held beyond runtime = %v, want %v", tl.HeldBeyondRuntimeMs, want)
	}
}

func TestRecorderCountsAJobSeenOnlyFinished(t *testing.T) {
	setup := &Setup{Total: 1, Queues: []*QueueSetup{{Queue: &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: "q"}}, Class: "cq", Nominal: 1}}}
	r := newRecorder(setup)
	t0 := time.Unix(0, 0)
	r.start(t0)
	r.submit("ns/a", JobTemplate{Class: "small", Units: 1}, "q", t0)
	// A relist after an expired watch can find a job already finished.
	r.observe(jobState("ns", "a", v1alpha1.JobSucceeded, "q"), t0.Add(3*time.Second))
	classes, _ := r.summary(t0, t0.Add(3*time.Second))
	if classes["small"].AvgTimeToAdmissionMs != 3000 || classes["small"].NeverAdmitted != 0 {
		t.Fatalf("small = %+v", classes["small"])
	}
	tl := r.tl.timeline(t0.Add(4*time.Second), 1)
	if s := tl.Seconds[3]; s.Pending != 0 || s.Finished["small"] != 1 || s.HeldPercent != 0 {
		t.Errorf("second 3 = %+v, want the job finished and nothing pending or held", s)
	}
}

// TestRunSchedulerEndToEnd runs a small scenario through the real embedded
// server, API and simulated runtime.
func TestRunSchedulerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and runs for seconds")
	}
	sc, err := LoadScenario("testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := RunScheduler(ctx, Options{Scenario: sc, DataDir: t.TempDir(), Timeout: 45 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The JSON has exactly the documented shape.
	var buf jsonBuffer
	if err := WriteJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(buf, &shape); err != nil {
		t.Fatal(err)
	}
	if len(shape) != 4 || shape["wallMs"] == nil || shape["avgTimeToAdmissionMs"] == nil || shape["minUsagePercent"] == nil || shape["classUsagePercent"] == nil {
		t.Fatalf("JSON keys: %s", buf)
	}
	var tta map[string]int64
	var usage map[string]float64
	if err := json.Unmarshal(shape["avgTimeToAdmissionMs"], &tta); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(shape["minUsagePercent"], &usage); err != nil {
		t.Fatal(err)
	}
	if len(tta) != 2 || len(usage) != 1 {
		t.Fatalf("classes: tta %v, usage %v; want small and large, and cq", tta, usage)
	}

	// The last submission is due at 8×50 ms and the work needs at least
	// 2 cohorts' worth of queue time, so the run cannot be shorter than
	// 400 ms; on a loaded 2-core machine it should still end within 20 s.
	if res.WallMs < 400 || res.WallMs > 20000 {
		t.Errorf("wallMs = %d, want between 400 and 20000", res.WallMs)
	}
	for class, ms := range tta {
		if ms < 0 || ms > res.WallMs {
			t.Errorf("avg time to admission of %s = %dms, outside [0, wall %dms]", class, ms, res.WallMs)
		}
	}
	// Each queue's work is 8×1×0.1 + 3×4×0.2 = 3.2 unit·s over a quota of
	// 4: any queue that ran its own work used something, and no queue can
	// average more than its quota plus borrowing limit (200%).
	if u := usage["cq"]; u <= 0 || u > 200 {
		t.Errorf("min usage of cq = %v%%, want in (0, 200]", u)
	}
	if res.Detail.Classes["small"].Count != 32 || res.Detail.Classes["large"].Count != 12 {
		t.Errorf("counts: %+v %+v", res.Detail.Classes["small"], res.Detail.Classes["large"])
	}

	// The timeline accounts for every job: each finished once, was
	// admitted once more than it was evicted (unless a relist hid a hold
	// from the recorder), and nothing waits at the end.
	tl := res.Detail.Timeline
	if tl == nil || len(tl.Seconds) == 0 {
		t.Fatal("no timeline")
	}
	for class, n := range map[string]int{"small": 32, "large": 12} {
		admitted, finished, evicted := 0, 0, 0
		for _, sec := range tl.Seconds {
			admitted, finished, evicted = admitted+sec.Admitted[class], finished+sec.Finished[class], evicted+sec.Evicted[class]
		}
		if finished != n || (admitted != n+evicted && res.Detail.WatchRelists == 0) {
			t.Errorf("%s: admitted %d, finished %d, evicted %d over the timeline; want %d finished and admitted = finished + evicted",
				class, admitted, finished, evicted, n)
		}
		// The recorder sees an admission through the API's watch, which may
		// trail the replica's start by a little: a mean a few ms below 0
		// is possible, one below -50 ms is not.
		if ms := tl.HeldBeyondRuntimeMs[class]; ms < -50 || ms > float64(res.WallMs) {
			t.Errorf("%s held its quota %vms beyond its runtime, outside [-50ms, wall]", class, ms)
		}
	}
	if last := tl.Seconds[len(tl.Seconds)-1]; last.Pending != 0 || len(tl.Seconds) != int(res.WallMs/1000)+1 {
		t.Errorf("timeline: %d seconds for a %dms run, the last %+v; want one per started second and none pending", len(tl.Seconds), res.WallMs, last)
	}
}

type jsonBuffer []byte

func (b *jsonBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func approxUsage(a, b QueueUsage) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	return a.Queue == b.Queue && near(a.Held, b.Held) && near(a.Work, b.Work) && near(a.Lost, b.Lost) && near(a.Beyond, b.Beyond)
}
