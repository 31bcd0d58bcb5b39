package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/hpo"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// Label keys set on trial Jobs.
const (
	LabelExperiment = "skiff.dev/experiment"
	LabelTrial      = "skiff.dev/trial"
)

// MetricReader is the part of store.Metrics the controller reads.
type MetricReader interface {
	Series(ctx context.Context, namespace, job, name string) ([]v1alpha1.MetricPoint, error)
	Latest(ctx context.Context, namespace, job string) ([]v1alpha1.MetricPoint, error)
}

// EventRecorder records events about an object.
type EventRecorder interface {
	Event(ctx context.Context, obj v1alpha1.Object, eventType, reason, format string, args ...any)
}

// Controller reconciles Experiments.
type Controller struct {
	Store store.Store
	// Informers, when set, supplies informers shared with the process's
	// other controllers (each change decoded once); nil: its own.
	Informers *watchcache.Shared
	Metrics   MetricReader
	Clock     clock.WithTicker
	Recorder  EventRecorder
	Log       *slog.Logger
	// Poll is how often a running experiment's metrics are read again for
	// early stopping (default 500ms); Job changes wake it sooner.
	Poll time.Duration

	queue workqueue.TypedRateLimitingInterface[string]
	// settled remembers, per experiment (namespace/name), the trials whose
	// outcome can no longer change, with their objective series for the
	// stopper, so their Jobs and metrics are not read on every pass. It is
	// lost on restart and rebuilt by reading each trial once.
	mu      sync.Mutex
	settled map[string]*settledTrials
}

type settledTrials struct {
	uid     string
	reports map[string][]hpo.Report
}

func (c *Controller) defaults() {
	if c.Poll == 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.settled == nil {
		c.settled = map[string]*settledTrials{}
	}
}

var (
	kindExperiment = mustKind("Experiment")
	kindJob        = mustKind("Job")
)

func mustKind(name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

// Run reconciles experiments until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.defaults()
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "experiments", Clock: c.Clock})
	defer c.queue.ShutDown()

	exps := watchcache.NewInformer(ctx, c.Store, kindExperiment)
	enqueue := func(obj any) {
		if o, ok := obj.(v1alpha1.Object); ok {
			c.queue.Add(o.GetNamespace() + "/" + o.GetName())
		} else if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			c.queue.Add(d.Key)
		}
	}
	if _, err := exps.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("watching experiments: %w", err)
	}
	// A trial Job's change wakes its experiment at once instead of at the
	// next poll.
	jobs, runJobs := watchcache.For(ctx, c.Informers, c.Store, kindJob)
	owner := func(obj any) {
		if o, ok := obj.(v1alpha1.Object); ok {
			if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Experiment" {
				c.queue.Add(o.GetNamespace() + "/" + ref.Name)
			}
		}
	}
	if _, err := jobs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: owner, UpdateFunc: func(_, obj any) { owner(obj) }, DeleteFunc: owner,
	}); err != nil {
		return fmt.Errorf("watching trial jobs: %w", err)
	}
	go exps.RunWithContext(ctx)
	go runJobs()
	for range 2 {
		go c.worker(ctx)
	}
	<-ctx.Done()
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	watchcache.Work(ctx, c.queue, c.Log, "experiment", func(ctx context.Context, key string) (time.Duration, error) {
		ns, name, _ := strings.Cut(key, "/")
		return c.Reconcile(ctx, ns, name)
	})
}

// Reconcile runs one pass over an experiment: it observes the trials'
// Jobs and metrics, decides (advance), stores the status and only then
// creates and stops Jobs. It returns when to look again (0: on the next
// change only).
func (c *Controller) Reconcile(ctx context.Context, namespace, name string) (time.Duration, error) {
	c.defaults()
	exp := &v1alpha1.Experiment{}
	if err := c.Store.Get(ctx, namespace, name, exp); err != nil {
		if apierrors.IsNotFound(err) {
			c.forget(namespace + "/" + name)
			return 0, nil
		}
		return 0, err
	}
	if exp.DeletionTimestamp != nil {
		// Its trial Jobs go with it (ownerReferences).
		c.forget(namespace + "/" + name)
		return 0, nil
	}
	alg, err := newAlgorithms(exp)
	if err != nil {
		// Admission validates the spec; an experiment stored by an older
		// version with a spec this one refuses ends here, with the reason.
		if exp.Status.Phase == v1alpha1.ExperimentFailed {
			return 0, nil
		}
		p := plan{}
		finish(exp, &p, v1alpha1.ExperimentFailed, "InvalidSpec", err.Error(), c.Clock.Now())
		return 0, c.store(ctx, exp, p)
	}
	obs, err := c.observe(ctx, exp)
	if err != nil {
		return 0, err
	}
	orig := exp.DeepCopy()
	p := advance(exp, obs, alg, c.Clock.Now())
	if !equality.Semantic.DeepEqual(orig.Status, exp.Status) {
		if err := c.store(ctx, exp, p); err != nil {
			return 0, err
		}
	}
	// The status that records these trials is durable: now act on it.
	for _, i := range p.create {
		if err := c.createTrial(ctx, exp, i); err != nil {
			var invalid *invalidTrialError
			if errors.As(err, &invalid) {
				// No Job of this template can be created (a name too long
				// for a Job, say): end here with the reason, not retry.
				p := plan{}
				for j := range exp.Status.Trials {
					if tr := &exp.Status.Trials[j]; tr.State == v1alpha1.TrialPending && !obs[tr.Name].found {
						endTrial(&p, tr, v1alpha1.TrialFailed, "InvalidTrialJob", "its job could not be created")
					}
				}
				finish(exp, &p, v1alpha1.ExperimentFailed, "InvalidTrialJob", invalid.Error(), c.Clock.Now())
				return 0, c.store(ctx, exp, p)
			}
			return 0, err
		}
	}
	for _, i := range p.stop {
		if err := c.stopTrial(ctx, exp, exp.Status.Trials[i]); err != nil {
			return 0, err
		}
	}
	c.remember(exp, obs)
	if p.poll || len(p.stop) > 0 {
		return c.Poll, nil
	}
	return 0, nil
}

// store writes the status and then emits the pass's events, so a conflict
// and retry does not report the same thing twice.
func (c *Controller) store(ctx context.Context, exp *v1alpha1.Experiment, p plan) error {
	if err := c.Store.Update(ctx, exp); err != nil {
		return err
	}
	if c.Recorder != nil {
		for _, e := range p.events {
			c.Recorder.Event(ctx, exp, e.typ, e.reason, "%s", e.msg)
		}
	}
	return nil
}

// observe reads the Job and the objective metric series of every trial
// that may still change, and the remembered series of the others.
func (c *Controller) observe(ctx context.Context, exp *v1alpha1.Experiment) (map[string]observed, error) {
	obs := make(map[string]observed, len(exp.Status.Trials))
	metric := exp.Spec.Objective.MetricName
	for _, t := range exp.Status.Trials {
		if reports, ok := c.settledReports(exp, t.Name); ok && !inFlight(t) {
			// Settled: its Job ended or was asked to stop, so advance has
			// nothing to do with it but read its series.
			obs[t.Name] = observed{found: true, phase: v1alpha1.JobSucceeded, stopAsked: true, reports: reports}
			continue
		}
		o := observed{}
		job := &v1alpha1.Job{}
		err := c.Store.Get(ctx, exp.Namespace, t.Name, job)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("reading trial %s: %w", t.Name, err)
		default:
			o.found = true
			if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != exp.UID {
				o.foreign = true
				break
			}
			o.phase = job.Status.Phase
			_, _, o.stopAsked = job.StopRequested()
			if job.Status.Phase == v1alpha1.JobFailed {
				for _, cond := range job.Status.Conditions {
					if cond.Type == v1alpha1.JobConditionFailed {
						o.reason, o.message = cond.Reason, cond.Message
					}
				}
			}
		}
		if o.found && !o.foreign && c.Metrics != nil {
			pts, err := c.Metrics.Series(ctx, exp.Namespace, t.Name, metric)
			if err != nil {
				return nil, fmt.Errorf("reading the metrics of trial %s: %w", t.Name, err)
			}
			for _, pt := range pts {
				o.reports = append(o.reports, hpo.Report{Step: pt.Step, Value: pt.Value})
			}
			sort.SliceStable(o.reports, func(a, b int) bool { return o.reports[a].Step < o.reports[b].Step })
			if len(o.reports) == 0 && jobFinished(o.phase) {
				latest, err := c.Metrics.Latest(ctx, exp.Namespace, t.Name)
				if err != nil {
					return nil, fmt.Errorf("reading the metrics of trial %s: %w", t.Name, err)
				}
				for _, pt := range latest {
					o.otherMetrics = append(o.otherMetrics, pt.Name)
				}
				sort.Strings(o.otherMetrics)
			}
		}
		obs[t.Name] = o
	}
	return obs, nil
}

func (c *Controller) settledReports(exp *v1alpha1.Experiment, trial string) ([]hpo.Report, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.settled[exp.Namespace+"/"+exp.Name]
	if e == nil || e.uid != string(exp.UID) {
		return nil, false
	}
	r, ok := e.reports[trial]
	return r, ok
}

func (c *Controller) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.settled, key)
}

// remember marks the trials that reached a final state and whose Job needs
// nothing more: it ended or is gone.
func (c *Controller) remember(exp *v1alpha1.Experiment, obs map[string]observed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := exp.Namespace + "/" + exp.Name
	e := c.settled[key]
	if e == nil || e.uid != string(exp.UID) {
		e = &settledTrials{uid: string(exp.UID), reports: map[string][]hpo.Report{}}
		c.settled[key] = e
	}
	for _, t := range exp.Status.Trials {
		if inFlight(t) {
			continue
		}
		if _, ok := e.reports[t.Name]; ok {
			continue
		}
		o := obs[t.Name]
		if o.found && !o.foreign && !jobFinished(o.phase) {
			continue // being stopped: look again until its Job has ended
		}
		e.reports[t.Name] = o.reports
	}
}

// createTrial creates trial i's Job from the template, owned by the
// experiment. A Job of that name that exists already is left for the next
// pass to observe (adopted when it is this experiment's).
func (c *Controller) createTrial(ctx context.Context, exp *v1alpha1.Experiment, i int) error {
	t := exp.Status.Trials[i]
	job := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: exp.Namespace,
			Name:      t.Name,
			Labels:    map[string]string{LabelExperiment: exp.Name, LabelTrial: strconv.Itoa(i)},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.APIVersion, Kind: "Experiment", Name: exp.Name, UID: exp.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: exp.Spec.TrialJobSpec(t.Parameters),
	}
	v1alpha1.SetTypeMeta(job)
	v1alpha1.Default(job)
	if err := v1alpha1.Validate(job); err != nil {
		return &invalidTrialError{trial: t.Name, err: err}
	}
	err := c.Store.Create(ctx, job)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating trial %s: %w", t.Name, err)
	}
	return nil
}

// invalidTrialError says a trial's Job would be refused.
type invalidTrialError struct {
	trial string
	err   error
}

func (e *invalidTrialError) Error() string {
	return fmt.Sprintf("the job of trial %s is invalid: %v; shorten metadata.name (a trial job is named <experiment>-<index>, at most 63 characters) or fix spec.trialTemplate", e.trial, e.err)
}

func (e *invalidTrialError) Unwrap() error { return e.err }

// stopTrial asks the job controller to stop a trial's Job, with the
// trial's reason.
func (c *Controller) stopTrial(ctx context.Context, exp *v1alpha1.Experiment, t v1alpha1.TrialStatus) error {
	job := &v1alpha1.Job{}
	if err := c.Store.Get(ctx, exp.Namespace, t.Name, job); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.UID != exp.UID {
		return nil
	}
	if _, _, asked := job.StopRequested(); asked || jobFinished(job.Status.Phase) {
		return nil
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[v1alpha1.AnnotationStopReason] = t.Reason
	job.Annotations[v1alpha1.AnnotationStopMessage] = t.Message
	if err := c.Store.Update(ctx, job); err != nil {
		return fmt.Errorf("stopping trial %s: %w", t.Name, err)
	}
	return nil
}
