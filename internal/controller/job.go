package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// ReplicasFinalizer keeps a deleted Job until its replicas are stopped and
// their files removed.
const ReplicasFinalizer = "skiff.dev/replicas"

// JobController runs admitted jobs' replicas and reports their state.
type JobController struct {
	Store store.Store
	// Informers, when set, supplies informers shared with the process's
	// other controllers (each change decoded once); nil: its own.
	Informers *watchcache.Shared
	Runtime   runtime.Runtime
	Clock     clock.WithTicker
	Recorder  *Recorder
	Log       *slog.Logger
	// BackoffBase is the delay before the first restart; it doubles per
	// restart up to BackoffMax.
	BackoffBase, BackoffMax time.Duration
	// StopGrace is how long replicas get between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// Workers is the number of jobs reconciled at once.
	Workers int
	// EventWriters bounds the events written at once, in the background
	// (default 16). On a busy API server each one competes with the status
	// writes that decide things; fewer keep events from crowding them out.
	EventWriters int
	// WorkDir holds files the controller writes for jobs (MPI hostfiles).
	WorkDir string
	// NodeAddress maps a node to the address replicas reach it at; nil
	// means loopback (every replica runs on this machine).
	NodeAddress func(node string) string
	// PeerAddress, when set, maps a replica (its job, group, index and
	// node) to the address its peers reach it at, e.g. a pod's DNS name in
	// Kubernetes mode; it wins over NodeAddress.
	PeerAddress func(job *v1alpha1.Job, group string, index int32, node string) string
	// PickPort returns a free port for a job's rendezvous; nil asks the
	// kernel for one on loopback.
	PickPort func() (int, error)
	// DataDir, when set, holds jobs' checkpoint directories
	// (<DataDir>/checkpoints/<namespace>/...), passed as SKIFF_CHECKPOINT_DIR.
	DataDir string
	// APIURL and Tokens, when set, give every replica SKIFF_API and a
	// SKIFF_JOB_TOKEN that reaches its own job's metrics and notice only.
	APIURL string
	Tokens JobTokenIssuer
	// Metrics, when set, forgets a deleted job's metrics.
	Metrics interface {
		DeleteJob(ctx context.Context, namespace, job string) error
	}
	// Logs, when set, is told about each replica exit before it is
	// recorded, to store the metric lines the replica printed last.
	Logs LogFlusher

	queue workqueue.TypedRateLimitingInterface[string]
	// jobs is the job informer's store, which passes read; written keeps
	// each job as this controller last wrote it until the informer has
	// caught up, so a pass never starts from an older state than the
	// previous pass left.
	jobs    cache.Store
	written assumeCache
	events  eventQueue // events of stored statuses being written
}

func (c *JobController) defaults() {
	if c.BackoffBase == 0 {
		c.BackoffBase = time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.StopGrace == 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.Workers == 0 {
		// Reconciles mostly wait on store commits (a status write, then
		// its events); more of them in flight share group commits. With 16,
		// a stream of short jobs (hundreds finishing a second) queued
		// reconciles for most of a second each while their quota sat idle.
		c.Workers = 64
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Run reconciles jobs until ctx ends.
func (c *JobController) Run(ctx context.Context) error {
	c.defaults()
	c.events.max = c.EventWriters
	defer c.events.wait() // runs after the ShutDown below; a pass still finishing writes its own events
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "jobs", Clock: c.Clock})
	defer c.queue.ShutDown()

	// Level-triggered: every add, change, delete and periodic resync of a
	// job only enqueues its key; reconcile reads the job fresh.
	jobs, runJobs := watchcache.For(ctx, c.Informers, c.Store, kindJob)
	enqueue := func(obj any) {
		if o, ok := obj.(v1alpha1.Object); ok {
			c.queue.Add(keyOf(o))
		} else if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			c.queue.Add(d.Key)
		}
	}
	if _, err := jobs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(old, obj any) {
			o, _ := old.(*v1alpha1.Job)
			n, _ := obj.(*v1alpha1.Job)
			if n != nil {
				c.written.caughtUp(n)
			}
			if o != nil && n != nil && waitingOnly(o, n) {
				return
			}
			enqueue(obj)
		},
		DeleteFunc: func(obj any) {
			if j, ok := obj.(*v1alpha1.Job); ok {
				c.written.forget(keyOf(j))
			} else if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				c.written.forget(d.Key)
			}
			enqueue(obj)
		},
	}); err != nil {
		return fmt.Errorf("watching jobs: %w", err)
	}
	go runJobs()
	c.jobs = jobs.GetStore()
	if !cache.WaitForCacheSync(ctx.Done(), jobs.HasSynced) {
		return nil
	}
	go c.watchExits(ctx)
	for i := 0; i < c.Workers; i++ {
		go c.worker(ctx)
	}
	<-ctx.Done()
	return nil
}

// waitingOnly says whether a change to a job is one reconcile would do
// nothing about: the job was and is pending, not admitted, not preempted,
// not deleted, holds the replicas finalizer, and neither its spec nor its
// annotations or finalizers changed — the scheduler rewrote its waiting
// reason. Skipping it saves a fresh read of the job per reason write (on
// Kubernetes a GET on the API server); any later change that matters is
// another event.
func waitingOnly(old, cur *v1alpha1.Job) bool {
	pending := func(j *v1alpha1.Job) bool {
		return j.Status.Phase == v1alpha1.JobPending && j.Status.Admission == nil && j.Status.Preemption == nil &&
			j.DeletionTimestamp == nil && hasString(j.Finalizers, ReplicasFinalizer)
	}
	return pending(old) && pending(cur) && old.Generation == cur.Generation &&
		equality.Semantic.DeepEqual(old.Spec, cur.Spec) &&
		equality.Semantic.DeepEqual(old.Annotations, cur.Annotations) &&
		equality.Semantic.DeepEqual(old.Finalizers, cur.Finalizers)
}

func (c *JobController) watchExits(ctx context.Context) {
	exits := c.Runtime.Exits()
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-exits:
			if job, ok := JobOfReplica(st.Name); ok {
				c.queue.Add(st.Namespace + "/" + job)
			}
		}
	}
}

// JobOfReplica returns the job a replica name <job>-<group>-<index>-<attempt>
// belongs to. Group names contain no '-', so the split is unambiguous.
func JobOfReplica(name string) (string, bool) {
	parts := strings.Split(name, "-")
	if len(parts) < 4 {
		return "", false
	}
	return strings.Join(parts[:len(parts)-3], "-"), true
}

func (c *JobController) worker(ctx context.Context) {
	watchcache.Work(ctx, c.queue, c.Log, "job", c.reconcile)
}

// pendingEvent is emitted only after the status that reports it is stored,
// so a conflict and retry does not report the same thing twice.
type pendingEvent struct{ typ, reason, msg string }

type reconcileState struct {
	job    *v1alpha1.Job
	now    time.Time
	events []pendingEvent
	after  time.Duration
}

func (s *reconcileState) event(typ, reason, format string, args ...any) {
	s.events = append(s.events, pendingEvent{typ, reason, fmt.Sprintf(format, args...)})
}

func (s *reconcileState) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if s.after == 0 || d < s.after {
		s.after = d
	}
}

// reconcile brings one job a step closer to its spec. It starts from the
// informer's copy of the job (no store read per pass; on Kubernetes, no GET
// per event) and every write is conditional on the revision it read, so a
// copy that another client's write made stale fails with a conflict: the
// pass then runs again on the job read from the store. Every step is safe
// to repeat (replica names are derived, starts and stops idempotent).
func (c *JobController) reconcile(ctx context.Context, key string) (time.Duration, error) {
	job := c.cached(key)
	if job == nil {
		return 0, nil // deleted; its delete event removed the replicas' owner
	}
	after, err := c.pass(ctx, job)
	if !apierrors.IsConflict(err) {
		return after, err
	}
	fresh := &v1alpha1.Job{}
	if err := c.Store.Get(ctx, job.Namespace, job.Name, fresh); err != nil {
		if apierrors.IsNotFound(err) {
			return 0, nil
		}
		return 0, err
	}
	return c.pass(ctx, fresh)
}

// cached returns a copy of the newer of the informer's job and the one
// this controller last wrote; nil when the informer has no such job.
func (c *JobController) cached(key string) *v1alpha1.Job {
	obj, ok, _ := c.jobs.GetByKey(key)
	j, _ := obj.(*v1alpha1.Job)
	if !ok || j == nil {
		c.written.forget(key)
		return nil
	}
	return c.written.newer(key, j).DeepCopy()
}

// update writes the job and remembers what was written.
func (c *JobController) update(ctx context.Context, job *v1alpha1.Job) error {
	if err := c.Store.Update(ctx, job); err != nil {
		return err
	}
	c.written.assume(job.DeepCopy())
	return nil
}

func (c *JobController) pass(ctx context.Context, job *v1alpha1.Job) (time.Duration, error) {
	if job.DeletionTimestamp != nil {
		return c.finalize(ctx, job)
	}
	adding := !hasString(job.Finalizers, ReplicasFinalizer)
	if adding {
		job.Finalizers = append(job.Finalizers, ReplicasFinalizer)
		if job.Status.Admission != nil {
			// Replicas may start in this pass: the finalizer that stops
			// them on deletion is stored first. A job not yet admitted
			// gets it in the same write as its first status.
			if err := c.update(ctx, job); err != nil {
				return 0, err
			}
			adding = false
		}
	}
	orig := job.DeepCopy()
	s := &reconcileState{job: job, now: c.Clock.Now()}
	if err := c.step(ctx, s); err != nil {
		return 0, err
	}
	if adding || !equality.Semantic.DeepEqual(orig.Status, job.Status) {
		job.Status.ObservedGeneration = job.Generation
		if err := c.update(ctx, job); err != nil {
			return 0, err
		}
	}
	c.events.later(ctx, c.Recorder, job, s.now, s.events...)
	return s.after, nil
}

func (c *JobController) step(ctx context.Context, s *reconcileState) error {
	job := s.job
	switch {
	case isFinished(job):
		return c.finished(ctx, s)
	case job.Annotations[v1alpha1.AnnotationStopReason] != "":
		reason, msg, _ := job.StopRequested()
		return c.stopRequested(ctx, s, reason, msg)
	case job.Status.Preemption != nil:
		return c.evict(ctx, s)
	case job.Spec.RunPolicy.Suspended():
		return c.suspend(ctx, s)
	case job.Status.Phase == v1alpha1.JobSuspended:
		job.Status.Phase = v1alpha1.JobPending
		setCondition(job, v1alpha1.JobConditionAdmitted, false, "Resumed", "waiting for the scheduler to admit the job again", s.now)
		s.event(v1alpha1.EventNormal, "Resumed", "job resumed; waiting for admission")
		return nil
	case job.Status.Admission == nil:
		if job.Status.Phase == "" {
			job.Status.Phase = v1alpha1.JobPending
		}
		return nil
	}
	return c.runAttempt(ctx, s)
}

func isFinished(j *v1alpha1.Job) bool {
	return j.Status.Phase == v1alpha1.JobSucceeded || j.Status.Phase == v1alpha1.JobFailed
}

// ReplicaName is the deterministic name of a replica of a job's attempt.
func ReplicaName(job string, group string, index, attempt int32) string {
	return fmt.Sprintf("%s-%s-%d-%d", job, group, index, attempt)
}

// runAttempt starts and observes the replicas of the current attempt.
func (c *JobController) runAttempt(ctx context.Context, s *reconcileState) error {
	job := s.job
	st := &job.Status
	// The deadline runs from the first start and keeps running through
	// restarts and their backoff, so it is checked first.
	if d := job.Spec.RunPolicy.ActiveDeadlineSeconds; d != nil && st.StartTime != nil {
		deadline := st.StartTime.Add(time.Duration(*d) * time.Second)
		if !s.now.Before(deadline) {
			c.fail(s, "DeadlineExceeded", fmt.Sprintf("job ran longer than activeDeadlineSeconds (%ds)", *d))
			return c.stopReplicas(ctx, job, st.Replicas)
		}
		s.requeue(deadline.Sub(s.now))
	}
	if st.NextAttemptTime != nil && s.now.Before(st.NextAttemptTime.Time) {
		s.requeue(st.NextAttemptTime.Sub(s.now))
		return nil
	}
	if st.Phase == v1alpha1.JobPending || st.Phase == "" {
		st.Phase = v1alpha1.JobAdmitted
	}
	if len(st.Replicas) == 0 && needsCoordinator(job) && st.CoordinatorPort == 0 {
		// The rendezvous port is part of the intent: stored before any
		// replica starts, so replicas of one attempt always agree on it.
		port, err := c.pickPort()
		if err != nil {
			return fmt.Errorf("choosing a rendezvous port: %w", err)
		}
		st.CoordinatorPort = int32(port)
		s.requeue(time.Millisecond)
		return nil
	}
	if len(st.Replicas) == 0 {
		// The intent is already durable: the stored admission and attempt
		// determine every replica's name, and the runtime starts a name at
		// most once. So the list is derived and the replicas started in this
		// same pass; after a crash the next pass derives the same names and
		// adopts what runs.
		st.Replicas = derivedReplicas(job)
		st.NextAttemptTime = nil
	}

	var failed, interrupted []string
	running, started := 0, 0
	for i := range st.Replicas {
		rs := &st.Replicas[i]
		wasPending := rs.State == v1alpha1.ReplicaPending
		if err := c.startOrObserve(ctx, s, rs); err != nil {
			return err
		}
		// Counted from the stored status, not from whether this pass
		// launched the process: a pass whose status write was lost (crash,
		// conflict) launched it, and the next pass must still record it.
		if wasPending && rs.State != v1alpha1.ReplicaPending && rs.StartedAt != nil {
			started++
			if st.StartTime == nil || rs.StartedAt.Before(st.StartTime) {
				t := *rs.StartedAt
				st.StartTime = &t
			}
		}
		switch rs.State {
		case v1alpha1.ReplicaRunning, v1alpha1.ReplicaPending:
			running++
		case v1alpha1.ReplicaFailed:
			switch rs.Reason {
			case "Shutdown":
				interrupted = append(interrupted, rs.Name)
			case "Stopped":
			default:
				failed = append(failed, describeExit(rs))
			}
		}
	}

	if started > 0 {
		if d := job.Spec.RunPolicy.ActiveDeadlineSeconds; d != nil {
			s.requeue(st.StartTime.Add(time.Duration(*d) * time.Second).Sub(s.now))
		}
		s.event(v1alpha1.EventNormal, "Started", "attempt %d: started %d of %d replicas", st.Attempt, started, len(st.Replicas))
	}
	if ok, msg := succeeded(job); ok {
		// Replicas outside a success policy's group may still run; the
		// finished job stops them.
		c.succeed(s, msg)
		return nil
	}
	if perm := permanentFailures(job); len(perm) > 0 {
		c.fail(s, "PermanentFailure", fmt.Sprintf("%s; not retried under failurePolicy.restartPolicy %s", strings.Join(perm, ", "), job.Spec.FailurePolicy.RestartPolicy))
		return c.stopReplicas(ctx, job, st.Replicas)
	}
	if len(failed) > 0 && len(interrupted) == 0 && job.Spec.RestartScope() == v1alpha1.RestartReplica {
		if !c.restartReplicas(s) {
			return c.stopReplicas(ctx, job, st.Replicas)
		}
		return nil
	}
	if len(failed) > 0 || len(interrupted) > 0 {
		if running > 0 {
			// Gang semantics: one replica failed, so the rest stop too.
			s.requeue(200 * time.Millisecond)
			return c.stopReplicas(ctx, job, st.Replicas)
		}
		if len(failed) == 0 {
			c.restart(s, false, "replicas were stopped when the server shut down; starting attempt %d", st.Attempt+1)
			return nil
		}
		if limit := job.Spec.MaxRestarts(); st.Restarts >= limit {
			c.fail(s, "BackoffLimitExceeded", fmt.Sprintf("%s; backoffLimit %d reached after %d restarts",
				strings.Join(failed, ", "), limit, st.Restarts))
			return nil
		}
		c.restart(s, true, "%s; restarting the gang as attempt %d", strings.Join(failed, ", "), st.Attempt+1)
		return nil
	}
	if st.Phase != v1alpha1.JobRunning {
		st.Phase = v1alpha1.JobRunning
		setCondition(job, v1alpha1.JobConditionRunning, true, "ReplicasRunning", fmt.Sprintf("attempt %d: %d replicas running", st.Attempt, len(st.Replicas)), s.now)
	}
	return nil
}

func (c *JobController) succeed(s *reconcileState, msg string) {
	job := s.job
	st := &job.Status
	st.Phase = v1alpha1.JobSucceeded
	now := metav1.NewTime(s.now)
	st.CompletionTime = &now
	setCondition(job, v1alpha1.JobConditionRunning, false, "Completed", "the job finished", s.now)
	setCondition(job, v1alpha1.JobConditionSucceeded, true, "Completed", msg, s.now)
	s.event(v1alpha1.EventNormal, "Succeeded", "%s", msg)
	if ttl := job.Spec.RunPolicy.TTLSecondsAfterFinished; ttl != nil {
		s.requeue(time.Duration(*ttl) * time.Second)
	}
}

func describeExit(rs *v1alpha1.ReplicaStatus) string {
	msg := fmt.Sprintf("replica %s-%d", rs.Group, rs.Index)
	switch {
	case rs.ExitCode != nil:
		msg += fmt.Sprintf(" exited with code %d", *rs.ExitCode)
	default:
		msg += " failed"
	}
	if rs.Reason != "" && rs.Reason != "Error" {
		msg += " (" + rs.Reason + ")"
	}
	if rs.Message != "" {
		msg += ": " + rs.Message
	}
	return msg
}

// startOrObserve starts a Pending replica (idempotently: the runtime never
// starts a name twice) and copies the runtime's view into its status.
func (c *JobController) startOrObserve(ctx context.Context, s *reconcileState, rs *v1alpha1.ReplicaStatus) error {
	known, err := c.observe(ctx, s, rs)
	if err != nil || known || rs.State != v1alpha1.ReplicaPending {
		return err
	}
	if rs.NotBefore != nil && s.now.Before(rs.NotBefore.Time) {
		s.requeue(rs.NotBefore.Sub(s.now))
		return nil
	}
	spec, err := c.replicaSpec(s.job, rs)
	if err != nil {
		rs.State, rs.Reason, rs.Message = v1alpha1.ReplicaFailed, "StartError", err.Error()
		return nil
	}
	status, err := c.Runtime.Start(ctx, spec)
	if err != nil {
		rs.State, rs.Reason, rs.Message = v1alpha1.ReplicaFailed, "StartError", err.Error()
		return nil
	}
	for _, w := range status.Warnings {
		s.event(v1alpha1.EventWarning, "LimitsNotApplied", "replica %s-%d: %s", rs.Group, rs.Index, w)
	}
	applyRuntimeStatus(rs, status)
	return nil
}

// observe copies the runtime's view of a replica into its status and never
// starts anything. It reports whether the runtime knows the replica. A
// replica that ran but is unknown to the runtime is marked Lost.
func (c *JobController) observe(ctx context.Context, s *reconcileState, rs *v1alpha1.ReplicaStatus) (bool, error) {
	if rs.State == v1alpha1.ReplicaSucceeded || rs.State == v1alpha1.ReplicaFailed {
		return true, nil
	}
	status, err := c.Runtime.Status(ctx, s.job.Namespace, rs.Name)
	if errors.Is(err, runtime.ErrNotFound) {
		if rs.State != v1alpha1.ReplicaPending {
			rs.State, rs.Reason, rs.Message = v1alpha1.ReplicaFailed, "Lost", "the runtime has no record of this replica"
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("replica %s: %w", rs.Name, err)
	}
	if status.State != runtime.Running && c.Logs != nil {
		// Metrics are not worth failing the job over: the collector's
		// next scan reads what this could not.
		if err := c.Logs.Flush(ctx, s.job.Namespace, rs.Name); err != nil && ctx.Err() == nil {
			c.Log.Warn("reading the last metric lines of a replica", "replica", rs.Name, "err", err)
		}
	}
	applyRuntimeStatus(rs, status)
	return true, nil
}

// settleUnstarted marks replicas that never started once the attempt is
// over, so a finished job has no Pending replicas.
func settleUnstarted(replicas []v1alpha1.ReplicaStatus) {
	for i := range replicas {
		if replicas[i].State == v1alpha1.ReplicaPending {
			replicas[i].State, replicas[i].Reason, replicas[i].Message = v1alpha1.ReplicaFailed, "NotStarted", "the attempt ended before this replica started"
		}
	}
}

func applyRuntimeStatus(rs *v1alpha1.ReplicaStatus, st runtime.Status) {
	if !st.StartedAt.IsZero() && rs.StartedAt == nil {
		t := metav1.NewTime(st.StartedAt)
		rs.StartedAt = &t
	}
	switch st.State {
	case runtime.Running:
		rs.State = v1alpha1.ReplicaRunning
	case runtime.Exited, runtime.Lost:
		code := int32(st.ExitCode)
		rs.ExitCode = &code
		rs.Reason, rs.Message = st.Reason, st.Message
		if st.State == runtime.Lost {
			rs.Reason = "Lost"
			rs.ExitCode = nil
		}
		if !st.FinishedAt.IsZero() {
			t := metav1.NewTime(st.FinishedAt)
			rs.FinishedAt = &t
		}
		if st.State == runtime.Exited && st.ExitCode == 0 && st.Reason == "" {
			rs.State = v1alpha1.ReplicaSucceeded
		} else {
			rs.State = v1alpha1.ReplicaFailed
			if rs.Reason == "" {
				rs.Reason = "Error"
				if st.Signal != "" {
					rs.Reason = "Signal"
					rs.Message = "killed by " + st.Signal
				}
			}
		}
	}
}

func (c *JobController) replicaSpec(job *v1alpha1.Job, rs *v1alpha1.ReplicaStatus) (runtime.Replica, error) {
	var group *v1alpha1.ReplicaGroup
	for i := range job.Spec.ReplicaGroups {
		if job.Spec.ReplicaGroups[i].Name == rs.Group {
			group = &job.Spec.ReplicaGroups[i]
		}
	}
	if group == nil {
		return runtime.Replica{}, fmt.Errorf("replica group %q is no longer in the job spec", rs.Group)
	}
	var gpus []int
	node := ""
	for _, p := range job.Status.Admission.Placements {
		if p.Group == rs.Group && p.Index == rs.Index {
			node = p.Node
			for _, g := range p.GPUs {
				gpus = append(gpus, int(g))
			}
		}
	}
	t := group.Template
	env := []string{
		"SKIFF_JOB=" + job.Name,
		"SKIFF_NAMESPACE=" + job.Namespace,
		"SKIFF_GROUP=" + rs.Group,
		"SKIFF_REPLICA_INDEX=" + strconv.Itoa(int(rs.Index)),
		"SKIFF_ATTEMPT=" + strconv.Itoa(int(rs.Attempt)),
		"SKIFF_REPLICA=" + fmt.Sprintf("%s-%d", rs.Group, rs.Index),
	}
	hostfile := ""
	if job.Spec.Framework == v1alpha1.FrameworkMPI {
		var err error
		if hostfile, err = c.writeHostfile(job); err != nil {
			return runtime.Replica{}, err
		}
	}
	env = append(env, frameworkEnv(job, rs.Group, rs.Index, c.peerAddress(job), hostfile)...)
	ckpt, err := c.checkpointDir(job)
	if err != nil {
		return runtime.Replica{}, err
	}
	if ckpt != "" {
		env = append(env, "SKIFF_CHECKPOINT_DIR="+ckpt)
	}
	if c.APIURL != "" && c.Tokens != nil {
		env = append(env, "SKIFF_API="+c.APIURL, "SKIFF_JOB_TOKEN="+c.Tokens.Issue(job.Namespace, job.Name, string(job.UID)))
	}
	for _, e := range t.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	r := runtime.Replica{
		Namespace: job.Namespace, Name: rs.Name, Owner: job.Name,
		Command: t.Command, Args: t.Args, Env: env, WorkingDir: t.WorkingDir, GPUs: gpus,
		Image: t.Image, Node: node, OwnerUID: string(job.UID), Subdomain: job.Name, Annotations: job.Annotations,
	}
	if t.Resources.CPU != nil {
		r.CPUMilli = t.Resources.CPU.MilliValue()
	}
	if t.Resources.Memory != nil {
		r.MemoryBytes = t.Resources.Memory.Value()
	}
	return r, nil
}

// restart ends the current attempt and schedules the next one.
func (c *JobController) pickPort() (int, error) {
	if c.PickPort != nil {
		return c.PickPort()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *JobController) restart(s *reconcileState, count bool, format string, args ...any) {
	st := &s.job.Status
	delay := time.Duration(0)
	if count {
		delay = c.backoff(s.job, st.Restarts)
		st.Restarts++
	}
	st.Attempt++
	st.Replicas = nil
	st.CoordinatorPort = 0
	if delay > 0 {
		t := metav1.NewTime(s.now.Add(delay))
		st.NextAttemptTime = &t
	}
	msg := fmt.Sprintf(format, args...)
	setCondition(s.job, v1alpha1.JobConditionRunning, false, "Restarting", msg, s.now)
	s.event(v1alpha1.EventWarning, "Restarted", "%s", msg)
	s.requeue(delay)
}

func (c *JobController) fail(s *reconcileState, reason, msg string) {
	st := &s.job.Status
	st.Phase = v1alpha1.JobFailed
	now := metav1.NewTime(s.now)
	st.CompletionTime = &now
	setCondition(s.job, v1alpha1.JobConditionRunning, false, reason, msg, s.now)
	setCondition(s.job, v1alpha1.JobConditionFailed, true, reason, msg, s.now)
	s.event(v1alpha1.EventWarning, "Failed", "%s", msg)
	if ttl := s.job.Spec.RunPolicy.TTLSecondsAfterFinished; ttl != nil {
		s.requeue(time.Duration(*ttl) * time.Second)
	}
}

// finished makes sure nothing of a finished job still runs and applies
// ttlSecondsAfterFinished.
func (c *JobController) finished(ctx context.Context, s *reconcileState) error {
	job := s.job
	// A preemption notice that raced with the job's end has nothing left
	// to evict: the finished job holds no resources.
	job.Status.Preemption = nil
	for i := range job.Status.Replicas {
		if _, err := c.observe(ctx, s, &job.Status.Replicas[i]); err != nil {
			return err
		}
	}
	settleUnstarted(job.Status.Replicas)
	if err := c.stopReplicas(ctx, job, job.Status.Replicas); err != nil {
		return err
	}
	ttl := job.Spec.RunPolicy.TTLSecondsAfterFinished
	if ttl == nil || job.Status.CompletionTime == nil {
		return nil
	}
	expiry := job.Status.CompletionTime.Add(time.Duration(*ttl) * time.Second)
	if s.now.Before(expiry) {
		s.requeue(expiry.Sub(s.now))
		return nil
	}
	err := c.Store.Delete(ctx, kindJob, job.Namespace, job.Name, store.DeleteOptions{ResourceVersion: job.ResourceVersion})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func setCondition(job *v1alpha1.Job, typ string, status bool, reason, msg string, now time.Time) {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&job.Status.Conditions, metav1.Condition{
		Type: typ, Status: s, Reason: reason, Message: msg,
		LastTransitionTime: metav1.NewTime(now), ObservedGeneration: job.Generation,
	})
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func removeString(list []string, s string) []string {
	var out []string
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}
