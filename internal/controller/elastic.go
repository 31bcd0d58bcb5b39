package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
	"skiff.dev/skiff/internal/store"
)

// ElasticGrower restarts elastic jobs that were admitted below their full
// size at a larger size once capacity frees up, as torchrun's elastic
// agent does when nodes join: the job gets a resize notice (its replicas
// see SIGTERM and a notice with reason Resized, and checkpoint), the job
// controller stops the attempt and requeues the job, and the scheduling
// loop admits it at the largest size that now fits, with the new
// WORLD_SIZE. It never grows a job while any job waits to be admitted:
// those come first.
type ElasticGrower struct {
	Store store.Store
	Clock clock.WithTicker
	Log   *slog.Logger
	// Interval between checks when nothing happens; default 2s. A job that
	// finishes or goes away triggers a check sooner.
	Interval time.Duration
	// MinRuntime is how long an attempt runs before it may be grown, so
	// that a job is not restarted over and over while capacity comes and
	// goes; default 10s.
	MinRuntime time.Duration

	informers map[string]cache.SharedIndexInformer
	kick      chan struct{}
}

// minCheckGap spaces checks triggered by job changes.
const minCheckGap = 100 * time.Millisecond

// Run checks until ctx ends.
func (g *ElasticGrower) Run(ctx context.Context) error {
	if g.Interval <= 0 {
		g.Interval = 2 * time.Second
	}
	if g.MinRuntime <= 0 {
		g.MinRuntime = 10 * time.Second
	}
	if g.Log == nil {
		g.Log = slog.Default()
	}
	g.informers = map[string]cache.SharedIndexInformer{}
	g.kick = make(chan struct{}, 1)
	kick := func() {
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
	var synced []cache.InformerSynced
	for _, k := range []v1alpha1.Kind{kindJob, kindQueue, kindFlavor, kindNode} {
		inf := newInformer(ctx, g.Store, k)
		if k.Kind == "Job" {
			// Capacity frees up when a job finishes, is suspended or goes.
			_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				UpdateFunc: func(old, cur any) {
					o, ok1 := old.(*v1alpha1.Job)
					c, ok2 := cur.(*v1alpha1.Job)
					if ok1 && ok2 && scheduler.HoldsResources(o) && !scheduler.HoldsResources(c) {
						kick()
					}
				},
				DeleteFunc: func(any) { kick() },
			})
			if err != nil {
				return fmt.Errorf("watching jobs: %w", err)
			}
		}
		g.informers[k.Kind] = inf
		synced = append(synced, inf.HasSynced)
		go inf.RunWithContext(ctx)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	t := g.Clock.NewTicker(g.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		case <-g.kick:
		}
		if err := g.Check(ctx); err != nil && ctx.Err() == nil {
			g.Log.Warn("growing elastic jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.Clock.After(minCheckGap):
		}
	}
}

// Check grows what can be grown now.
func (g *ElasticGrower) Check(ctx context.Context) error {
	now := g.Clock.Now()
	jobs := listOf[v1alpha1.Job](g.informers["Job"])
	var admitted, candidates []*v1alpha1.Job
	for _, j := range jobs {
		if isSchedulable(j) {
			return nil // a waiting job comes first
		}
		if scheduler.HoldsResources(j) {
			admitted = append(admitted, j)
			if growable(j, now, g.MinRuntime) {
				candidates = append(candidates, j)
			}
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	snap := scheduler.Snapshot{
		Nodes:    listOf[v1alpha1.Node](g.informers["Node"]),
		Flavors:  listOf[v1alpha1.Flavor](g.informers["Flavor"]),
		Queues:   listOf[v1alpha1.Queue](g.informers["Queue"]),
		Admitted: admitted,
	}
	// Higher priority first, then the oldest.
	sort.Slice(candidates, func(a, b int) bool {
		ja, jb := candidates[a], candidates[b]
		if ja.Spec.Priority != jb.Spec.Priority {
			return ja.Spec.Priority > jb.Spec.Priority
		}
		if !ja.CreationTimestamp.Equal(&jb.CreationTimestamp) {
			return ja.CreationTimestamp.Before(&jb.CreationTimestamp)
		}
		return scheduler.Key(ja) < scheduler.Key(jb)
	})
	// One job per check, the first that can grow: each growth is computed
	// as if it alone grew, so the next check decides on the state after
	// this restart.
	var gr scheduler.Growth
	var job *v1alpha1.Job
	for _, c := range candidates {
		if gs := scheduler.Grow(snap, []*v1alpha1.Job{c}, now); len(gs) > 0 {
			gr, job = gs[0], c.DeepCopy()
			break
		}
	}
	if job == nil {
		return nil
	}
	msg := fmt.Sprintf("capacity freed up: restarting with %d replicas instead of %d", gr.To, gr.From)
	job.Status.Preemption = &v1alpha1.PreemptionNotice{Reason: v1alpha1.PreemptionResize, Message: msg, Time: metav1.NewTime(now)}
	if err := g.Store.Update(ctx, job); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		return fmt.Errorf("growing %s: %w", gr.Name, err)
	}
	return nil
}

// growable reports whether a job runs below its full size with all its
// replicas started at least minRuntime ago, and is not being stopped.
func growable(j *v1alpha1.Job, now time.Time, minRuntime time.Duration) bool {
	st := &j.Status
	if st.Phase != v1alpha1.JobRunning || st.Preemption != nil || j.DeletionTimestamp != nil || j.Spec.RunPolicy.Suspended() {
		return false
	}
	full := 0
	for _, g := range j.Spec.ReplicaGroups {
		full += int(g.Replicas)
	}
	if len(st.Admission.Placements) >= full || len(st.Replicas) == 0 {
		return false
	}
	for _, rs := range st.Replicas {
		if rs.State != v1alpha1.ReplicaRunning || rs.StartedAt == nil || now.Sub(rs.StartedAt.Time) < minRuntime {
			return false
		}
	}
	return true
}
