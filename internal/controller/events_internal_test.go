package controller

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// TestEventQueueWritesEverything: every event added is written by the time
// wait returns, by at most maxEventWriters writers at once, and one added
// while wait runs (work finishing as its owner stops) is written by its
// caller.
func TestEventQueueWritesEverything(t *testing.T) {
	var q eventQueue
	var written, inFlight, most atomic.Int64
	release := make(chan struct{})
	for range 500 {
		q.add(func() {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			inFlight.Add(-1)
			written.Add(1)
		})
	}
	var waited sync.WaitGroup
	waited.Go(q.wait)
	for {
		q.mu.Lock()
		w := q.waiting
		q.mu.Unlock()
		if w {
			break
		}
		runtime.Gosched()
	}
	q.add(func() { written.Add(1) }) // while wait runs: written here
	if got := written.Load(); got != 1 {
		t.Fatalf("an event added during wait: %d written, want it written at once", got)
	}
	close(release)
	waited.Wait()
	if got := written.Load(); got != 501 {
		t.Fatalf("%d events written, want 501", got)
	}
	if m := most.Load(); m > maxEventWriters {
		t.Fatalf("%d writers at once, want at most %d", m, maxEventWriters)
	}
	// The queue works again after wait.
	q.add(func() { written.Add(1) })
	q.wait()
	if got := written.Load(); got != 502 {
		t.Fatalf("%d events written, want 502", got)
	}
}

// TestEventQueueHonoursItsBound: a queue given fewer writers (Kubernetes
// mode's) never runs more.
func TestEventQueueHonoursItsBound(t *testing.T) {
	q := eventQueue{max: 2}
	var inFlight, most atomic.Int64
	for range 100 {
		q.add(func() {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			runtime.Gosched()
			inFlight.Add(-1)
		})
	}
	q.wait()
	if m := most.Load(); m > 2 {
		t.Fatalf("%d writers at once, want at most 2", m)
	}
}

// TestEventQueueIsBounded: once maxQueuedEvents wait for a writer, the
// caller writes its event itself instead of queueing it.
func TestEventQueueIsBounded(t *testing.T) {
	q := eventQueue{max: 1}
	release := make(chan struct{})
	var written atomic.Int64
	holding := make(chan struct{})
	q.add(func() { close(holding); <-release; written.Add(1) }) // holds the only writer
	<-holding
	for range maxQueuedEvents {
		q.add(func() { written.Add(1) })
	}
	q.add(func() { written.Add(1) }) // over the bound: written here
	if got := written.Load(); got != 1 {
		t.Fatalf("%d written before the writer was released, want 1 (the caller's own)", got)
	}
	close(release)
	q.wait()
	if got := written.Load(); got != maxQueuedEvents+2 {
		t.Fatalf("%d written, want %d", got, maxQueuedEvents+2)
	}
}

// gatedStore holds every create until the gate opens.
type gatedStore struct {
	store.Store
	gate chan struct{}
}

func (g *gatedStore) Create(ctx context.Context, obj v1alpha1.Object) error {
	<-g.gate
	return g.Store.Create(ctx, obj)
}

// TestRecorderKnowsWhichObjectsHaveEventsUnwritten: from the moment events
// about an object are queued until they are stored, on any queue writing
// through the recorder, the recorder says so (a job's finalizer waits for
// it, so that the cascade deleting the job takes its events too).
func TestRecorderKnowsWhichObjectsHaveEventsUnwritten(t *testing.T) {
	ctx := context.Background()
	clk := clock.RealClock{}
	mem := store.NewMemory(clk.Now)
	gs := &gatedStore{Store: mem, gate: make(chan struct{})}
	r := &Recorder{Store: gs, Clock: clk, Source: "test"}
	job := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "j", UID: "uid-j"}}
	var loop, jobs eventQueue // the scheduling loop's and the job controller's
	loop.later(ctx, r, job, clk.Now(), pendingEvent{v1alpha1.EventNormal, "Admitted", "admitted"})
	jobs.later(ctx, r, job, clk.Now(), pendingEvent{v1alpha1.EventNormal, "Started", "started"},
		pendingEvent{v1alpha1.EventNormal, "Succeeded", "done"})
	if !r.unwrittenAbout("uid-j") {
		t.Fatal("events about j are queued, but the recorder says none are unwritten")
	}
	if r.unwrittenAbout("uid-k") {
		t.Fatal("no event about k was queued, but the recorder says some are unwritten")
	}
	close(gs.gate)
	loop.wait()
	jobs.wait()
	if r.unwrittenAbout("uid-j") {
		t.Fatal("every event about j is written, but the recorder says some are not")
	}
	var evs v1alpha1.EventList
	if err := mem.List(ctx, &evs, store.ListOptions{Namespace: "default"}); err != nil {
		t.Fatal(err)
	}
	if len(evs.Items) != 3 {
		t.Fatalf("%d events stored, want 3", len(evs.Items))
	}
}
