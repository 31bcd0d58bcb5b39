package serving

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/gateway"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// Labels on replica jobs.
const (
	LabelService = "skiff.dev/inference-service"
	LabelIndex   = "skiff.dev/replica-index"
	// LabelTemplate is a hash of what a replica runs (template, queue,
	// priority): replicas with an older one are replaced one at a time.
	LabelTemplate = "skiff.dev/template-hash"
)

// ServerGroup is the replica group of every replica job.
const ServerGroup = "server"

// Gateway is what the controller tells the gateway and asks of it.
type Gateway interface {
	SetService(gateway.Service)
	RemoveService(namespace, name string)
	SetEndpoints(namespace, name string, eps []gateway.Endpoint) error
	Stats(namespace, name string) (gateway.ServiceStats, bool)
}

// Controller reconciles InferenceServices.
type Controller struct {
	Store store.Store
	// Informers, when set, supplies the informers shared with the process's
	// other controllers (each job change decoded once); nil: its own.
	Informers *watchcache.Shared
	Gateway   Gateway
	Clock     clock.WithTicker
	Recorder  *controller.Recorder
	Log       *slog.Logger
	// PickPort returns a free port for a new replica; nil asks the kernel
	// for one on loopback.
	PickPort func() (int, error)
	// Probe checks whether the replica at base URL is ready; nil makes an
	// HTTP GET of the service's readiness path.
	Probe func(ctx context.Context, url string) error
	// Interval between load samples (and reconciles of every service);
	// 100ms when zero.
	Interval time.Duration
	// Host is where replicas listen; 127.0.0.1 when empty.
	Host string

	kick     chan string
	synced   chan struct{}
	services cache.SharedIndexInformer
	jobs     cache.SharedIndexInformer
	states   map[string]*serviceState
}

// serviceState is what the controller keeps in memory per service.
type serviceState struct {
	uid        string
	specRV     string
	load       window
	desired    int
	panicUntil time.Time
	// ready and lastProbe are per replica job.
	ready     map[string]bool
	lastProbe map[string]time.Time
	// draining replicas get no new requests; once the gateway has been told
	// (announced) and they have nothing in flight, they are deleted.
	draining, announced map[string]bool
}

const indexByService = "service"

// OnDemand is the gateway's callback for a request that found no ready
// replica: reconcile that service at once rather than at the next tick.
func (c *Controller) OnDemand(namespace, name string) {
	select {
	case c.kick <- namespace + "/" + name:
	default: // a reconcile is already due
	}
}

// Init prepares the controller; call it before handing OnDemand to the
// gateway. Run calls it when it was not called.
func (c *Controller) Init() {
	if c.kick == nil {
		c.kick = make(chan string, 64)
		c.synced = make(chan struct{})
	}
}

// Synced is closed once the controller has told the gateway about every
// stored service and its ready replicas, after a start or restart. The
// gateway holds requests until then, so that a restarted server does not
// answer 404 for a model it serves.
func (c *Controller) Synced() <-chan struct{} {
	c.Init()
	return c.synced
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.Init()
	if c.Interval == 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	c.states = map[string]*serviceState{}
	svcKind, _ := v1alpha1.LookupKind("InferenceService")
	jobKind, _ := v1alpha1.LookupKind("Job")
	var runServices, runJobs func()
	c.services, runServices = watchcache.For(ctx, c.Informers, c.Store, svcKind)
	c.jobs, runJobs = watchcache.For(ctx, c.Informers, c.Store, jobKind)
	if err := c.jobs.AddIndexers(cache.Indexers{indexByService: func(obj any) ([]string, error) {
		j, ok := obj.(*v1alpha1.Job)
		if !ok || j.Labels[LabelService] == "" {
			return nil, nil
		}
		return []string{j.Namespace + "/" + j.Labels[LabelService]}, nil
	}}); err != nil {
		return fmt.Errorf("indexing replica jobs: %w", err)
	}
	kickObj := func(obj any) {
		switch o := obj.(type) {
		case *v1alpha1.InferenceService:
			c.OnDemand(o.Namespace, o.Name)
		case *v1alpha1.Job:
			if s := o.Labels[LabelService]; s != "" {
				c.OnDemand(o.Namespace, s)
			}
		case cache.DeletedFinalStateUnknown:
			if j, ok := o.Obj.(*v1alpha1.Job); ok {
				c.OnDemand(j.Namespace, j.Labels[LabelService])
			}
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: kickObj, UpdateFunc: func(_, o any) { kickObj(o) }, DeleteFunc: kickObj}
	for _, inf := range []cache.SharedIndexInformer{c.services, c.jobs} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watching: %w", err)
		}
	}
	go runServices()
	go runJobs()
	if !cache.WaitForCacheSync(ctx.Done(), c.services.HasSynced, c.jobs.HasSynced) {
		return nil
	}
	c.reconcileAll(ctx)
	close(c.synced)
	tick := c.Clock.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case key := <-c.kick:
			c.reconcile(ctx, key, false)
		case <-tick.C():
			c.reconcileAll(ctx)
		}
	}
}

// reconcileAll reconciles every cached service (taking a load sample) and
// forgets the ones that went away.
func (c *Controller) reconcileAll(ctx context.Context) {
	known := map[string]bool{}
	for _, key := range c.services.GetStore().ListKeys() {
		known[key] = true
		c.reconcile(ctx, key, true)
	}
	for key := range c.states {
		if !known[key] {
			c.reconcile(ctx, key, false)
		}
	}
}

// replica is one replica job as the controller sees it.
type replica struct {
	job   *v1alpha1.Job
	index int
	port  int
	// canary replicas belong to the canary slot (<service>-canary<i>).
	canary bool
	// hash is the revision (template hash) the replica runs.
	hash string
	// outdated replicas run another revision than their slot's.
	outdated bool
	// terminating: deleted or finished; it holds its index until gone.
	terminating bool
	running     bool
}

func (c *Controller) reconcile(ctx context.Context, key string, sampleTick bool) {
	obj, exists, err := c.services.GetStore().GetByKey(key)
	ns, name, _ := cut(key)
	if err != nil || !exists || obj.(*v1alpha1.InferenceService).DeletionTimestamp != nil {
		if _, known := c.states[key]; known {
			c.Gateway.RemoveService(ns, name)
			delete(c.states, key)
		}
		return
	}
	svc := obj.(*v1alpha1.InferenceService).DeepCopy()
	now := c.Clock.Now()
	st := c.states[key]
	if st == nil || st.uid != string(svc.UID) {
		st = &serviceState{uid: string(svc.UID), desired: int(svc.Status.DesiredReplicas),
			ready: map[string]bool{}, lastProbe: map[string]time.Time{}, draining: map[string]bool{}, announced: map[string]bool{}}
		c.states[key] = st
	}
	if st.specRV != svc.ResourceVersion {
		c.Gateway.SetService(gatewayService(svc))
		st.specRV = svc.ResourceVersion
	}
	spec := &svc.Spec
	a := spec.Autoscaling
	stats, _ := c.Gateway.Stats(ns, name)
	if sampleTick {
		st.load.add(sample{at: now, load: float64(stats.InFlight + stats.Queued)}, a.StableWindow.Duration)
	}
	lastRequest := stats.LastRequest
	if t := svc.Status.LastRequestTime; t != nil && t.After(lastRequest) {
		lastRequest = t.Time
	}
	dec := decide(&st.load, scaleInput{now: now, current: st.desired, min: int(spec.Min()), max: int(spec.MaxReplicas),
		target: float64(spec.Target()), stableWindow: a.StableWindow.Duration, panicWin: a.PanicWindow.Duration,
		scaleToZeroAfter: a.ScaleToZeroAfter.Duration, lastRequest: lastRequest, queued: stats.Queued, panicUntil: st.panicUntil})
	st.panicUntil = dec.panicUntil
	if dec.desired != st.desired {
		c.Log.Info("scaling inference service", "service", key, "from", st.desired, "to", dec.desired, "reason", dec.reason)
		if c.Recorder != nil {
			reason := "ScaledUp"
			if dec.desired < st.desired {
				reason = "ScaledDown"
			}
			c.Recorder.Event(ctx, svc, "Normal", reason, "replicas %d -> %d (%s; load %d in flight, %d queued)", st.desired, dec.desired, dec.reason, stats.InFlight, stats.Queued)
		}
		st.desired = dec.desired
		now := metav1.NewTime(now)
		svc.Status.LastScaleTime = &now
	}

	cur := currentRevision(svc)
	replicas := c.replicas(ns, name, svc)
	plan := planRevisions(planInput{current: cur, rolledOut: svc.Status.RolledOut, canaryPercent: spec.CanaryTrafficPercent,
		desired: st.desired, canaryKept: canaryKept(replicas, cur.hash), stableSettled: stableSettled(replicas, st, cur.hash, st.desired)})
	slots := map[bool]slotPlan{false: plan.stable, true: plan.canary}
	for _, r := range replicas {
		r.outdated = r.hash != slots[r.canary].rev.hash
	}
	for _, canary := range []bool{false, true} {
		c.scaleSlot(ctx, svc, st, canary, slots[canary], replicas)
	}
	// Probe, drain and remove.
	var eps []gateway.Endpoint
	readyCount := 0
	readyByHash := map[string]int{}
	for _, r := range replicas {
		jn := r.job.Name
		if r.terminating {
			if r.job.DeletionTimestamp == nil {
				c.deleteReplica(ctx, svc, r, "the replica's job finished; a new one replaces it")
			}
			delete(st.ready, jn)
			continue
		}
		slotDesired := slots[r.canary].desired
		if r.index >= slotDesired || r.outdated && st.draining[jn] {
			if !st.ready[jn] || st.announced[jn] && stats.Replicas[jn] == 0 {
				why := "scaled down"
				if r.index < slotDesired {
					why = "the service's template changed"
				}
				c.deleteReplica(ctx, svc, r, why)
				delete(st.ready, jn)
				delete(st.draining, jn)
				delete(st.announced, jn)
				continue
			}
			st.draining[jn] = true
		}
		if r.running {
			c.probe(ctx, svc, st, r, now)
		} else {
			st.ready[jn] = false
		}
		if st.ready[jn] {
			ep := gateway.Endpoint{Name: jn, URL: c.url(r.port), Draining: st.draining[jn]}
			if plan.weights != nil {
				ep.Revision, ep.Weight = r.hash, plan.weights[r.hash]
			}
			eps = append(eps, ep)
			if !st.draining[jn] {
				readyCount++
				readyByHash[r.hash]++
			}
		}
	}
	if err := c.Gateway.SetEndpoints(ns, name, eps); err != nil {
		c.Log.Warn("telling the gateway about replicas", "service", key, "err", err)
	} else {
		for jn := range st.draining {
			st.announced[jn] = true
		}
	}
	c.canaryEvents(ctx, svc, plan)
	c.writeStatus(ctx, svc, st, replicas, readyCount, lastRequest, plan, revisionStatus(svc.Name, plan, readyByHash))
}

// canaryEvents records a canary's start and end, comparing the plan with
// the revisions the stored status lists.
func (c *Controller) canaryEvents(ctx context.Context, svc *v1alpha1.InferenceService, plan revisionPlan) {
	prev := svc.Status.Revisions
	wasCanary := len(prev) == 2 && prev[1].Canary
	if c.Recorder == nil || wasCanary == plan.canaryActive {
		return
	}
	if plan.canaryActive {
		c.Recorder.Event(ctx, svc, "Normal", "CanaryStarted", "revision %s gets %d%% of requests; %s keeps the rest",
			revisionName(svc.Name, plan.canary.rev.hash), plan.weights[plan.canary.rev.hash], revisionName(svc.Name, plan.stable.rev.hash))
		return
	}
	if plan.stable.rev.hash == prev[1].TemplateHash {
		c.Recorder.Event(ctx, svc, "Normal", "CanaryPromoted", "revision %s is rolled out; %s is being retired", prev[1].Name, prev[0].Name)
	} else {
		c.Recorder.Event(ctx, svc, "Normal", "CanaryEnded", "revision %s is rolled out; canary %s is being retired", revisionName(svc.Name, plan.stable.rev.hash), prev[1].Name)
	}
}

// scaleSlot creates the missing replicas of one slot (the rolled-out
// revision's, or the canary's), takes back draining ones it needs again,
// and replaces one outdated replica at a time: it is drained, deleted when
// its requests are done, and the next reconcile recreates its index with
// the slot's revision. Held requests wait meanwhile if it was the only one.
func (c *Controller) scaleSlot(ctx context.Context, svc *v1alpha1.InferenceService, st *serviceState, canary bool, sp slotPlan, all []*replica) {
	byIndex := map[int]*replica{}
	var reps []*replica
	for _, r := range all {
		if r.canary == canary {
			reps = append(reps, r)
			byIndex[r.index] = r
		}
	}
	for i := 0; i < sp.desired; i++ {
		r, ok := byIndex[i]
		switch {
		case !ok:
			if err := c.createReplica(ctx, svc, sp.rev, canary, i); err != nil && !apierrors.IsAlreadyExists(err) {
				c.Log.Warn("creating a replica", "service", svc.Namespace+"/"+svc.Name, "index", i, "canary", canary, "err", err)
			}
		case st.draining[r.job.Name] && !r.terminating && !r.outdated:
			delete(st.draining, r.job.Name)
			delete(st.announced, r.job.Name)
		}
	}
	updating := false
	for _, r := range reps {
		if r.outdated && (st.draining[r.job.Name] || r.terminating) {
			updating = true
		}
	}
	for _, r := range reps {
		if !updating && r.outdated && !r.terminating && r.index < sp.desired {
			if !st.ready[r.job.Name] {
				c.deleteReplica(ctx, svc, r, "the service's template changed")
				r.terminating = true
			} else {
				st.draining[r.job.Name] = true
			}
			updating = true
		}
	}
}

// canaryKept is one past the highest index of the canary slot's live
// replicas that run revision hash (0: none).
func canaryKept(replicas []*replica, hash string) int {
	n := 0
	for _, r := range replicas {
		if r.canary && !r.terminating && r.hash == hash {
			n = max(n, r.index+1)
		}
	}
	return n
}

// stableSettled says whether every index below desired of the rolled-out
// slot runs revision hash and is ready.
func stableSettled(replicas []*replica, st *serviceState, hash string, desired int) bool {
	ok := map[int]bool{}
	for _, r := range replicas {
		if !r.canary && !r.terminating && r.hash == hash && st.ready[r.job.Name] && !st.draining[r.job.Name] {
			ok[r.index] = true
		}
	}
	for i := 0; i < desired; i++ {
		if !ok[i] {
			return false
		}
	}
	return true
}

// revisionStatus lists the revisions for status: the rolled-out one, and
// the canary while one is in progress.
func revisionStatus(service string, plan revisionPlan, readyByHash map[string]int) []v1alpha1.ServingRevision {
	rev := func(sp slotPlan, canary bool, pct int) v1alpha1.ServingRevision {
		return v1alpha1.ServingRevision{Name: revisionName(service, sp.rev.hash), TemplateHash: sp.rev.hash, Canary: canary,
			DesiredReplicas: int32(sp.desired), ReadyReplicas: int32(readyByHash[sp.rev.hash]), TrafficPercent: int32(pct)}
	}
	if !plan.canaryActive {
		r := rev(plan.stable, false, 100)
		// During a promotion the canary's replicas serve the same revision.
		r.DesiredReplicas += int32(plan.canary.desired)
		return []v1alpha1.ServingRevision{r}
	}
	return []v1alpha1.ServingRevision{
		rev(plan.stable, false, plan.weights[plan.stable.rev.hash]),
		rev(plan.canary, true, plan.weights[plan.canary.rev.hash]),
	}
}

func cut(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", key, false
}

// replicas lists the service's replica jobs from the cache, by index.
func (c *Controller) replicas(ns, name string, svc *v1alpha1.InferenceService) []*replica {
	objs, _ := c.jobs.GetIndexer().ByIndex(indexByService, ns+"/"+name)
	var out []*replica
	for _, o := range objs {
		j := o.(*v1alpha1.Job)
		if !ownedBy(j, svc) {
			continue
		}
		idx, err := strconv.Atoi(j.Labels[LabelIndex])
		if err != nil {
			continue
		}
		r := &replica{job: j, index: idx, port: jobPort(j), canary: j.Labels[LabelCanary] == "true", hash: j.Labels[LabelTemplate]}
		switch j.Status.Phase {
		case v1alpha1.JobSucceeded, v1alpha1.JobFailed:
			r.terminating = true
		case v1alpha1.JobRunning:
			r.running = true
		}
		if j.DeletionTimestamp != nil {
			r.terminating = true
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].canary != out[k].canary {
			return !out[i].canary
		}
		return out[i].index < out[k].index
	})
	return out
}

func ownedBy(j *v1alpha1.Job, svc *v1alpha1.InferenceService) bool {
	for _, o := range j.OwnerReferences {
		if o.UID == svc.UID {
			return true
		}
	}
	return false
}

func jobPort(j *v1alpha1.Job) int {
	for _, g := range j.Spec.ReplicaGroups {
		for _, e := range g.Template.Env {
			if e.Name == "PORT" {
				p, _ := strconv.Atoi(e.Value)
				return p
			}
		}
	}
	return 0
}

func (c *Controller) url(port int) string {
	return "http://" + net.JoinHostPort(c.Host, strconv.Itoa(port))
}

func (c *Controller) pickPort() (int, error) {
	if c.PickPort != nil {
		return c.PickPort()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// replicaJob is the child Job that runs replica index of svc's revision rev
// on port, in the canary slot or the rolled-out one.
func replicaJob(svc *v1alpha1.InferenceService, rev revision, canary bool, index, port int) *v1alpha1.Job {
	tmpl := *rev.template.DeepCopy()
	tmpl.Env = append(tmpl.Env, v1alpha1.EnvVar{Name: "PORT", Value: strconv.Itoa(port)})
	// A model server is restarted as long as the service exists; the
	// controller replaces a job that gives up.
	backoff := int32(1 << 20)
	job := &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace,
			Name:      replicaName(svc.Name, canary, index),
			Labels:    map[string]string{LabelService: svc.Name, LabelIndex: strconv.Itoa(index), LabelTemplate: rev.hash},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.APIVersion, Kind: "InferenceService",
				Name: svc.Name, UID: svc.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
		},
		Spec: v1alpha1.JobSpec{
			Queue:         rev.queue,
			ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: ServerGroup, Replicas: 1, Template: tmpl}},
			RunPolicy:     v1alpha1.RunPolicy{BackoffLimit: &backoff},
		},
	}
	if canary {
		job.Labels[LabelCanary] = "true"
	}
	if rev.priority != nil {
		job.Spec.Priority = *rev.priority
	}
	v1alpha1.Default(job)
	return job
}

func ptr[T any](v T) *T { return &v }

func (c *Controller) createReplica(ctx context.Context, svc *v1alpha1.InferenceService, rev revision, canary bool, index int) error {
	port, err := c.pickPort()
	if err != nil {
		return err
	}
	job := replicaJob(svc, rev, canary, index, port)
	if err := c.Store.Create(ctx, job); err != nil {
		return fmt.Errorf("creating replica job %s: %w", job.Name, err)
	}
	return nil
}

func (c *Controller) deleteReplica(ctx context.Context, svc *v1alpha1.InferenceService, r *replica, why string) {
	jobKind, _ := v1alpha1.LookupKind("Job")
	err := c.Store.Delete(ctx, jobKind, r.job.Namespace, r.job.Name, store.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.Log.Warn("deleting a replica", "job", r.job.Name, "err", err)
		return
	}
	c.Log.Info("removing a replica", "service", svc.Namespace+"/"+svc.Name, "job", r.job.Name, "why", why)
}

// probeTimeout bounds one readiness probe.
const probeTimeout = 500 * time.Millisecond

func (c *Controller) probe(ctx context.Context, svc *v1alpha1.InferenceService, st *serviceState, r *replica, now time.Time) {
	jn := r.job.Name
	period := time.Duration(svc.Spec.ReadinessProbe.PeriodSeconds) * time.Second
	// Ready replicas are re-probed every period; starting ones every tick,
	// so a cold start ends as soon as the server listens.
	if st.ready[jn] && now.Sub(st.lastProbe[jn]) < period {
		return
	}
	st.lastProbe[jn] = now
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	probe := c.Probe
	if probe == nil {
		probe = httpProbe(svc.Spec.ReadinessProbe.Path)
	}
	err := probe(pctx, c.url(r.port))
	was := st.ready[jn]
	st.ready[jn] = err == nil
	if err == nil && !was {
		c.Log.Info("replica is ready", "job", jn, "port", r.port)
		if c.Recorder != nil {
			c.Recorder.Event(ctx, svc, "Normal", "ReplicaReady", "replica %s is ready on port %d", jn, r.port)
		}
	}
	if err != nil && was {
		c.Log.Warn("replica failed its readiness probe", "job", jn, "err", err)
	}
}

func (c *Controller) writeStatus(ctx context.Context, svc *v1alpha1.InferenceService, st *serviceState, replicas []*replica, ready int, lastRequest time.Time, plan revisionPlan, revs []v1alpha1.ServingRevision) {
	status := svc.Status.DeepCopy()
	status.Revisions = revs
	status.RolledOut = plan.rolledOut.DeepCopy()
	status.DesiredReplicas = int32(st.desired)
	status.ReadyReplicas = int32(ready)
	status.ObservedGeneration = svc.Generation
	status.Replicas = nil
	for _, r := range replicas {
		state := v1alpha1.ServingPending
		switch {
		case r.terminating:
			state = v1alpha1.ServingFailed
			if r.job.DeletionTimestamp != nil {
				state = v1alpha1.ServingDraining
			}
		case st.draining[r.job.Name]:
			state = v1alpha1.ServingDraining
		case st.ready[r.job.Name]:
			state = v1alpha1.ServingReady
		}
		status.Replicas = append(status.Replicas, v1alpha1.ServingReplica{Job: r.job.Name, Revision: r.hash, Index: int32(r.index), Port: int32(r.port), State: state})
	}
	// The last request time is kept to the second, and written only when it
	// moved by a few seconds, so traffic does not turn into store writes.
	if !lastRequest.IsZero() && (status.LastRequestTime == nil || lastRequest.Sub(status.LastRequestTime.Time) >= 5*time.Second) {
		t := metav1.NewTime(lastRequest.Truncate(time.Second))
		status.LastRequestTime = &t
	}
	cond := metav1.Condition{Type: v1alpha1.ServiceConditionReady, ObservedGeneration: svc.Generation}
	switch {
	case ready > 0:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "ReplicasReady", fmt.Sprintf("%d of %d replicas ready", ready, st.desired)
	case st.desired == 0:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, "ScaledToZero", "no replica runs; the first request starts one and waits for it"
	default:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, "ReplicasStarting", pendingMessage(replicas)
	}
	meta.SetStatusCondition(&status.Conditions, cond)
	if equality.Semantic.DeepEqual(status, &svc.Status) {
		return
	}
	svc.Status = *status
	if err := c.Store.Update(ctx, svc); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && !errors.Is(err, context.Canceled) {
		c.Log.Warn("writing inference service status", "service", svc.Namespace+"/"+svc.Name, "err", err)
	}
}

// pendingMessage says why no replica is ready, from the first replica job's
// Admitted condition (queue position, quota) when it has one.
func pendingMessage(replicas []*replica) string {
	for _, r := range replicas {
		if c := meta.FindStatusCondition(r.job.Status.Conditions, v1alpha1.JobConditionAdmitted); c != nil && c.Status != metav1.ConditionTrue {
			return fmt.Sprintf("replica job %s waits for admission: %s", r.job.Name, c.Message)
		}
		if r.running {
			return fmt.Sprintf("replica job %s runs; waiting for its readiness probe", r.job.Name)
		}
	}
	return "waiting for replica jobs to start"
}

// gatewayService is what the gateway needs of a service.
func gatewayService(svc *v1alpha1.InferenceService) gateway.Service {
	s := gateway.Service{Namespace: svc.Namespace, Name: svc.Name, Models: svc.Spec.Models, Routing: svc.Spec.Routing, LogPrompts: svc.Spec.LogPrompts}
	if l := svc.Spec.Limits; l != nil {
		if l.PerKey != nil {
			s.KeyLimit = gateway.Limit{RequestsPerMinute: l.PerKey.RequestsPerMinute, TokensPerMinute: l.PerKey.TokensPerMinute}
		}
		if l.PerNamespace != nil {
			s.NamespaceLimit = gateway.Limit{RequestsPerMinute: l.PerNamespace.RequestsPerMinute, TokensPerMinute: l.PerNamespace.TokensPerMinute}
		}
	}
	return s
}
