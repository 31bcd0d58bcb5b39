package serving

import (
	"testing"
	"time"
)

func base(now time.Time) scaleInput {
	return scaleInput{now: now, current: 1, min: 0, max: 10, target: 8,
		stableWindow: 60 * time.Second, panicWin: 6 * time.Second, scaleToZeroAfter: 5 * time.Minute}
}

func feed(w *window, from time.Time, d time.Duration, load float64) time.Time {
	t := from
	for ; t.Before(from.Add(d)); t = t.Add(time.Second) {
		w.add(sample{at: t, load: load}, time.Minute)
	}
	return t
}

func TestStableLoadSetsReplicas(t *testing.T) {
	w := &window{}
	now := feed(w, time.Unix(0, 0), 60*time.Second, 20) // 20 in flight, target 8
	in := base(now)
	in.current = 3
	in.lastRequest = now
	if d := decide(w, in); d.desired != 3 {
		t.Errorf("desired %d (%s), want ceil(20/8)=3", d.desired, d.reason)
	}
}

func TestPanicWindowScalesUpAtOnceAndHolds(t *testing.T) {
	w := &window{}
	now := feed(w, time.Unix(0, 0), 55*time.Second, 4) // one replica, quiet
	now = feed(w, now, 3*time.Second, 40)              // a burst
	in := base(now)
	in.lastRequest = now
	d := decide(w, in)
	// The panic window (6s) averages 3s of 40 and 3s of 4 = 22: 3 replicas.
	if d.desired < 3 || d.panicUntil.IsZero() {
		t.Fatalf("burst: desired %d panicUntil %v (%s)", d.desired, d.panicUntil, d.reason)
	}
	// The burst ends; in panic mode the count does not drop.
	now = feed(w, now, 10*time.Second, 0)
	in = base(now)
	in.current, in.panicUntil, in.lastRequest = d.desired, d.panicUntil, now
	if d2 := decide(w, in); d2.desired != d.desired {
		t.Errorf("after the burst, in panic: desired %d, want %d kept", d2.desired, d.desired)
	}
	// After a calm stable window it scales down on the stable average.
	now = feed(w, now, 70*time.Second, 2)
	in = base(now)
	in.current, in.panicUntil, in.lastRequest = d.desired, d.panicUntil, now
	if d3 := decide(w, in); d3.desired != 1 {
		t.Errorf("after calm: desired %d (%s), want 1", d3.desired, d3.reason)
	}
}

func TestScaleToZeroOnlyAfterTheIdlePeriod(t *testing.T) {
	w := &window{}
	start := time.Unix(0, 0)
	now := feed(w, start, 90*time.Second, 0)
	in := base(now)
	in.lastRequest = start.Add(30 * time.Second)
	if d := decide(w, in); d.desired != 1 {
		t.Errorf("idle for 60s of 5m: desired %d (%s), want 1", d.desired, d.reason)
	}
	in.now = in.lastRequest.Add(5 * time.Minute)
	if d := decide(w, in); d.desired != 0 {
		t.Errorf("idle for 5m: desired %d (%s), want 0", d.desired, d.reason)
	}
	in.min = 2
	if d := decide(w, in); d.desired != 2 {
		t.Errorf("minReplicas 2: desired %d", d.desired)
	}
}

func TestQueuedRequestsWakeAScaledToZeroService(t *testing.T) {
	w := &window{}
	now := time.Unix(1000, 0)
	in := base(now)
	in.current = 0
	in.queued = 1
	if d := decide(w, in); d.desired != 1 {
		t.Errorf("desired %d (%s), want 1", d.desired, d.reason)
	}
	// Many queued requests: the panic window sees them as load and asks
	// for more than one replica at once.
	w.add(sample{at: now, load: 30}, time.Minute)
	in.queued = 30
	if d := decide(w, in); d.desired != 4 {
		t.Errorf("30 queued, target 8: desired %d (%s), want 4", d.desired, d.reason)
	}
	in.max = 2
	if d := decide(w, in); d.desired != 2 {
		t.Errorf("capped at maxReplicas 2: desired %d", d.desired)
	}
}
