package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// SchedulingLoop feeds the pure scheduler core a snapshot whenever jobs,
// queues, flavors or nodes change and commits the plan it returns: it is the
// one committer of admissions. A conflict means the world moved; the loop
// runs again on the newer state.
type SchedulingLoop struct {
	Store store.Store
	// Informers, when set, supplies informers shared with the process's
	// other controllers (each change decoded once); nil: its own.
	Informers *watchcache.Shared
	Clock     clock.WithTicker
	Recorder  *Recorder
	Log       *slog.Logger
	// Interval is the longest time between cycles when nothing changes.
	Interval time.Duration

	// MinInterval caps the pause after a cycle, which is as long as the
	// cycle took: under a stream of changes on a large cluster it batches
	// them into one cycle instead of one cycle each.
	MinInterval time.Duration
	// ReasonRefresh bounds how often a pending job's reason is rewritten
	// when only its numbers change.
	ReasonRefresh time.Duration
	// MaxReasonWrites caps the waiting reasons one cycle writes (0: no
	// cap); the rest wait for the next cycle, which comes at once. A
	// cycle's commit ends when its last write does, so thousands of new
	// pending jobs would otherwise hold back the next admissions for as
	// long as the store takes to write all their reasons.
	MaxReasonWrites int
	// ReasonPassInterval is how often cycles reconsider waiting reasons
	// (default 250ms): the longest a new or changed reason waits for its
	// write.
	ReasonPassInterval time.Duration
	// Observer, when set, is told about each cycle (metrics, traces).
	Observer CycleObserver
	// cachesReady is set once the informers have synced; CachedJobs and
	// CachedQueues read them only after (observe.go).
	cachesReady atomic.Bool

	kick          chan struct{}
	informers     map[string]cache.SharedIndexInformer
	assumed       assumeCache
	active        activeJobs
	reasonPass    time.Time           // the last cycle that reconsidered every waiting reason
	sched         scheduler.Scheduler // Cycle's; keeps what it read from pending jobs
	mu            sync.Mutex
	reasonWritten map[string]time.Time
	kickPending   atomic.Bool
	// bgBusy is set while a cycle's waiting reasons and queue status are
	// being written; bgSkipped when a cycle left them to a later one. Run
	// waits for bgWrites before it returns.
	bgBusy, bgSkipped atomic.Bool
	bgWrites          sync.WaitGroup
	events            eventQueue // admission and preemption events being written
	// EventWriters is JobController.EventWriters for the loop's events.
	EventWriters int
}

// commitWorkers bounds the concurrent writes of one cycle's commit.
const commitWorkers = 32

// committer runs a cycle's writes on a bounded pool and collects whether
// any asked for another cycle and the first hard error.
type committer struct {
	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	retry bool
	err   error
}

func newCommitter(workers int) *committer {
	return &committer{sem: make(chan struct{}, workers)}
}

func (c *committer) do(write func() (ok bool, err error)) {
	c.sem <- struct{}{}
	c.wg.Add(1)
	go func() {
		defer func() { <-c.sem; c.wg.Done() }()
		ok, err := write()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.retry = c.retry || !ok
		if err != nil && c.err == nil {
			c.err = err
		}
	}()
}

func (c *committer) wait() (retry bool, err error) {
	c.wg.Wait()
	return c.retry, c.err
}

// Run schedules until ctx ends.
func (l *SchedulingLoop) Run(ctx context.Context) error {
	if l.Interval == 0 {
		l.Interval = 5 * time.Second
	}
	if l.ReasonRefresh == 0 {
		l.ReasonRefresh = 30 * time.Second
	}
	if l.MinInterval == 0 {
		l.MinInterval = 20 * time.Millisecond
	}
	if l.ReasonPassInterval == 0 {
		l.ReasonPassInterval = 250 * time.Millisecond
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	l.kick = make(chan struct{}, 1)
	l.informers = map[string]cache.SharedIndexInformer{}
	var synced []cache.InformerSynced
	wake := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { l.Kick() },
		UpdateFunc: func(any, any) { l.Kick() },
		DeleteFunc: func(any) { l.Kick() },
	}
	for _, k := range []v1alpha1.Kind{kindJob, kindQueue, kindFlavor, kindNode, kindNamespace} {
		inf, run := watchcache.For(ctx, l.Informers, l.Store, k)
		l.informers[k.Kind] = inf
		synced = append(synced, inf.HasSynced)
		if k.Kind == kindJob.Kind {
			// One handler indexes a job and then kicks: each handler of an
			// informer runs on its own, so a separate kick could wake a
			// cycle before the index holds the job, and the job would wait
			// for the next tick.
			reg, err := inf.AddEventHandler(l.active.handler(l.Kick))
			if err != nil {
				return fmt.Errorf("indexing active jobs: %w", err)
			}
			synced = append(synced, reg.HasSynced)
		} else if _, err := inf.AddEventHandler(wake); err != nil {
			return fmt.Errorf("watching %s: %w", k.Plural, err)
		}
		go run()
	}
	// A cycle on a partial cache could see capacity as free that admitted
	// jobs hold; wait for every kind first.
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	l.cachesReady.Store(true)
	t := l.Clock.NewTicker(l.Interval)
	defer t.Stop()
	defer l.bgWrites.Wait() // the store outlives no write of this loop
	l.events.max = l.EventWriters
	defer l.events.wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.kick:
		case <-t.C():
		}
		started := l.Clock.Now()
		cctx, done := l.observeCycle(ctx)
		err := l.Cycle(cctx)
		done(err)
		if err != nil && ctx.Err() == nil {
			l.Log.Warn("scheduling cycle", "err", err)
		}
		// Pause as long as the cycle took, up to MinInterval: a cheap cycle
		// (few jobs) is followed at once, so a lone job is admitted without
		// delay, while expensive cycles leave time for changes to batch.
		took := l.Clock.Since(started)
		if rest := min(took, l.MinInterval); rest > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-l.Clock.After(rest):
			}
		}
	}
}

// Kick asks for a cycle soon; kicks coalesce.
func (l *SchedulingLoop) Kick() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// cached returns the informer's objects of a kind. They are shared with the
// cache: read them, and DeepCopy before changing one.
func cached[T any](l *SchedulingLoop, kind string) []*T {
	return listOf[T](l.informers[kind])
}

// Cycle runs one snapshot → plan → commit round over the informer caches
// (Run must have started them).
func (l *SchedulingLoop) Cycle(ctx context.Context) error {
	snap := scheduler.Snapshot{
		Nodes:   cached[v1alpha1.Node](l, "Node"),
		Flavors: cached[v1alpha1.Flavor](l, "Flavor"),
		Queues:  cached[v1alpha1.Queue](l, "Queue"),
	}
	jobStore := l.informers[kindJob.Kind].GetStore()
	byKey, order := l.active.snapshot()
	added := l.assumed.overlay(byKey, func(key string) (*v1alpha1.Job, bool) {
		obj, ok, _ := jobStore.GetByKey(key)
		j, _ := obj.(*v1alpha1.Job)
		return j, ok && j != nil
	})
	// In the index's order (the order jobs became active, nearly the order
	// the core sorts pending jobs in), then jobs known only as assumed.
	var pending []*v1alpha1.Job
	for _, key := range append(order, added...) {
		j, ok := byKey[key]
		if !ok {
			continue // the overlay found it no longer active
		}
		if scheduler.HoldsResources(j) {
			snap.Admitted = append(snap.Admitted, j)
		} else {
			pending = append(pending, j)
		}
	}
	pending, held := holdForNamespaceLimits(pending, snap.Admitted, cached[v1alpha1.Namespace](l, "Namespace"))
	now := l.Clock.Now()
	plan := l.sched.Schedule(snap, pending, now)
	if plan.Waiting == nil {
		plan.Waiting = map[string]string{}
	}
	for k, reason := range held {
		plan.Waiting[k] = reason
	}
	l.observePlan(len(plan.Admissions), len(plan.Waiting))

	// Every write below touches a different job and is guarded by its
	// resourceVersion, so they run concurrently and share the store's group
	// commits instead of paying one fsync each in turn. The cycle waits for
	// its decisions (admissions, preemptions, nominations) only: waiting
	// reasons and queue status are written in the background (bg), while
	// the next cycles plan, and a cycle that finds the previous ones still
	// being written leaves its own to a later cycle. A reason write that
	// races with a later admission of the same job costs the loser a
	// conflict: the admission rereads and retries, the reason is dropped.
	c := newCommitter(commitWorkers)
	bg := l.startBackground()
	retryReasons := false
	for _, a := range plan.Admissions {
		job, adm := byKey[a.Namespace+"/"+a.Name], a.Admission
		c.do(func() (bool, error) { return l.admit(ctx, job.DeepCopy(), adm, now) })
	}
	done := &preempted{}
	for _, p := range plan.Preemptions {
		victim, ok := byKey[p.Namespace+"/"+p.Name]
		if !ok {
			continue
		}
		p := p
		c.do(func() (bool, error) {
			ok, err := l.preempt(ctx, victim.DeepCopy(), p, now)
			if ok && err == nil {
				done.add(p)
			}
			return ok, err
		})
	}
	// A preemptor is nominated to the flavor it makes room in, in the
	// same write as its waiting reason, at once: the cycle after its
	// victims stop must see it to give it the room.
	nominated := plan.Nominations()
	for key, flavor := range nominated {
		job := byKey[key]
		if job == nil || job.Status.NominatedFlavor == flavor {
			delete(nominated, key)
			continue
		}
		reason := plan.Waiting[key]
		c.do(func() (bool, error) {
			err := l.markWaiting(ctx, job, reason, flavor, now)
			if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return false, err
			}
			return err == nil, nil
		})
	}
	// Waiting reasons are reconsidered by at most one cycle per
	// ReasonPassInterval: under a stream of changes the cycles in between
	// cost what their admissions cost, not what thousands of waiting jobs
	// do. A job waits that long for its first reason.
	reasonsDue := now.Sub(l.reasonPass) >= l.ReasonPassInterval
	if reasonsDue && bg != nil {
		budget := l.MaxReasonWrites
		for k, reason := range plan.Waiting {
			job, reason := byKey[k], reason
			// A job the job controller has not taken in yet (no replicas
			// finalizer) gets its reason in a later cycle: writing it now
			// would race with the finalizer's write, and on an API server
			// the loser pays a conflict, a read and a retry.
			if job == nil || !hasString(job.Finalizers, ReplicasFinalizer) {
				continue
			}
			if _, ok := nominated[k]; ok {
				continue // written with its nomination above
			}
			if l.MaxReasonWrites > 0 && budget == 0 {
				retryReasons = true
				break
			}
			if !l.shouldWriteReason(k, job, reason, now, plan.Pending[job.Spec.Queue] <= headRewriteMaxPending) {
				continue
			}
			budget--
			bg.do(func() (bool, error) {
				err := l.markWaiting(ctx, job, reason, job.Status.NominatedFlavor, now)
				if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					return false, err
				}
				return true, nil
			})
		}
		if !retryReasons {
			l.reasonPass = now
		}
		l.forgetReasons(plan.Waiting)
	} else if !reasonsDue && len(plan.Waiting) > 0 {
		l.kickAfter(l.reasonPass.Add(l.ReasonPassInterval).Sub(now))
	}
	if bg != nil {
		// The core counted the pending jobs it was handed per queue; those
		// namespace limits held back never reached it. The plan is this
		// cycle's own, so its counts are added to in place.
		queued := plan.Pending
		if queued == nil {
			queued = map[string]int32{}
		}
		for k := range held {
			if j := byKey[k]; j != nil {
				queued[j.Spec.Queue]++
			}
		}
		l.updateQueues(ctx, bg, snap.Queues, snap.Admitted, queued, plan)
		l.finishBackground(ctx, bg, retryReasons)
	}
	retry, err := c.wait()
	done.record(ctx, l, byKey, now)
	if err != nil {
		return err
	}
	if retry {
		l.Kick()
	}
	return nil
}

// preempted collects a cycle's preemptions whose notices were written, per
// preemptor, for the preemptor's own event.
type preempted struct {
	mu  sync.Mutex
	by  map[string][]scheduler.Preemption
	ord []string
}

func (p *preempted) add(pr scheduler.Preemption) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.by == nil {
		p.by = map[string][]scheduler.Preemption{}
	}
	if _, ok := p.by[pr.By]; !ok {
		p.ord = append(p.ord, pr.By)
	}
	p.by[pr.By] = append(p.by[pr.By], pr)
}

// record writes one event on each preemptor naming its victims (those of
// its own namespace; others are counted, as in its waiting reason). Its
// reason is Preemptor: Preempting is the victim's event, which metrics
// count.
func (p *preempted) record(ctx context.Context, l *SchedulingLoop, byKey map[string]*v1alpha1.Job, now time.Time) {
	for _, key := range p.ord {
		job := byKey[key]
		if job == nil {
			continue
		}
		prs := p.by[key]
		var names, reasons []string
		others := 0
		for _, pr := range prs {
			if !slices.Contains(reasons, pr.Reason) {
				reasons = append(reasons, pr.Reason)
			}
			if pr.Namespace != job.Namespace {
				others++
				continue
			}
			names = append(names, pr.Namespace+"/"+pr.Name)
		}
		sort.Strings(names)
		if others > 0 {
			names = append(names, fmt.Sprintf("%d of other namespaces", others))
		}
		l.events.later(ctx, l.Recorder, job, now, pendingEvent{v1alpha1.EventNormal, "Preemptor",
			fmt.Sprintf("preempting %d job(s) in flavor %s (%s): %s; admitted once they stop", len(prs), prs[0].Flavor, strings.Join(reasons, ", "), strings.Join(names, ", "))})
	}
}

// writeList collects writes to run later.
type writeList struct{ writes []func() (ok bool, err error) }

func (w *writeList) do(write func() (ok bool, err error)) { w.writes = append(w.writes, write) }

// writer is what a cycle hands its writes to: a committer, or a writeList.
type writer interface {
	do(write func() (ok bool, err error))
}

// startBackground returns the list for a cycle's waiting reasons and
// queue status, or nil while an earlier cycle's are still being written:
// the skip is then recorded, so that the writer asks for a cycle when it
// is done (or, if it finished in between, a cycle is asked for here).
func (l *SchedulingLoop) startBackground() *writeList {
	if l.bgBusy.CompareAndSwap(false, true) {
		return &writeList{}
	}
	l.bgSkipped.Store(true)
	if !l.bgBusy.Load() {
		l.Kick()
	}
	return nil
}

// finishBackground runs bg's writes without the cycle waiting for them,
// then asks for another cycle when a write failed or asked for one, or
// when a cycle skipped its own background writes meanwhile.
func (l *SchedulingLoop) finishBackground(ctx context.Context, bg *writeList, again bool) {
	l.bgWrites.Add(1)
	go func() {
		defer l.bgWrites.Done()
		c := newCommitter(commitWorkers)
		for _, w := range bg.writes {
			c.do(w)
		}
		retry, err := c.wait()
		if err != nil && ctx.Err() == nil {
			l.Log.Warn("writing waiting reasons and queue status", "err", err)
		}
		l.bgBusy.Store(false)
		if l.bgSkipped.Swap(false) || again || retry || err != nil {
			l.Kick()
		}
	}()
}

func isSchedulable(j *v1alpha1.Job) bool {
	return j.DeletionTimestamp == nil && j.Status.Admission == nil && !j.Spec.RunPolicy.Suspended() &&
		(j.Status.Phase == "" || j.Status.Phase == v1alpha1.JobPending)
}

// admit commits one admission. On a conflict it rereads the job and applies
// the admission again if the job is still the same pending job; it reports
// false when the job changed so much that the next cycle must decide.
func (l *SchedulingLoop) admit(ctx context.Context, job *v1alpha1.Job, adm v1alpha1.Admission, now time.Time) (bool, error) {
	gen := job.Generation
	admittedAt := metav1.NewTime(now)
	adm.Time = &admittedAt // attained service counts from here
	for attempt := 0; attempt < 5; attempt++ {
		job.Status.Admission = &adm
		job.Status.Phase = v1alpha1.JobAdmitted
		job.Status.NominatedFlavor = ""
		meta.SetStatusCondition(&job.Status.Conditions, metav1.Condition{
			Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionTrue, Reason: "Admitted",
			Message:            fmt.Sprintf("admitted by queue %s in flavor %s", adm.Queue, adm.Flavor),
			LastTransitionTime: metav1.NewTime(now), ObservedGeneration: job.Generation,
		})
		err := l.Store.Update(ctx, job)
		if err == nil {
			l.assumed.assume(job)
			l.events.later(ctx, l.Recorder, job, now, pendingEvent{v1alpha1.EventNormal, "Admitted",
				fmt.Sprintf("admitted by queue %s (flavor %s) on %s", adm.Queue, adm.Flavor, placementSummary(adm))})
			return true, nil
		}
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if !apierrors.IsConflict(err) {
			return false, fmt.Errorf("admitting %s: %w", job.Name, err)
		}
		fresh := &v1alpha1.Job{}
		if err := l.Store.Get(ctx, job.Namespace, job.Name, fresh); err != nil {
			return false, nil
		}
		if fresh.Generation != gen || !isSchedulable(fresh) {
			return false, nil
		}
		job = fresh
	}
	return false, nil
}

func placementSummary(adm v1alpha1.Admission) string {
	nodes := map[string]int{}
	var order []string
	for _, p := range adm.Placements {
		if nodes[p.Node] == 0 {
			order = append(order, p.Node)
		}
		nodes[p.Node]++
	}
	out := ""
	for i, n := range order {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s (%d replicas)", n, nodes[n])
	}
	return out
}

// preempt records the scheduler's decision on the victim; the job
// controller stops it and requeues it. It reports false on a conflict so
// that the next cycle decides again on fresh state.
func (l *SchedulingLoop) preempt(ctx context.Context, job *v1alpha1.Job, p scheduler.Preemption, now time.Time) (bool, error) {
	if job.Status.Preemption != nil || !scheduler.HoldsResources(job) {
		return true, nil
	}
	notice := PreemptionNotice(job.Namespace, p, now)
	job.Status.Preemption = &notice
	err := l.Store.Update(ctx, job)
	switch {
	case err == nil:
		l.assumed.assume(job)
		l.events.later(ctx, l.Recorder, job, now, pendingEvent{v1alpha1.EventWarning, "Preempting",
			fmt.Sprintf("preempting (%s) for %s: %s", p.Reason, notice.By, notice.Message)})
		return true, nil
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("preempting %s: %w", job.Name, err)
	}
}

// PreemptionNotice is what the committer records on a victim in namespace
// victimNS for the core's preemption p. Tenants see their own objects only,
// so a preemptor of another namespace is not named. The job controller
// evicts the victim on seeing it; the core reads PreemptorUID to tell whose
// room an eviction makes (see scheduler.Snapshot).
func PreemptionNotice(victimNS string, p scheduler.Preemption, now time.Time) v1alpha1.PreemptionNotice {
	by, msg := p.By, p.Message
	if ns, _, _ := strings.Cut(p.By, "/"); ns != victimNS {
		by = "a job of another namespace"
		if p.Reason == scheduler.PreemptReclaim {
			msg = "queue " + p.ByQueue + " reclaimed " + p.Flavor + " capacity that this job's queue was borrowing (reclaimWithinCohort)"
		} else {
			msg = "a job of queue " + p.ByQueue + " outranks it (withinQueue: LowerPriority)"
		}
	}
	return v1alpha1.PreemptionNotice{Reason: p.Reason, By: by, Message: msg, Time: metav1.NewTime(now), PreemptorUID: p.ByUID}
}

// shouldWriteReason decides whether a waiting reason is worth a store write.
// A first reason or a new kind of reason is written at once; a reason
// whose numbers alone changed (queue position, free GPUs, usage) at most
// once per ReasonRefresh, since with thousands of pending jobs rewriting
// them every cycle would spend the store's whole write budget on them.
//
// In a queue with few pending jobs (fewPending), a job's move to the head
// of its queue is written at once too: whether it is next is what its
// owner waits to read. In a long queue the head changes with every
// admission, and those writes would cost the admissions' store.
func (l *SchedulingLoop) shouldWriteReason(key string, job *v1alpha1.Job, reason string, now time.Time, fewPending bool) bool {
	c := meta.FindStatusCondition(job.Status.Conditions, v1alpha1.JobConditionAdmitted)
	first := c == nil || c.Status != metav1.ConditionFalse || job.Status.Phase != v1alpha1.JobPending
	if !first && c.Message == reason {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reasonWritten == nil {
		l.reasonWritten = map[string]time.Time{}
	}
	// The time of every write is kept, the first one's too: a reason whose
	// numbers alone changed waits ReasonRefresh after whichever write came
	// last.
	if first || !sameShape(c.Message, reason) || (fewPending && becameHead(c.Message, reason)) || now.Sub(l.reasonWritten[key]) >= l.ReasonRefresh {
		l.reasonWritten[key] = now
		return true
	}
	return false
}

// headRewriteMaxPending is the most pending jobs a queue may have for a
// job's move to its head to be written at once (see shouldWriteReason).
const headRewriteMaxPending = 50

// becameHead reports whether a reason puts its job first in its queue
// where the last one written did not: that it is next is the number a user
// waits to read, and it changes for one job of a queue at a time.
func becameHead(old, reason string) bool {
	const head = "position 1 in queue "
	return strings.Contains(reason, head) && !strings.Contains(old, head)
}

// forgetReasons drops the write times of jobs that no longer wait.
func (l *SchedulingLoop) forgetReasons(waiting map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.reasonWritten {
		if _, ok := waiting[k]; !ok {
			delete(l.reasonWritten, k)
		}
	}
}

// kickAfter asks for a cycle after d, once: further calls before it fires
// do nothing.
func (l *SchedulingLoop) kickAfter(d time.Duration) {
	if !l.kickPending.CompareAndSwap(false, true) {
		return
	}
	go func() {
		<-l.Clock.After(max(d, 0))
		l.kickPending.Store(false)
		l.Kick()
	}()
}

// sameShape reports whether two reasons differ only in their numbers
// (each run of digits counts as one token), without allocating: it runs for
// every pending job in every cycle.
func sameShape(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		da, db := isDigit(a[i]), isDigit(b[j])
		switch {
		case da && db:
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		case a[i] != b[j]:
			return false
		default:
			i++
			j++
		}
	}
	return i == len(a) && j == len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// markWaiting records why a job still waits.
func (l *SchedulingLoop) markWaiting(ctx context.Context, job *v1alpha1.Job, reason, nominated string, now time.Time) error {
	job = job.DeepCopy()
	job.Status.Phase = v1alpha1.JobPending
	job.Status.NominatedFlavor = nominated
	meta.SetStatusCondition(&job.Status.Conditions, metav1.Condition{
		Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionFalse, Reason: "Pending",
		Message: reason, LastTransitionTime: metav1.NewTime(now), ObservedGeneration: job.Generation,
	})
	return l.Store.Update(ctx, job)
}

// updateQueues writes each queue's counts and usage where they changed,
// through c (the background writes of a cycle). pendingCount is, per
// queue, how many jobs waited for it when the cycle began; it is changed.
func (l *SchedulingLoop) updateQueues(ctx context.Context, c writer, queues []*v1alpha1.Queue, admittedJobs []*v1alpha1.Job, pendingCount map[string]int32, plan scheduler.Plan) {
	admitted := map[string]int32{}
	for _, j := range admittedJobs {
		admitted[j.Status.Admission.Queue]++
	}
	for _, a := range plan.Admissions {
		admitted[a.Admission.Queue]++
		pendingCount[a.Admission.Queue]--
	}
	for _, q := range queues {
		st := v1alpha1.QueueStatus{PendingJobs: pendingCount[q.Name], AdmittedJobs: admitted[q.Name], Conditions: q.Status.Conditions}
		flavorNames := make([]string, 0, len(plan.Usage[q.Name]))
		for f := range plan.Usage[q.Name] {
			flavorNames = append(flavorNames, f)
		}
		sort.Strings(flavorNames)
		for _, f := range flavorNames {
			fu := v1alpha1.FlavorUsage{Name: f, Resources: quantities(plan.Usage[q.Name][f])}
			if b, ok := plan.Borrowed[q.Name][f]; ok && !b.IsZero() {
				fu.Borrowed = quantities(b)
			}
			st.Usage = append(st.Usage, fu)
		}
		if equality.Semantic.DeepEqual(q.Status, st) {
			continue
		}
		q = q.DeepCopy()
		q.Status = st
		c.do(func() (bool, error) {
			err := l.Store.Update(ctx, q)
			if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("updating the status of queue %s: %w", q.Name, err)
			}
			// A conflict means the queue changed, and that change's event
			// brings the next cycle.
			return true, nil
		})
	}
}

// LoadCapacity reads the nodes, flavors and queues of a snapshot (no jobs):
// what admission checks need to tell whether a job could ever run.
func LoadCapacity(ctx context.Context, s store.Store) (scheduler.Snapshot, error) {
	var (
		nodes   v1alpha1.NodeList
		flavors v1alpha1.FlavorList
		queues  v1alpha1.QueueList
	)
	for _, list := range []v1alpha1.ObjectList{&nodes, &flavors, &queues} {
		if err := s.List(ctx, list, store.ListOptions{}); err != nil {
			return scheduler.Snapshot{}, err
		}
	}
	var snap scheduler.Snapshot
	for i := range nodes.Items {
		snap.Nodes = append(snap.Nodes, &nodes.Items[i])
	}
	for i := range flavors.Items {
		snap.Flavors = append(snap.Flavors, &flavors.Items[i])
	}
	for i := range queues.Items {
		snap.Queues = append(snap.Queues, &queues.Items[i])
	}
	return snap, nil
}

func quantities(a scheduler.Amounts) map[string]resource.Quantity {
	return map[string]resource.Quantity{
		v1alpha1.ResourceCPU:    *resource.NewMilliQuantity(a.CPUMilli, resource.DecimalSI),
		v1alpha1.ResourceMemory: *resource.NewQuantity(a.Memory, resource.BinarySI),
		v1alpha1.ResourceGPU:    *resource.NewMilliQuantity(a.GPUMilli, resource.DecimalSI),
	}
}
