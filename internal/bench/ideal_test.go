package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func loadSetup(t *testing.T, path string) *Setup {
	t.Helper()
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(sc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// idealNumbers is what the hand computations in testdata/ideal-*.yaml fix.
type idealNumbers struct {
	WallMs    int64
	TTA       map[string]int64 // average per class
	MaxTTA    map[string]int64
	Usage     map[string]float64 // minUsagePercent per queue class
	Evictions int
	// LostMilli is the work preempted runs lost, in thousandths of a
	// unit·second.
	LostMilli int64
	// Preemptions by reason
	Preemptions map[string]int
}

func numbersOf(r *Result) idealNumbers {
	n := idealNumbers{WallMs: r.WallMs, TTA: r.AvgTimeToAdmissionMs, MaxTTA: map[string]int64{}, Usage: r.MinUsagePercent, Evictions: r.Detail.Evictions}
	if id := r.Detail.Ideal; id != nil {
		n.LostMilli = int64(id.LostUnitSeconds*1000 + 0.5)
		n.Preemptions = id.Preemptions
	}
	for name, c := range r.Detail.Classes {
		n.MaxTTA[name] = c.MaxTimeToAdmissionMs
	}
	return n
}

// The expected numbers are worked out in the comments of the testdata
// files and below: each follows from the arrivals, runtimes and quota
// alone.
func TestRunIdealByHand(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		opts       IdealOptions
		want       idealNumbers
	}{{
		name: "fifo", file: "testdata/ideal-fifo.yaml",
		want: idealNumbers{WallMs: 2100, TTA: map[string]int64{"small": 266}, MaxTTA: map[string]int64{"small": 800}, Usage: map[string]float64{"cq": 71.4}},
	}, {
		// Admissions land 50 ms after their cycle: the jobs start at 150
		// and 250 ms; the third is admitted when the first ends (1150 ms)
		// and lands at 1200 ms (900 ms after it arrived), ending at 2200
		// ms. Usage 3 / (2 × 2.2) = 68.2%.
		name: "fifo with cycle latency", file: "testdata/ideal-fifo.yaml", opts: IdealOptions{CycleLatency: 50 * time.Millisecond},
		want: idealNumbers{WallMs: 2200, TTA: map[string]int64{"small": 333}, MaxTTA: map[string]int64{"small": 900}, Usage: map[string]float64{"cq": 68.2}},
	}, {
		name: "preemption", file: "testdata/ideal-preempt.yaml",
		want: idealNumbers{WallMs: 1800, TTA: map[string]int64{"low": 700, "high": 0}, MaxTTA: map[string]int64{"low": 700, "high": 0}, Usage: map[string]float64{"cq": 94.4}, Evictions: 1, LostMilli: 200, Preemptions: map[string]int{"InQueue": 1}},
	}, {
		// The victim holds its cpu until 350 ms (0.25 cpu·s lost): the high
		// job runs 350-850 ms, the low one again 850-1850 ms (admitted 750
		// ms after it arrived). Usage (0.25 + 0.5 + 1) / 1.85 = 94.6%.
		name: "preemption with eviction delay", file: "testdata/ideal-preempt.yaml", opts: IdealOptions{EvictionDelay: 50 * time.Millisecond},
		want: idealNumbers{WallMs: 1850, TTA: map[string]int64{"low": 750, "high": 50}, MaxTTA: map[string]int64{"low": 750, "high": 50}, Usage: map[string]float64{"cq": 94.6}, Evictions: 1, LostMilli: 250, Preemptions: map[string]int{"InQueue": 1}},
	}, {
		// The low job lands at 150 ms; the preemption decided at 300 ms
		// lands at 350 ms, when the victim is released; the high job is
		// admitted then and lands at 400 ms (100 ms after it arrived),
		// ending at 900 ms; the low job lands again at 950 ms and ends at
		// 1950 ms. Usage (0.2 + 0.5 + 1) / 1.95 = 87.2%; 0.2 cpu·s lost.
		name: "preemption with cycle latency", file: "testdata/ideal-preempt.yaml", opts: IdealOptions{CycleLatency: 50 * time.Millisecond},
		want: idealNumbers{WallMs: 1950, TTA: map[string]int64{"low": 850, "high": 100}, MaxTTA: map[string]int64{"low": 850, "high": 100}, Usage: map[string]float64{"cq": 87.2}, Evictions: 1, LostMilli: 200, Preemptions: map[string]int{"InQueue": 1}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := RunIdeal(loadSetup(t, tc.file), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, numbersOf(res), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("numbers (-want +got):\n%s", diff)
			}
			if res.Detail.Ideal == nil || res.Detail.Ideal.EvictionDelay != tc.opts.EvictionDelay || res.Detail.Ideal.CycleLatency != tc.opts.CycleLatency {
				t.Errorf("Detail.Ideal = %+v, want the options it ran with", res.Detail.Ideal)
			}
		})
	}
}

// The victim is requeued as the job controller requeues a preempted job:
// the notice cleared, the preemption counted, the admission released, a
// new attempt, and its original creation time kept.
func TestRunIdealRequeuesTheVictimLikeTheJobController(t *testing.T) {
	r, err := newReplay(loadSetup(t, "testdata/ideal-preempt.yaml"), IdealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.run(); err != nil {
		t.Fatal(err)
	}
	low := r.jobs["cq-0-0-cohort-0/low-0-0-0"]
	if low == nil {
		t.Fatalf("no low job among %d jobs", len(r.jobs))
	}
	st := low.obj.Status
	if st.Preemptions != 1 || st.Attempt != 1 || st.Preemption != nil || st.Phase != "Succeeded" {
		t.Errorf("victim status: preemptions %d, attempt %d, notice %v, phase %s; want 1, 1, none, Succeeded", st.Preemptions, st.Attempt, st.Preemption, st.Phase)
	}
	if got, want := low.obj.CreationTimestamp.Sub(r.t0), 100*time.Millisecond; got != want {
		t.Errorf("victim created at +%s, want +%s (its arrival, kept through the requeue)", got, want)
	}
	// Like the job controller, the start time is the first run's.
	if got, want := st.StartTime.Sub(r.t0), 100*time.Millisecond; got != want {
		t.Errorf("victim started at +%s, want +%s", got, want)
	}
	if got, want := st.CompletionTime.Sub(r.t0), 1800*time.Millisecond; got != want {
		t.Errorf("victim completed at +%s, want +%s: a full second after its readmission at 800 ms", got, want)
	}
	high := r.jobs["cq-0-0-cohort-0/high-1-0-0"]
	if st := high.obj.Status; st.Preemptions != 0 || st.Admission == nil || st.Admission.Queue != "cq-0-0-cohort-0" {
		t.Errorf("preemptor status: preemptions %d, admission %+v", st.Preemptions, st.Admission)
	}
}

// With no time between a preemption and the release, the core goes round
// in a circle (see testdata/ideal-loop.yaml); the replay must notice,
// wait for the next event and still finish.
func TestRunIdealStopsAPreemptionLoop(t *testing.T) {
	res, err := RunIdeal(loadSetup(t, "testdata/ideal-loop.yaml"), IdealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Detail
	if d.Ideal.PreemptionLoops == 0 {
		t.Fatalf("no preemption loop counted (%d evictions in %d cycles)", d.Evictions, d.Ideal.Cycles)
	}
	// Closing a loop takes at least two reclaims at its instant.
	if n := d.Ideal.Preemptions["Reclaim"]; n < 2*d.Ideal.PreemptionLoops || n > d.Evictions {
		t.Errorf("%d reclaims for %d loops and %d evictions", n, d.Ideal.PreemptionLoops, d.Evictions)
	}
	for name, c := range d.Classes {
		if c.NeverAdmitted != 0 {
			t.Errorf("class %s: %d jobs never admitted", name, c.NeverAdmitted)
		}
	}
	// A latency between cycles turns the loop into a sequence in time.
	res, err = RunIdeal(loadSetup(t, "testdata/ideal-loop.yaml"), IdealOptions{CycleLatency: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Detail.Ideal.PreemptionLoops; n != 0 {
		t.Errorf("%d preemption loops with a cycle latency, want 0", n)
	}
}

func TestRunIdealIsDeterministic(t *testing.T) {
	for _, file := range []string{"testdata/tiny.yaml", "testdata/ideal-loop.yaml"} {
		for _, opts := range []IdealOptions{{}, {EvictionDelay: 30 * time.Millisecond, CycleLatency: 20 * time.Millisecond}} {
			a, err := RunIdeal(loadSetup(t, file), opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := RunIdeal(loadSetup(t, file), opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("%s %+v: two replays differ (-first +second):\n%s", file, opts, diff)
			}
		}
	}
}

func TestRunIdealRejects(t *testing.T) {
	fifo := func() *Setup { return loadSetup(t, "testdata/ideal-fifo.yaml") }
	tooBig := fifo()
	// A job that asks for more than its queue could ever hold is refused
	// at submission, as the API server's admission check refuses it.
	tooBig.Queues[0].Streams[0].Jobs[0].Spec.ReplicaGroups[0].Replicas = 3
	for _, tc := range []struct {
		name  string
		setup *Setup
		opts  IdealOptions
		want  string
	}{
		{"no setup", nil, IdealOptions{}, "no setup"},
		{"negative eviction delay", fifo(), IdealOptions{EvictionDelay: -time.Second}, "evictionDelay: -1s is negative"},
		{"negative cycle latency", fifo(), IdealOptions{CycleLatency: -time.Millisecond}, "cycleLatency: -1ms is negative"},
		{"infeasible job", tooBig, IdealOptions{}, "submitting job cq-0-0-cohort-0/small-0-0-0: spec."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RunIdeal(tc.setup, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The scenario the live benchmark runs must replay too, and quickly: it
// is the reference the live numbers are read against.
func TestRunIdealBaseline(t *testing.T) {
	res, err := RunIdeal(loadSetup(t, "../../bench/scheduler/kueue-baseline.yaml"), IdealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Detail
	if d.Workloads != 15000 || d.Classes["small"].Count != 10500 || d.Classes["medium"].Count != 3000 || d.Classes["large"].Count != 1500 {
		t.Fatalf("replayed %d workloads: %+v", d.Workloads, d.Classes)
	}
	for name, c := range d.Classes {
		if c.NeverAdmitted != 0 {
			t.Errorf("class %s: %d jobs never admitted", name, c.NeverAdmitted)
		}
	}
	// The last job arrives at 60 s (the 50th large, every 1.2 s) and runs
	// for 1 s: no replay can end sooner.
	if res.WallMs < 61000 {
		t.Errorf("wall %d ms, shorter than the last arrival plus its runtime", res.WallMs)
	}
	if u := res.MinUsagePercent["cq"]; u <= 0 || u > 600 {
		t.Errorf("min usage %.1f%%, want within (0, 600] (nominal 20, borrowing up to 100 more)", u)
	}
}
