package controller

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
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
