package sim

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/sim/trace"
)

func oneNode(gpus int) []trace.Node {
	return []trace.Node{{Name: "n0", Model: "gpu", GPUs: gpus}}
}

func job(id string, submit float64, gpuMilli int64, dur float64) trace.Job {
	return trace.Job{ID: id, Tenant: "t", Submit: submit, Replicas: 1, GPUMilli: gpuMilli, Duration: dur}
}

// finishTimes maps job IDs to JCTs by re-running with a recorder.
func jcts(t *testing.T, jobs []trace.Job, nodes []trace.Node, p Policy, opt Options) (map[string]float64, *Result) {
	t.Helper()
	e, err := newEngine(jobs, nodes, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	e.loop()
	e.res.finish(e)
	out := map[string]float64{}
	for _, sj := range e.jobs {
		if sj.state == done {
			out[sj.tj.ID] = sj.finish - sj.tj.Submit
		}
	}
	return out, e.res
}

func policy(t *testing.T, name string, las ...float64) Policy {
	t.Helper()
	p, err := NewPolicy(name, las)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var approx = cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-6 })

// Five jobs on one 4-GPU node under FIFO (StrictFIFO, no backfill):
//
//	j1 t=0 2 GPUs 10s: runs 0-10            JCT 10
//	j2 t=1 2 GPUs  5s: runs 1-6             JCT 5
//	j3 t=2 4 GPUs  3s: waits for all 4 GPUs, runs 10-13   JCT 11
//	j4 t=3 1 GPU   2s: behind j3 although 2 GPUs are free at 6, runs 13-15  JCT 12
//	j5 t=4 1 GPU   4s: runs 13-17           JCT 13
//
// Average JCT 51/5 = 10.2; queueing (0+0+8+10+9)/5 = 5.4; makespan 17;
// utilization (2·10 + 2·5 + 4·3 + 1·2 + 1·4) / (4·17) = 48/68.
func TestFIFOFiveJobs(t *testing.T) {
	jobs := []trace.Job{job("j1", 0, 2000, 10), job("j2", 1, 2000, 5), job("j3", 2, 4000, 3), job("j4", 3, 1000, 2), job("j5", 4, 1000, 4)}
	got, r := jcts(t, jobs, oneNode(4), policy(t, FIFO), Options{})
	want := map[string]float64{"j1": 10, "j2": 5, "j3": 11, "j4": 12, "j5": 13}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("JCTs (-want +got):\n%s", diff)
	}
	sum := struct{ Jobs, Avg, P50, P99, Queue, Makespan, Util, Pre any }{5, 10.2, 11.0, 13.0, 5.4, 17.0, 48.0 / 68, 0}
	gotSum := struct{ Jobs, Avg, P50, P99, Queue, Makespan, Util, Pre any }{r.Jobs, r.AvgJCT, r.P50JCT, r.P99JCT, r.AvgQueueing, r.Makespan, r.Utilization, r.Preemptions}
	if diff := cmp.Diff(sum, gotSum, approx); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	// The default policy lets j4 and j5 start on the two GPUs free at 6
	// (no estimates, so no reservation holds them for j3), which then
	// waits for all four: j4 runs 6-8, j5 6-10, j3 10-13.
	got, _ = jcts(t, jobs, oneNode(4), policy(t, Default), Options{})
	want = map[string]float64{"j1": 10, "j2": 5, "j3": 11, "j4": 5, "j5": 6}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("default JCTs (-want +got):\n%s", diff)
	}
}

// LAS with one threshold at 10 GPU-seconds on a 2-GPU node, restart
// penalty 2s:
//
//	A t=0  1 GPU 100s: level 1 at t=10
//	B t=5  1 GPU 100s: level 1 at t=15
//	C t=20 1 GPU 5s: top level; preempts B (same level as A, started later), runs 20-25
//	B restarts at 25, progress from 27 (85s left): would end at 112
//	D t=30 1 GPU 5s: preempts B again (started at 25, after A), runs 30-35
//	B restarts at 35, progress from 37 with 82s left (3s done in 27-30): ends 119
//
// JCTs: A 100, B 114, C 5, D 5.
func TestLASPreemptionOrder(t *testing.T) {
	jobs := []trace.Job{job("A", 0, 1000, 100), job("B", 5, 1000, 100), job("C", 20, 1000, 5), job("D", 30, 1000, 5)}
	var log []string
	opt := Options{RestartPenalty: 2, OnPreempt: func(at float64, victim, by string) {
		log = append(log, strings.Join([]string{victim, "by", by, "at", ftoa(at)}, " "))
	}}
	got, r := jcts(t, jobs, oneNode(2), policy(t, LAS, 10), opt)
	if diff := cmp.Diff([]string{"B by C at 20", "B by D at 30"}, log); diff != "" {
		t.Errorf("preemptions (-want +got):\n%s", diff)
	}
	want := map[string]float64{"A": 100, "B": 114, "C": 5, "D": 5}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("JCTs (-want +got):\n%s", diff)
	}
	if r.Preemptions != 2 {
		t.Errorf("preemptions = %d, want 2", r.Preemptions)
	}
}

// default orders jobs by attained service across tenants (the core's
// spec.leastAttainedService with scope Cohort) but takes from another
// tenant only what that tenant borrows; las does the same over one queue
// for everyone. One threshold at 10 GPU-seconds, a 2-GPU node, tenants a
// and b with a nominal GPU each:
//
//	a-long, b-long t=0 1 GPU 100s: level 1 at t=10
//	a-short t=20 1 GPU 5s: preempts a-long under both (equal levels and
//	  starts; the name decides), runs 20-25; a-long restarts at 25
//	b-short t=30 1 GPU 5s: under default preempts b-long, its own
//	  tenant's, as a borrows nothing; under las a-long, the most recently
//	  started of level 1.
func TestDefaultPreemptsByAttainedServiceWithinTenant(t *testing.T) {
	mk := func(id, tenant string, submit, dur float64) trace.Job {
		j := job(id, submit, 1000, dur)
		j.Tenant = tenant
		return j
	}
	jobs := []trace.Job{mk("a-long", "a", 0, 100), mk("b-long", "b", 0, 100), mk("a-short", "a", 20, 5), mk("b-short", "b", 30, 5)}
	for name, want := range map[string][]string{
		Default: {"a-long by a-short at 20", "b-long by b-short at 30"},
		LAS:     {"a-long by a-short at 20", "a-long by b-short at 30"},
	} {
		var log []string
		opt := Options{OnPreempt: func(at float64, victim, by string) {
			log = append(log, strings.Join([]string{victim, "by", by, "at", ftoa(at)}, " "))
		}}
		got, _ := jcts(t, jobs, oneNode(2), policy(t, name, 10), opt)
		if diff := cmp.Diff(want, log); diff != "" {
			t.Errorf("%s: preemptions (-want +got):\n%s", name, diff)
		}
		if got["a-short"] != 5 || got["b-short"] != 5 {
			t.Errorf("%s: short jobs' JCTs %v, want 5 each", name, got)
		}
	}
	if _, err := NewPolicy(Default, []float64{100, 10}); err == nil || !strings.Contains(err.Error(), "--las-thresholds") {
		t.Errorf("decreasing thresholds: %v, want an error naming --las-thresholds", err)
	}
}

// With scope Cohort a tenant that borrows may still preempt another
// tenant's higher-level job on borrowed capacity. One threshold at 10
// GPU-seconds, a 3-GPU node, tenants a, b and c with a nominal GPU each (c
// only runs a 1s job at t=0):
//
//	a-long-1, a-long-2, b-long t=1 1 GPU 100s: a borrows c's GPU; all at
//	  level 1 from t=11
//	b-short t=20 1 GPU 5s: b would borrow. Under default a's and b's
//	  level-1 jobs are candidates, all started at t=1, and the key picks
//	  a's first; with scope Queue only b's own job is.
func TestDefaultPreemptsAcrossTenantsOnBorrowedCapacity(t *testing.T) {
	mk := func(id, tenant string, submit, dur float64) trace.Job {
		j := job(id, submit, 1000, dur)
		j.Tenant = tenant
		return j
	}
	jobs := []trace.Job{mk("c-tiny", "c", 0, 1), mk("a-long-1", "a", 1, 100), mk("a-long-2", "a", 1, 100), mk("b-long", "b", 1, 100), mk("b-short", "b", 20, 5)}
	cohort := policy(t, Default, 10)
	queue := cohort
	queue.LAS = &v1alpha1.LeastAttainedService{ThresholdsGPUSeconds: cohort.LAS.ThresholdsGPUSeconds, Scope: v1alpha1.AttainedServiceScopeQueue}
	for name, tc := range map[string]struct {
		p    Policy
		want []string
	}{
		"scope Cohort": {cohort, []string{"a-long-1 by b-short at 20"}},
		"scope Queue":  {queue, []string{"b-long by b-short at 20"}},
	} {
		var log []string
		opt := Options{OnPreempt: func(at float64, victim, by string) {
			log = append(log, strings.Join([]string{victim, "by", by, "at", ftoa(at)}, " "))
		}}
		got, _ := jcts(t, jobs, oneNode(3), tc.p, opt)
		if diff := cmp.Diff(tc.want, log); diff != "" {
			t.Errorf("%s: preemptions (-want +got):\n%s", name, diff)
		}
		if got["b-short"] != 5 {
			t.Errorf("%s: b-short's JCT %g, want 5", name, got["b-short"])
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Fractional GPUs share a device through the core: three 0.5-GPU jobs on
// one GPU run two at a time.
//
//	f1 t=0 0.5 GPU 10s: 0-10   f2 t=0 0.5 GPU 4s: 0-4   f3 t=1 0.5 GPU 3s: 4-7
func TestFractionalGPUsShareADevice(t *testing.T) {
	jobs := []trace.Job{job("f1", 0, 500, 10), job("f2", 0, 500, 4), job("f3", 1, 500, 3)}
	got, r := jcts(t, jobs, oneNode(1), policy(t, FIFO), Options{})
	want := map[string]float64{"f1": 10, "f2": 4, "f3": 6}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("JCTs (-want +got):\n%s", diff)
	}
	// 0.5·10 + 0.5·4 + 0.5·3 = 8.5 GPU-seconds over 1 GPU · 10 s.
	if math.Abs(r.Utilization-0.85) > 1e-9 {
		t.Errorf("utilization = %g, want 0.85", r.Utilization)
	}
}

// A job larger than the cluster is reported and left out; the rest run.
func TestJobLargerThanClusterIsReported(t *testing.T) {
	jobs := []trace.Job{job("ok", 0, 1000, 5), {ID: "huge", Tenant: "t", Submit: 1, Replicas: 3, GPUMilli: 4000, Duration: 5}}
	for _, name := range Policies {
		r, err := Run(jobs, oneNode(8), policy(t, name), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Jobs != 1 || len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0], "huge") {
			t.Errorf("%s: jobs=%d rejected=%v, want 1 finished and huge rejected", name, r.Jobs, r.Rejected)
		}
	}
}

// With a scheduling period, decisions wait for the next multiple of it.
func TestIntervalDelaysDecisions(t *testing.T) {
	jobs := []trace.Job{job("a", 1, 1000, 10), job("b", 2, 1000, 10)}
	got, r := jcts(t, jobs, oneNode(1), policy(t, FIFO), Options{Interval: 5})
	// a starts at 5 (ends 15); b is admitted at the cycle at 15.
	want := map[string]float64{"a": 14, "b": 23}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("JCTs (-want +got):\n%s", diff)
	}
	if r.Cycles != 2 {
		t.Errorf("cycles = %d, want 2", r.Cycles)
	}
}

// A node failure stops the job on it; it restarts elsewhere (or there,
// once repaired) with its progress and the restart penalty.
func TestNodeFailureRestartsJobs(t *testing.T) {
	jobs := []trace.Job{job("a", 0, 1000, 1000)}
	r, err := Run(jobs, oneNode(1), policy(t, FIFO), Options{NodeMTBF: 100, NodeRepair: 10, RestartPenalty: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Jobs != 1 || r.Failures == 0 {
		t.Fatalf("jobs=%d failures=%d, want the job finished after at least one failure", r.Jobs, r.Failures)
	}
	// Each failure costs the repair wait (10s) plus the penalty (1s).
	if want := 1000 + 11*float64(r.Failures); r.AvgJCT < want-1e-6 || r.AvgJCT > want+10*float64(r.Failures) {
		t.Errorf("JCT = %g with %d failures, want about %g", r.AvgJCT, r.Failures, want)
	}
}

// With one queue, passing the core only the pending jobs that could act
// gives exactly the plans it makes with every pending job.
func TestCandidateFilterIsExactForOneQueue(t *testing.T) {
	s := trace.DefaultSynth()
	s.Jobs, s.Nodes, s.Load, s.Tenants, s.MeanDuration = 150, 4, 1.6, 3, 600
	tr, err := s.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{FIFO, SJFOracle, LAS} {
		p := policy(t, name, 600, 6000)
		run := func(all bool) map[string]float64 {
			e, err := newEngine(tr.Jobs, tr.Nodes, p, Options{RestartPenalty: 5})
			if err != nil {
				t.Fatal(err)
			}
			e.allPending = all
			e.loop()
			out := map[string]float64{}
			for _, sj := range e.jobs {
				out[sj.tj.ID] = sj.finish
			}
			return out
		}
		if diff := cmp.Diff(run(true), run(false)); diff != "" {
			t.Errorf("%s: finish times with every pending job (-) and with candidates (+):\n%s", name, diff)
		}
	}
}

// The core's Scheduler keeps its state between cycles and updates it from
// what changed (the engine hands it changed jobs and nodes as new
// objects): every policy must give exactly the results of building the
// core's state afresh at every cycle, with preemptions, node failures,
// restarts and a scheduling period in play.
func TestKeptCoreStateChangesNoResult(t *testing.T) {
	s := trace.DefaultSynth()
	s.Jobs, s.Nodes, s.Load, s.Tenants, s.MeanDuration = 250, 4, 1.5, 4, 900
	tr, err := s.Generate()
	if err != nil {
		t.Fatal(err)
	}
	opts := []Options{
		{RestartPenalty: 5, NodeMTBF: 20000, NodeRepair: 600, Seed: 2},
		{Interval: 60, NodeMTBF: 50000, NodeRepair: 300, Seed: 5},
	}
	for _, name := range Policies {
		p := policy(t, name, 600, 6000)
		for i, opt := range opts {
			run := func(fresh bool) *Result {
				e, err := newEngine(tr.Jobs, tr.Nodes, p, opt)
				if err != nil {
					t.Fatal(err)
				}
				e.freshCore = fresh
				e.loop()
				e.res.finish(e)
				return e.res
			}
			want, got := run(true), run(false)
			if want.Jobs == 0 || want.Cycles == 0 {
				t.Fatalf("%s options %d: nothing ran", name, i)
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("%s options %d: results differ with a kept core state:\nfresh %+v\nkept  %+v", name, i, *want, *got)
			}
			if name == LAS && i == 0 && got.Preemptions == 0 {
				t.Errorf("las: no preemptions; the case does not test them")
			}
			if i == 0 && got.Failures == 0 {
				t.Errorf("%s: no node failures; the case does not test them", name)
			}
		}
	}
}
