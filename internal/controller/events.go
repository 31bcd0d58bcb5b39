package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Recorder writes Event objects about other objects. Events are owned by
// the object they describe, so they go when it goes.
type Recorder struct {
	Store  store.Store
	Clock  clock.PassiveClock
	Source string
	Log    *slog.Logger
	// Observe, when set, is told about each event before it is written
	// (metrics and traces are derived from them); obj is the object as
	// the controller last wrote it.
	Observe func(obj v1alpha1.Object, eventType, reason string, now time.Time)

	mu sync.Mutex
	// unwritten counts, per object uid, the events that background
	// writers (every eventQueue using this recorder) have yet to write.
	unwritten map[string]int
}

// queued adds n to the events about the object with this uid waiting to
// be written.
func (r *Recorder) queued(uid string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unwritten == nil {
		r.unwritten = map[string]int{}
	}
	if r.unwritten[uid] += n; r.unwritten[uid] <= 0 {
		delete(r.unwritten, uid)
	}
}

// unwrittenAbout reports whether events about the object with this uid
// are still to be written in the background. The object must not go
// before they are: an event stored after its owner's cascading deletion
// would outlive it.
func (r *Recorder) unwrittenAbout(uid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unwritten[uid] > 0
}

// Event records one event; failures are logged, never returned, because an
// event must not block the work it reports.
func (r *Recorder) Event(ctx context.Context, obj v1alpha1.Object, eventType, reason, format string, args ...any) {
	r.EventAt(ctx, obj, r.Clock.Now(), eventType, reason, format, args...)
}

// EventAt is Event for something that happened at a given time (an event
// written later than it happened, by a background writer).
func (r *Recorder) EventAt(ctx context.Context, obj v1alpha1.Object, at time.Time, eventType, reason, format string, args ...any) {
	k, err := v1alpha1.KindOf(obj)
	if err != nil {
		return
	}
	now := metav1.NewTime(at)
	if r.Observe != nil {
		r.Observe(obj, eventType, reason, now.Time)
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = v1alpha1.DefaultNamespace
	}
	ev := &v1alpha1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Name:      fmt.Sprintf("%s.%x", obj.GetName(), now.UnixNano()),
		},
		InvolvedObject: v1alpha1.ObjectReference{Kind: k.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID())},
		Reason:         reason,
		Message:        fmt.Sprintf(format, args...),
		Type:           eventType,
		Count:          1,
		FirstTimestamp: now,
		LastTimestamp:  now,
		Source:         r.Source,
	}
	if obj.GetNamespace() != "" && obj.GetUID() != "" {
		ev.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.APIVersion, Kind: k.Kind, Name: obj.GetName(), UID: obj.GetUID(),
		}}
	}
	v1alpha1.SetTypeMeta(ev)
	for i := 0; i < 3; i++ {
		err = r.Store.Create(ctx, ev)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			break
		}
		ev.Name = fmt.Sprintf("%s.%x%d", obj.GetName(), now.UnixNano(), i)
	}
	if err != nil && r.Log != nil {
		r.Log.Warn("recording event", "object", obj.GetName(), "reason", reason, "err", err)
	}
}

// eventQueue writes events in the background, at most maxEventWriters at
// a time, so that work whose events are many (a cycle admitting hundreds
// of jobs) waits for its own writes only. wait returns once every queued
// event is written. At most maxQueuedEvents wait; beyond, add writes.
type eventQueue struct {
	mu      sync.Mutex
	pending []func()
	writers int
	wg      sync.WaitGroup
	// waiting is set while wait runs: an event added meanwhile (by work
	// finishing as its owner stops) is written at once by its caller.
	waiting bool
	// max bounds the concurrent writers (0: maxEventWriters).
	max int
}

// maxEventWriters bounds the concurrent event writes of one queue by
// default; they share the store's group commits.
const maxEventWriters = 16

// maxQueuedEvents bounds the events waiting for a writer: past it the
// caller writes its own (the work slows down rather than memory growing or
// events being lost).
const maxQueuedEvents = 10000

func (q *eventQueue) add(write func()) {
	q.mu.Lock()
	if q.waiting || len(q.pending) >= maxQueuedEvents {
		q.mu.Unlock()
		write()
		return
	}
	defer q.mu.Unlock()
	q.pending = append(q.pending, write)
	limit := q.max
	if limit <= 0 {
		limit = maxEventWriters
	}
	if q.writers < limit {
		q.writers++
		q.wg.Add(1)
		go q.drain()
	}
}

func (q *eventQueue) drain() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.pending = nil // let a long burst's backing array go
			q.writers--
			q.mu.Unlock()
			return
		}
		write := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		q.mu.Unlock()
		write()
	}
}

// later has r record events about obj, which nobody changes any more, in
// the background, in order and at time at: work waits for the writes that
// decide things, not for the events that report them. They are written
// even when their work's context ends (the queue's owner waits for them).
func (q *eventQueue) later(ctx context.Context, r *Recorder, obj v1alpha1.Object, at time.Time, events ...pendingEvent) {
	if len(events) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	uid := string(obj.GetUID())
	r.queued(uid, 1)
	q.add(func() {
		for _, e := range events {
			r.EventAt(ctx, obj, at, e.typ, e.reason, "%s", e.msg)
		}
		r.queued(uid, -1)
	})
}

func (q *eventQueue) wait() {
	q.mu.Lock()
	q.waiting = true
	q.mu.Unlock()
	q.wg.Wait()
	q.mu.Lock()
	q.waiting = false
	q.mu.Unlock()
}
