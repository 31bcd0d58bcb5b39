package experiment

import (
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/hpo"
)

// Trial reasons set by the controller.
const (
	// ReasonEarlyStopped: the early-stopping rule ended the trial.
	ReasonEarlyStopped = "EarlyStopped"
	// ReasonExperimentEnded: the experiment ended (goal reached, too many
	// failures) while the trial ran.
	ReasonExperimentEnded = "ExperimentEnded"
	// ReasonJobDeleted: the trial's Job disappeared while it ran.
	ReasonJobDeleted = "JobDeleted"
	// ReasonNameTaken: a Job of the trial's name exists and belongs to
	// something else.
	ReasonNameTaken = "NameTaken"
)

// observed is what the controller saw of one trial's Job and metrics.
type observed struct {
	// found: the Job exists.
	found bool
	// foreign: the Job exists but is not owned by this Experiment.
	foreign bool
	phase   v1alpha1.JobPhase
	// reason and message of the Job's end, when it failed.
	reason, message string
	// stopAsked: the Job carries a stop request.
	stopAsked bool
	// reports is the objective metric's series in step order.
	reports []hpo.Report
	// otherMetrics names what the trial reported instead, when it never
	// reported the objective metric (read only for finished trials).
	otherMetrics []string
}

func jobFinished(p v1alpha1.JobPhase) bool {
	return p == v1alpha1.JobSucceeded || p == v1alpha1.JobFailed
}

// plan is what a pass decided beyond the status it changed: Jobs to
// create (trial indices) and Jobs to stop (trial indices, with reason and
// message from their status), and events to emit once the status is
// stored.
type plan struct {
	create []int
	stop   []int
	events []event
	// poll: the experiment still runs, so metrics must be read again.
	poll bool
}

type event struct{ typ, reason, msg string }

func (p *plan) event(typ, reason, format string, args ...any) {
	p.events = append(p.events, event{typ, reason, fmt.Sprintf(format, args...)})
}

// algorithms are an experiment's suggester and stopper (nil without early
// stopping).
type algorithms struct {
	suggest hpo.Suggester
	stop    hpo.Stopper
	goal    hpo.Goal
}

func newAlgorithms(exp *v1alpha1.Experiment) (algorithms, error) {
	space, errs := exp.Spec.SearchSpace(field.NewPath("spec", "parameters"))
	if len(errs) > 0 {
		return algorithms{}, errs.ToAggregate()
	}
	g := exp.Spec.Objective.HPOGoal()
	alg := exp.Spec.Algorithm
	name := alg.Name
	if name == "" {
		name = v1alpha1.DefaultAlgorithm
	}
	s, err := hpo.NewSuggester(space, g, hpo.Algorithm{Name: name, Settings: alg.Settings}, Seed(exp))
	if err != nil {
		return algorithms{}, err
	}
	a := algorithms{suggest: s, goal: g}
	if es := exp.Spec.EarlyStopping; es != nil {
		if a.stop, err = hpo.NewStopper(g, hpo.EarlyStopping{Name: es.Name, Settings: es.Settings}); err != nil {
			return algorithms{}, err
		}
	}
	return a, nil
}

// Seed is the experiment's algorithm seed: spec.algorithm.seed, or one
// derived from its UID, so it is stable across restarts.
func Seed(exp *v1alpha1.Experiment) uint64 {
	if s := exp.Spec.Algorithm.Seed; s != nil {
		return uint64(*s)
	}
	h := fnv.New64a()
	h.Write([]byte(exp.UID))
	return h.Sum64()
}

// TrialName is the Job name of trial index of an experiment.
func TrialName(experiment string, index int) string {
	return experiment + "-" + strconv.Itoa(index)
}

func inFlight(t v1alpha1.TrialStatus) bool {
	return t.State == v1alpha1.TrialPending || t.State == v1alpha1.TrialRunning
}

// hpoTrials converts the stored trials for the algorithms; reports, when
// given, supply the intermediate values the stopper looks at.
func hpoTrials(trials []v1alpha1.TrialStatus, reports map[string][]hpo.Report) []hpo.Trial {
	out := make([]hpo.Trial, len(trials))
	for i, t := range trials {
		ht := hpo.Trial{Params: hpo.Assignment(t.Parameters), Value: math.NaN(), Reports: reports[t.Name]}
		if t.Objective != nil {
			ht.Value = *t.Objective
		}
		switch t.State {
		case v1alpha1.TrialSucceeded:
			ht.State = hpo.Succeeded
		case v1alpha1.TrialFailed:
			ht.State = hpo.Failed
		case v1alpha1.TrialEarlyStopped:
			ht.State = hpo.EarlyStopped
		default:
			ht.State = hpo.Running
		}
		out[i] = ht
	}
	return out
}

// advance moves the experiment's status one step given what was observed
// of its trials (by trial name) and returns what to do outside the status.
// It is pure: the same inputs give the same status and plan.
func advance(exp *v1alpha1.Experiment, obs map[string]observed, alg algorithms, now time.Time) plan {
	var p plan
	st := &exp.Status
	if st.Phase == "" {
		st.Phase = v1alpha1.ExperimentRunning
		t := metav1.NewTime(now)
		st.StartTime = &t
		setCondition(exp, v1alpha1.ExperimentConditionRunning, true, "Started", "running trials", now)
	}
	running := st.Phase == v1alpha1.ExperimentRunning

	// Observe the trials in flight.
	for i := range st.Trials {
		t := &st.Trials[i]
		o := obs[t.Name]
		if t.State == v1alpha1.TrialEarlyStopped && o.found && !o.foreign && !o.stopAsked && !jobFinished(o.phase) {
			// Stopped in the status by an earlier pass whose stop request
			// did not land.
			p.stop = append(p.stop, i)
		}
		if !inFlight(*t) {
			continue
		}
		switch {
		case !o.found && t.State == v1alpha1.TrialPending:
			// Recorded but its Job not created yet (or a crash came between).
			if running {
				p.create = append(p.create, i)
			}
			continue
		case !o.found:
			endTrial(&p, t, v1alpha1.TrialFailed, ReasonJobDeleted, "the trial's job was deleted while it ran")
			continue
		case o.foreign:
			endTrial(&p, t, v1alpha1.TrialFailed, ReasonNameTaken, fmt.Sprintf("a job named %s exists and does not belong to this experiment; delete or rename it", t.Name))
			continue
		}
		if n := len(o.reports); n > 0 {
			v := o.reports[n-1].Value
			t.Objective, t.Step = &v, o.reports[n-1].Step
		}
		switch o.phase {
		case v1alpha1.JobSucceeded:
			if t.Objective == nil {
				endTrial(&p, t, v1alpha1.TrialFailed, v1alpha1.ReasonMetricNeverReported, neverReported(exp.Spec.Objective.MetricName, o.otherMetrics))
			} else {
				endTrial(&p, t, v1alpha1.TrialSucceeded, "Completed", "")
			}
		case v1alpha1.JobFailed:
			msg := o.message
			if msg == "" {
				msg = "the trial's job failed"
			}
			reason := o.reason
			if reason == "" {
				reason = "JobFailed"
			}
			endTrial(&p, t, v1alpha1.TrialFailed, reason, msg)
		case v1alpha1.JobRunning:
			t.State = v1alpha1.TrialRunning
		default:
			t.State = v1alpha1.TrialPending
		}
	}

	// Early stopping looks at every trial's reports, finished ones included.
	if running && alg.stop != nil {
		reports := map[string][]hpo.Report{}
		for name, o := range obs {
			reports[name] = o.reports
		}
		trials := hpoTrials(st.Trials, reports)
		for i := range st.Trials {
			t := &st.Trials[i]
			if t.State != v1alpha1.TrialRunning || len(trials[i].Reports) == 0 {
				continue
			}
			if d := alg.stop.ShouldStop(trials, i); d.Stop {
				endTrial(&p, t, v1alpha1.TrialEarlyStopped, ReasonEarlyStopped, d.Reason)
				p.stop = append(p.stop, i)
				trials[i].State = hpo.EarlyStopped
			}
		}
	}

	best := hpo.Best(hpoTrials(st.Trials, nil), alg.goal)
	if best >= 0 && st.Trials[best].Name != st.BestTrial {
		st.BestTrial = st.Trials[best].Name
		p.event(v1alpha1.EventNormal, "NewBestTrial", "trial %s: %s=%s", st.BestTrial, exp.Spec.Objective.MetricName, hpo.FormatNumber(*st.Trials[best].Objective))
	}
	if !running {
		return p
	}

	// Endings that do not wait for the trials in flight.
	if reason, msg, ok := endsNow(exp, best); ok {
		phase := v1alpha1.ExperimentFailed
		if reason == v1alpha1.ReasonGoalReached {
			phase = v1alpha1.ExperimentSucceeded
		}
		for i := range st.Trials {
			if inFlight(st.Trials[i]) {
				endTrial(&p, &st.Trials[i], v1alpha1.TrialEarlyStopped, ReasonExperimentEnded, "the experiment ended: "+reason)
				if obs[st.Trials[i].Name].found {
					p.stop = append(p.stop, i)
				}
			}
		}
		p.create = nil
		finish(exp, &p, phase, reason, msg, now)
		return p
	}

	// Start trials up to parallelTrials, recording each before its Job.
	flying := 0
	for _, t := range st.Trials {
		if inFlight(t) {
			flying++
		}
	}
	exhausted := false
	for flying < int(exp.Spec.ParallelTrials) && len(st.Trials) < int(exp.Spec.MaxTrials) {
		params, err := alg.suggest.Suggest(hpoTrials(st.Trials, nil))
		if hpo.IsExhausted(err) {
			exhausted = true
			break
		}
		if err != nil {
			finish(exp, &p, v1alpha1.ExperimentFailed, "SuggestionFailed", err.Error(), now)
			return p
		}
		i := len(st.Trials)
		st.Trials = append(st.Trials, v1alpha1.TrialStatus{Name: TrialName(exp.Name, i), Parameters: params, State: v1alpha1.TrialPending})
		p.create = append(p.create, i)
		p.event(v1alpha1.EventNormal, "TrialCreated", "trial %s: %s", TrialName(exp.Name, i), formatParams(params))
		flying++
	}
	// The experiment ends when nothing of it runs: stopped trials' Jobs
	// have ended too.
	stopping := 0
	for _, t := range st.Trials {
		if o := obs[t.Name]; t.State == v1alpha1.TrialEarlyStopped && o.found && !o.foreign && !jobFinished(o.phase) {
			stopping++
		}
	}
	if flying > 0 || stopping > 0 {
		p.poll = true
		return p
	}
	reason := v1alpha1.ReasonMaxTrialsReached
	msg := fmt.Sprintf("all %d trials ran", len(st.Trials))
	if exhausted {
		reason = v1alpha1.ReasonSearchSpaceExhausted
		msg = fmt.Sprintf("every configuration of the search space was tried (%d trials)", len(st.Trials))
	}
	if best < 0 {
		finish(exp, &p, v1alpha1.ExperimentFailed, reason, msg+"; no trial succeeded", now)
		return p
	}
	finish(exp, &p, v1alpha1.ExperimentSucceeded, reason, fmt.Sprintf("%s; best trial %s with %s=%s", msg, st.BestTrial,
		exp.Spec.Objective.MetricName, hpo.FormatNumber(*st.Trials[best].Objective)), now)
	return p
}

// endsNow reports an ending that stops the trials in flight: the goal is
// reached, more trials failed than allowed, or the objective metric is
// missing from every trial that finished.
func endsNow(exp *v1alpha1.Experiment, best int) (reason, msg string, ok bool) {
	st := &exp.Status
	obj := exp.Spec.Objective
	if g := obj.Goal; g != nil && best >= 0 {
		v := *st.Trials[best].Objective
		if (obj.Type == v1alpha1.Maximize && v >= *g) || (obj.Type != v1alpha1.Maximize && v <= *g) {
			return v1alpha1.ReasonGoalReached, fmt.Sprintf("trial %s reached %s=%s (goal %s)", st.Trials[best].Name,
				obj.MetricName, hpo.FormatNumber(v), hpo.FormatNumber(*g)), true
		}
	}
	finished, failed, silent, reported := 0, 0, "", false
	var lastFailed *v1alpha1.TrialStatus
	for i, t := range st.Trials {
		if t.Objective != nil {
			reported = true
		}
		if inFlight(t) {
			continue
		}
		finished++
		if t.State == v1alpha1.TrialFailed {
			failed++
			lastFailed = &st.Trials[i]
		}
		if t.Reason == v1alpha1.ReasonMetricNeverReported && silent == "" {
			silent = t.Name + ": " + t.Message
		}
	}
	// The first trials (as many as run at once) have all ended and not one
	// trial ever reported the objective: more trials would not either.
	first := min(int(exp.Spec.ParallelTrials), int(exp.Spec.MaxTrials))
	if !reported && silent != "" && finished >= first {
		return v1alpha1.ReasonMetricNeverReported, fmt.Sprintf("no trial reported the objective metric %q (%s); print skiff:metric %s=VALUE step=N or post it to the metrics API",
			obj.MetricName, silent, obj.MetricName), true
	}
	if m := exp.Spec.MaxFailedTrials; m != nil && failed > int(*m) {
		return v1alpha1.ReasonMaxFailedTrialsReached, fmt.Sprintf("%d trials failed, more than maxFailedTrials (%d); the last of them to start, %s: %s (skiff logs job/%s)",
			failed, *m, lastFailed.Name, lastFailed.Message, lastFailed.Name), true
	}
	return "", "", false
}

func neverReported(metric string, others []string) string {
	if len(others) == 0 {
		return fmt.Sprintf("the job succeeded without reporting %s (it reported no metric at all)", metric)
	}
	return fmt.Sprintf("the job succeeded without reporting %s; it reported %s", metric, strings.Join(others, ", "))
}

func endTrial(p *plan, t *v1alpha1.TrialStatus, state v1alpha1.TrialState, reason, msg string) {
	t.State, t.Reason, t.Message = state, reason, msg
	typ := v1alpha1.EventNormal
	if state == v1alpha1.TrialFailed {
		typ = v1alpha1.EventWarning
	}
	obj := "no objective"
	if t.Objective != nil {
		obj = "objective " + hpo.FormatNumber(*t.Objective)
		if t.Step > 0 {
			obj += fmt.Sprintf(" at step %d", t.Step)
		}
	}
	text := fmt.Sprintf("trial %s ended %s (%s)", t.Name, state, obj)
	if msg != "" {
		text += ": " + msg
	}
	p.event(typ, "Trial"+string(state), "%s", text)
}

func finish(exp *v1alpha1.Experiment, p *plan, phase v1alpha1.ExperimentPhase, reason, msg string, now time.Time) {
	st := &exp.Status
	st.Phase, st.Reason, st.Message = phase, reason, msg
	t := metav1.NewTime(now)
	st.CompletionTime = &t
	setCondition(exp, v1alpha1.ExperimentConditionRunning, false, reason, msg, now)
	typ := v1alpha1.EventNormal
	cond := v1alpha1.ExperimentConditionSucceeded
	if phase == v1alpha1.ExperimentFailed {
		typ, cond = v1alpha1.EventWarning, v1alpha1.ExperimentConditionFailed
	}
	setCondition(exp, cond, true, reason, msg, now)
	p.event(typ, string(phase), "%s: %s", reason, msg)
	p.poll = false
}

func setCondition(exp *v1alpha1.Experiment, typ string, status bool, reason, msg string, now time.Time) {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&exp.Status.Conditions, metav1.Condition{
		Type: typ, Status: s, Reason: reason, Message: msg,
		LastTransitionTime: metav1.NewTime(now), ObservedGeneration: exp.Generation,
	})
}

func formatParams(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return strings.Join(parts, " ")
}
