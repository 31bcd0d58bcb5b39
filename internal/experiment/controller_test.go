package experiment_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/experiment"
	"skiff.dev/skiff/internal/store"
)

// harness drives the controller pass by pass over the memory store; the
// tests play the job controller by editing the trial Jobs' status.
type harness struct {
	t       *testing.T
	ctx     context.Context
	clock   *clocktesting.FakeClock
	store   store.Store
	metrics store.Metrics
	c       *experiment.Controller
}

func newHarness(t *testing.T) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	h := &harness{t: t, ctx: ctx, clock: clk, store: store.NewMemory(clk.Now), metrics: store.NewMemoryMetrics(0)}
	h.restart()
	return h
}

// restart replaces the controller by a fresh one, as a server restart does.
func (h *harness) restart() {
	h.c = &experiment.Controller{Store: h.store, Metrics: h.metrics, Clock: h.clock}
}

func (h *harness) create(edit func(*v1alpha1.Experiment)) *v1alpha1.Experiment {
	h.t.Helper()
	exp := &v1alpha1.Experiment{
		ObjectMeta: metav1.ObjectMeta{Name: "sweep", Namespace: "default"},
		Spec: v1alpha1.ExperimentSpec{
			Parameters: []v1alpha1.ParameterSpec{
				{Name: "lr", Type: v1alpha1.ParameterDouble, Min: ptr.To(0.001), Max: ptr.To(1.0), Log: true},
				{Name: "opt", Type: v1alpha1.ParameterCategorical, Values: []string{"adam", "sgd"}},
			},
			Objective:      v1alpha1.ObjectiveSpec{MetricName: "val_loss", Type: v1alpha1.Minimize},
			Algorithm:      v1alpha1.AlgorithmSpec{Name: "random", Seed: ptr.To(int64(3))},
			ParallelTrials: 2,
			MaxTrials:      4,
			TrialTemplate: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1,
				Template: v1alpha1.ReplicaTemplate{Command: []string{"python3", "train.py"}, Args: []string{"--lr=${params.lr}"},
					Env: []v1alpha1.EnvVar{{Name: "OPT", Value: "${params.opt}"}}}}}},
		},
	}
	if edit != nil {
		edit(exp)
	}
	v1alpha1.SetTypeMeta(exp)
	v1alpha1.Default(exp)
	if err := v1alpha1.Validate(exp); err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Create(h.ctx, exp); err != nil {
		h.t.Fatal(err)
	}
	return exp
}

func (h *harness) reconcile() {
	h.t.Helper()
	for i := 0; ; i++ {
		_, err := h.c.Reconcile(h.ctx, "default", "sweep")
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i > 3 {
			h.t.Fatalf("reconcile: %v", err)
		}
	}
}

func (h *harness) exp() *v1alpha1.Experiment {
	h.t.Helper()
	e := &v1alpha1.Experiment{}
	if err := h.store.Get(h.ctx, "default", "sweep", e); err != nil {
		h.t.Fatal(err)
	}
	return e
}

func (h *harness) job(name string) (*v1alpha1.Job, bool) {
	h.t.Helper()
	j := &v1alpha1.Job{}
	err := h.store.Get(h.ctx, "default", name, j)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return j, true
}

func (h *harness) jobNames() []string {
	h.t.Helper()
	var list v1alpha1.JobList
	if err := h.store.List(h.ctx, &list, store.ListOptions{Namespace: "default"}); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Name)
	}
	return out
}

// setJob plays the job controller: it moves a trial's Job to phase.
func (h *harness) setJob(name string, phase v1alpha1.JobPhase, reason string) {
	h.t.Helper()
	j, ok := h.job(name)
	if !ok {
		h.t.Fatalf("job %s does not exist", name)
	}
	j.Status.Phase = phase
	if phase == v1alpha1.JobFailed {
		j.Status.Conditions = []metav1.Condition{{Type: v1alpha1.JobConditionFailed, Status: metav1.ConditionTrue, Reason: reason, Message: "replica worker-0 exited with code 1"}}
	}
	if err := h.store.Update(h.ctx, j); err != nil {
		h.t.Fatal(err)
	}
}

// report stores metric points of a trial: values at steps 1, 2, ...
func (h *harness) report(job, metric string, values ...float64) {
	h.t.Helper()
	var pts []v1alpha1.MetricPoint
	for i, v := range values {
		pts = append(pts, v1alpha1.MetricPoint{Name: metric, Step: int64(i + 1), Value: v, Time: h.clock.Now()})
	}
	if err := h.metrics.Append(h.ctx, "default", job, pts); err != nil {
		h.t.Fatal(err)
	}
}

func states(e *v1alpha1.Experiment) []string {
	var out []string
	for _, t := range e.Status.Trials {
		out = append(out, t.Name+":"+string(t.State))
	}
	return out
}

func TestKeepsParallelTrialsAndEndsAtMaxTrials(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	h.reconcile()
	e := h.exp()
	if diff := cmp.Diff([]string{"sweep-0:Pending", "sweep-1:Pending"}, states(e)); diff != "" {
		t.Fatalf("trials (-want +got):\n%s", diff)
	}
	j, ok := h.job("sweep-0")
	if !ok {
		t.Fatal("trial sweep-0 has no job")
	}
	ref := metav1.GetControllerOf(j)
	if ref == nil || ref.UID != e.UID || ref.Kind != "Experiment" {
		t.Fatalf("job owner %+v, want the experiment", ref)
	}
	p := e.Status.Trials[0].Parameters
	tmpl := j.Spec.ReplicaGroups[0].Template
	if tmpl.Args[0] != "--lr="+p["lr"] || tmpl.Env[0].Value != p["opt"] {
		t.Fatalf("job args %v env %v, want the trial's parameters %v", tmpl.Args, tmpl.Env, p)
	}
	if j.Labels[experiment.LabelExperiment] != "sweep" || j.Labels[experiment.LabelTrial] != "0" {
		t.Fatalf("labels %v", j.Labels)
	}

	h.setJob("sweep-0", v1alpha1.JobRunning, "")
	h.report("sweep-0", "val_loss", 0.9, 0.5)
	h.reconcile()
	e = h.exp()
	if got := e.Status.Trials[0]; got.State != v1alpha1.TrialRunning || *got.Objective != 0.5 || got.Step != 2 {
		t.Fatalf("running trial %+v, want Running with its latest report 0.5 at step 2", got)
	}
	h.setJob("sweep-0", v1alpha1.JobSucceeded, "")
	h.reconcile()
	if diff := cmp.Diff([]string{"sweep-0:Succeeded", "sweep-1:Pending", "sweep-2:Pending"}, states(h.exp())); diff != "" {
		t.Fatalf("after one trial ended, a new one starts (-want +got):\n%s", diff)
	}
	h.setJob("sweep-1", v1alpha1.JobFailed, "BackoffLimitExceeded")
	h.report("sweep-2", "val_loss", 0.7, 0.3)
	h.setJob("sweep-2", v1alpha1.JobSucceeded, "")
	h.reconcile()
	h.report("sweep-3", "val_loss", 0.8)
	h.setJob("sweep-3", v1alpha1.JobSucceeded, "")
	h.reconcile()
	e = h.exp()
	if diff := cmp.Diff([]string{"sweep-0:Succeeded", "sweep-1:Failed", "sweep-2:Succeeded", "sweep-3:Succeeded"}, states(e)); diff != "" {
		t.Fatalf("trials (-want +got):\n%s", diff)
	}
	if e.Status.Phase != v1alpha1.ExperimentSucceeded || e.Status.Reason != v1alpha1.ReasonMaxTrialsReached || e.Status.BestTrial != "sweep-2" {
		t.Fatalf("phase %s reason %s best %s, want Succeeded MaxTrialsReached sweep-2", e.Status.Phase, e.Status.Reason, e.Status.BestTrial)
	}
	if e.Status.Trials[1].Reason != "BackoffLimitExceeded" {
		t.Fatalf("failed trial %+v, want the job's reason", e.Status.Trials[1])
	}
	if n := len(h.jobNames()); n != 4 {
		t.Fatalf("%d jobs, want 4", n)
	}
}

// failCreates makes job creation fail, as a crash right after the status
// write would leave things.
type failCreates struct {
	store.Store
	fail bool
}

func (f *failCreates) Create(ctx context.Context, obj v1alpha1.Object) error {
	if _, ok := obj.(*v1alpha1.Job); ok && f.fail {
		return errors.New("crash")
	}
	return f.Store.Create(ctx, obj)
}

func TestCrashBetweenRecordingATrialAndCreatingItsJob(t *testing.T) {
	h := newHarness(t)
	h.create(func(e *v1alpha1.Experiment) {
		e.Spec.Algorithm = v1alpha1.AlgorithmSpec{Name: "tpe", Seed: ptr.To(int64(9))}
	})
	fs := &failCreates{Store: h.store, fail: true}
	h.c.Store = fs
	if _, err := h.c.Reconcile(h.ctx, "default", "sweep"); err == nil {
		t.Fatal("reconcile succeeded although creating the job failed")
	}
	before := h.exp().Status.Trials
	if len(before) != 2 || len(h.jobNames()) != 0 {
		t.Fatalf("%d trials recorded and jobs %v, want 2 trials recorded and no job", len(before), h.jobNames())
	}
	h.restart()
	h.reconcile()
	h.reconcile()
	after := h.exp().Status.Trials
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("the restart changed the recorded trials (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"sweep-0", "sweep-1"}, h.jobNames()); diff != "" {
		t.Fatalf("jobs (-want +got):\n%s", diff)
	}
}

func TestSuggestionsAreReproducibleFromStoredTrials(t *testing.T) {
	run := func() []map[string]string {
		h := newHarness(t)
		h.create(func(e *v1alpha1.Experiment) {
			e.Spec.Algorithm = v1alpha1.AlgorithmSpec{Name: "tpe", Seed: ptr.To(int64(5)), Settings: map[string]string{"startupTrials": "2"}}
			e.Spec.ParallelTrials, e.Spec.MaxTrials = 1, 5
		})
		for i := range 5 {
			h.reconcile()
			name := experiment.TrialName("sweep", i)
			h.report(name, "val_loss", float64(i%3))
			h.setJob(name, v1alpha1.JobSucceeded, "")
			h.restart() // every pass by a new controller
		}
		h.reconcile()
		var out []map[string]string
		for _, tr := range h.exp().Status.Trials {
			out = append(out, tr.Parameters)
		}
		return out
	}
	a, b := run(), run()
	if len(a) != 5 {
		t.Fatalf("%d trials, want 5", len(a))
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("the same stored trials gave different suggestions (-first +second):\n%s", diff)
	}
}

func TestEarlyStoppedTrialIsStoppedNotFailed(t *testing.T) {
	h := newHarness(t)
	h.create(func(e *v1alpha1.Experiment) {
		e.Spec.EarlyStopping = &v1alpha1.EarlyStoppingSpec{Name: "asha", Settings: map[string]string{"minResource": "2", "maxResource": "8", "reductionFactor": "2"}}
	})
	h.reconcile()
	h.setJob("sweep-0", v1alpha1.JobRunning, "")
	h.setJob("sweep-1", v1alpha1.JobRunning, "")
	h.report("sweep-0", "val_loss", 0.5, 0.2)
	h.reconcile()
	h.report("sweep-1", "val_loss", 0.9, 0.8) // worse at the rung of step 2
	h.reconcile()
	e := h.exp()
	tr := e.Status.Trials[1]
	if tr.State != v1alpha1.TrialEarlyStopped || tr.Reason != experiment.ReasonEarlyStopped || tr.Message == "" {
		t.Fatalf("trial %+v, want EarlyStopped with the stopper's reason", tr)
	}
	if e.Status.Trials[0].State != v1alpha1.TrialRunning {
		t.Fatalf("the better trial is %s, want Running", e.Status.Trials[0].State)
	}
	j, _ := h.job("sweep-1")
	if reason, _, ok := j.StopRequested(); !ok || reason != experiment.ReasonEarlyStopped {
		t.Fatalf("job annotations %v, want a stop request with reason EarlyStopped", j.Annotations)
	}
	// The stopped trial no longer counts as in flight: a new one started.
	if len(e.Status.Trials) != 3 {
		t.Fatalf("trials %v, want a third one in place of the stopped one", states(e))
	}
	// The job ends as the job controller ends it; the trial stays EarlyStopped.
	h.setJob("sweep-1", v1alpha1.JobFailed, experiment.ReasonEarlyStopped)
	h.reconcile()
	if got := h.exp().Status.Trials[1].State; got != v1alpha1.TrialEarlyStopped {
		t.Fatalf("after its job ended the trial is %s, want EarlyStopped", got)
	}
}

// A stop decided and stored but not delivered (crash) is delivered by the
// next controller.
func TestStopRequestIsRedeliveredAfterARestart(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	h.reconcile()
	h.setJob("sweep-0", v1alpha1.JobRunning, "")
	e := h.exp()
	e.Status.Trials[0].State, e.Status.Trials[0].Reason, e.Status.Trials[0].Message = v1alpha1.TrialEarlyStopped, experiment.ReasonEarlyStopped, "rung 2"
	if err := h.store.Update(h.ctx, e); err != nil {
		t.Fatal(err)
	}
	h.restart()
	h.reconcile()
	j, _ := h.job("sweep-0")
	if reason, msg, ok := j.StopRequested(); !ok || reason != experiment.ReasonEarlyStopped || msg != "rung 2" {
		t.Fatalf("job annotations %v, want the stored stop delivered", j.Annotations)
	}
}

func TestGoalReachedEndsTheExperimentAndStopsTheOthers(t *testing.T) {
	h := newHarness(t)
	h.create(func(e *v1alpha1.Experiment) { e.Spec.Objective.Goal = ptr.To(0.1) })
	h.reconcile()
	h.setJob("sweep-1", v1alpha1.JobRunning, "")
	h.report("sweep-0", "val_loss", 0.3, 0.05)
	h.setJob("sweep-0", v1alpha1.JobSucceeded, "")
	h.reconcile()
	e := h.exp()
	if e.Status.Phase != v1alpha1.ExperimentSucceeded || e.Status.Reason != v1alpha1.ReasonGoalReached || e.Status.BestTrial != "sweep-0" {
		t.Fatalf("phase %s reason %s best %s, want Succeeded GoalReached sweep-0", e.Status.Phase, e.Status.Reason, e.Status.BestTrial)
	}
	if tr := e.Status.Trials[1]; tr.State != v1alpha1.TrialEarlyStopped || tr.Reason != experiment.ReasonExperimentEnded {
		t.Fatalf("other trial %+v, want EarlyStopped because the experiment ended", tr)
	}
	if j, _ := h.job("sweep-1"); j.Annotations[v1alpha1.AnnotationStopReason] != experiment.ReasonExperimentEnded {
		t.Fatalf("job annotations %v, want a stop request", j.Annotations)
	}
	if len(e.Status.Trials) != 2 {
		t.Fatalf("trials %v, want no new trial after the goal", states(e))
	}
	if c := meta.FindStatusCondition(e.Status.Conditions, v1alpha1.ExperimentConditionSucceeded); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("conditions %+v", e.Status.Conditions)
	}
}

func TestMetricNeverReportedFailsAfterTheFirstTrials(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	h.reconcile()
	h.report("sweep-0", "loss", 0.3)
	h.setJob("sweep-0", v1alpha1.JobSucceeded, "")
	h.reconcile()
	if e := h.exp(); e.Status.Phase != v1alpha1.ExperimentRunning {
		t.Fatalf("phase %s after one of the first two trials, want Running", e.Status.Phase)
	}
	h.setJob("sweep-1", v1alpha1.JobSucceeded, "")
	h.reconcile()
	e := h.exp()
	if e.Status.Phase != v1alpha1.ExperimentFailed || e.Status.Reason != v1alpha1.ReasonMetricNeverReported {
		t.Fatalf("phase %s reason %s, want Failed MetricNeverReported", e.Status.Phase, e.Status.Reason)
	}
	if !strings.Contains(e.Status.Message, `"val_loss"`) || !strings.Contains(e.Status.Message, "it reported loss") {
		t.Fatalf("message %q should name the missing metric and what was reported instead", e.Status.Message)
	}
	if tr := e.Status.Trials[0]; tr.State != v1alpha1.TrialFailed || tr.Reason != v1alpha1.ReasonMetricNeverReported {
		t.Fatalf("trial %+v", tr)
	}
	if tr := e.Status.Trials[2]; tr.State != v1alpha1.TrialEarlyStopped {
		t.Fatalf("trial started in between %+v, want stopped", tr)
	}
}

func TestMaxFailedTrials(t *testing.T) {
	h := newHarness(t)
	h.create(func(e *v1alpha1.Experiment) { e.Spec.MaxFailedTrials = ptr.To(int32(1)); e.Spec.MaxTrials = 6 })
	h.reconcile()
	h.report("sweep-0", "val_loss", 0.5) // reported, so the metric is known
	h.setJob("sweep-0", v1alpha1.JobFailed, "BackoffLimitExceeded")
	h.reconcile()
	if e := h.exp(); e.Status.Phase != v1alpha1.ExperimentRunning {
		t.Fatalf("phase %s after 1 failure, want Running (maxFailedTrials 1)", e.Status.Phase)
	}
	h.setJob("sweep-1", v1alpha1.JobFailed, "BackoffLimitExceeded")
	h.reconcile()
	e := h.exp()
	if e.Status.Phase != v1alpha1.ExperimentFailed || e.Status.Reason != v1alpha1.ReasonMaxFailedTrialsReached {
		t.Fatalf("phase %s reason %s, want Failed MaxFailedTrialsReached", e.Status.Phase, e.Status.Reason)
	}
	// The message leads to a cause: a failed trial and where its logs are.
	if !strings.Contains(e.Status.Message, "the last of them to start, sweep-1: ") || !strings.Contains(e.Status.Message, "(skiff logs job/sweep-1)") {
		t.Errorf("message %q does not name a failed trial and its logs", e.Status.Message)
	}
}

func TestGridEndsWhenTheSpaceIsExhausted(t *testing.T) {
	h := newHarness(t)
	h.create(func(e *v1alpha1.Experiment) {
		e.Spec.Parameters = []v1alpha1.ParameterSpec{{Name: "opt", Type: v1alpha1.ParameterCategorical, Values: []string{"adam", "sgd", "lamb"}}}
		e.Spec.TrialTemplate.ReplicaGroups[0].Template.Args = []string{"--opt=${params.opt}"}
		e.Spec.TrialTemplate.ReplicaGroups[0].Template.Env = nil
		e.Spec.Algorithm = v1alpha1.AlgorithmSpec{Name: "grid"}
		e.Spec.MaxTrials = 10
	})
	for i := range 3 {
		h.reconcile()
		name := experiment.TrialName("sweep", i)
		h.report(name, "val_loss", float64(3-i))
		h.setJob(name, v1alpha1.JobSucceeded, "")
	}
	h.reconcile()
	e := h.exp()
	if e.Status.Phase != v1alpha1.ExperimentSucceeded || e.Status.Reason != v1alpha1.ReasonSearchSpaceExhausted || len(e.Status.Trials) != 3 {
		t.Fatalf("phase %s reason %s trials %v, want Succeeded SearchSpaceExhausted after 3", e.Status.Phase, e.Status.Reason, states(e))
	}
	seen := map[string]bool{}
	for _, tr := range e.Status.Trials {
		seen[tr.Parameters["opt"]] = true
	}
	if len(seen) != 3 {
		t.Fatalf("grid tried %v, want each value once", seen)
	}
}

func TestDeletedTrialJobFailsTheTrialAndDeletingTheExperimentDeletesJobs(t *testing.T) {
	h := newHarness(t)
	h.create(nil)
	h.reconcile()
	h.setJob("sweep-0", v1alpha1.JobRunning, "")
	h.reconcile()
	if err := h.store.Delete(h.ctx, mustKind(t, "Job"), "default", "sweep-0", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if tr := h.exp().Status.Trials[0]; tr.State != v1alpha1.TrialFailed || tr.Reason != experiment.ReasonJobDeleted {
		t.Fatalf("trial %+v, want Failed JobDeleted", tr)
	}
	if err := h.store.Delete(h.ctx, mustKind(t, "Experiment"), "default", "sweep", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if names := h.jobNames(); len(names) != 0 {
		t.Fatalf("jobs %v left after the experiment was deleted", names)
	}
	h.reconcile() // a pass over a deleted experiment is a no-op
}

func mustKind(t *testing.T, name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		t.Fatalf("no kind %s", name)
	}
	return k
}

func TestTrialJobThatCannotBeCreatedFailsTheExperiment(t *testing.T) {
	h := newHarness(t)
	exp := h.create(nil)
	// A name that fits an Experiment but not "<name>-<index>" as a Job.
	long := strings.Repeat("a", 62)
	exp.Name, exp.ResourceVersion, exp.UID = long, "", ""
	if err := h.store.Create(h.ctx, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Reconcile(h.ctx, "default", long); err != nil {
		t.Fatal(err)
	}
	e := &v1alpha1.Experiment{}
	if err := h.store.Get(h.ctx, "default", long, e); err != nil {
		t.Fatal(err)
	}
	if e.Status.Phase != v1alpha1.ExperimentFailed || e.Status.Reason != "InvalidTrialJob" || !strings.Contains(e.Status.Message, "63 characters") {
		t.Fatalf("phase %s reason %s message %q, want Failed InvalidTrialJob naming the limit", e.Status.Phase, e.Status.Reason, e.Status.Message)
	}
	for _, tr := range e.Status.Trials {
		if tr.State != v1alpha1.TrialFailed {
			t.Errorf("trial %s is %s, want Failed", tr.Name, tr.State)
		}
	}
}

// The experiment ends only when the Jobs of its stopped trials have ended.
func TestEndsAfterStoppedTrialsJobsEnd(t *testing.T) {
	h := newHarness(t)
	h.create(func(e *v1alpha1.Experiment) {
		e.Spec.MaxTrials = 2
		e.Spec.EarlyStopping = &v1alpha1.EarlyStoppingSpec{Name: "asha", Settings: map[string]string{"minResource": "1", "maxResource": "4", "reductionFactor": "2"}}
	})
	h.reconcile()
	h.setJob("sweep-0", v1alpha1.JobRunning, "")
	h.setJob("sweep-1", v1alpha1.JobRunning, "")
	h.report("sweep-0", "val_loss", 0.1)
	h.reconcile()
	h.report("sweep-1", "val_loss", 0.9)
	h.reconcile()
	if got := h.exp().Status.Trials[1].State; got != v1alpha1.TrialEarlyStopped {
		t.Fatalf("trial sweep-1 is %s, want EarlyStopped", got)
	}
	h.report("sweep-0", "val_loss", 0.1, 0.08)
	h.setJob("sweep-0", v1alpha1.JobSucceeded, "")
	h.reconcile()
	if e := h.exp(); e.Status.Phase != v1alpha1.ExperimentRunning {
		t.Fatalf("phase %s while sweep-1's job still stops, want Running", e.Status.Phase)
	}
	h.setJob("sweep-1", v1alpha1.JobFailed, experiment.ReasonEarlyStopped)
	h.reconcile()
	if e := h.exp(); e.Status.Phase != v1alpha1.ExperimentSucceeded || e.Status.BestTrial != "sweep-0" {
		t.Fatalf("phase %s best %s, want Succeeded with sweep-0", e.Status.Phase, e.Status.BestTrial)
	}
}
