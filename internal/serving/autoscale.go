package serving

import (
	"math"
	"time"
)

// sample is the load observed at one time: requests in flight at replicas
// plus requests held by the gateway waiting for one.
type sample struct {
	at   time.Time
	load float64
}

// window keeps the samples of the longest window in use.
type window struct {
	samples []sample
}

func (w *window) add(s sample, keep time.Duration) {
	w.samples = append(w.samples, s)
	cut := 0
	for cut < len(w.samples) && s.at.Sub(w.samples[cut].at) > keep {
		cut++
	}
	w.samples = w.samples[cut:]
}

// average is the mean load of the samples within d before now (0 without
// samples).
func (w *window) average(now time.Time, d time.Duration) float64 {
	sum, n := 0.0, 0
	for i := len(w.samples) - 1; i >= 0; i-- {
		if now.Sub(w.samples[i].at) > d {
			break
		}
		sum += w.samples[i].load
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// scaleInput is everything a scaling decision depends on.
type scaleInput struct {
	now                    time.Time
	current                int // replicas desired so far
	min, max               int
	target                 float64 // requests in flight per replica
	stableWindow, panicWin time.Duration
	scaleToZeroAfter       time.Duration
	lastRequest            time.Time
	queued                 int // requests held for a ready replica now
	panicUntil             time.Time
}

// scaleDecision is the new replica count and panic state.
type scaleDecision struct {
	desired    int
	panicUntil time.Time
	reason     string
}

// panicThreshold is how far above the current capacity the panic window's
// load must be to scale up at once.
const panicThreshold = 2.0

// decide computes the replica count (Knative KPA style). In panic mode,
// entered when the panic window's load needs panicThreshold times the
// current replicas, the count only grows until a stable window has passed
// without panic.
func decide(w *window, in scaleInput) scaleDecision {
	stable := w.average(in.now, in.stableWindow)
	panicLoad := w.average(in.now, in.panicWin)
	wantStable := int(math.Ceil(stable / in.target))
	wantPanic := int(math.Ceil(panicLoad / in.target))
	d := scaleDecision{desired: wantStable, panicUntil: in.panicUntil, reason: "stable window"}

	cur := in.current
	if wantPanic > 0 && float64(wantPanic) >= panicThreshold*math.Max(float64(cur), 1) && wantPanic > cur {
		d.panicUntil = in.now.Add(in.stableWindow)
	}
	if in.now.Before(d.panicUntil) {
		d.desired = max(cur, wantPanic, wantStable)
		d.reason = "panic window"
	}
	// Requests waiting for a first replica need one now, whatever the
	// averages say.
	if in.queued > 0 && d.desired < 1 {
		d.desired = 1
		d.reason = "requests waiting"
	}
	// Keep one replica through the idle period; scale to zero after it.
	if d.desired == 0 && in.min == 0 {
		idle := in.lastRequest.IsZero() || in.now.Sub(in.lastRequest) >= in.scaleToZeroAfter
		if !idle && cur > 0 {
			d.desired = 1
			d.reason = "idle period not over"
		} else if idle {
			d.reason = "idle: scaled to zero"
		}
	}
	if d.desired < in.min {
		d.desired = in.min
		d.reason = "minReplicas"
	}
	if d.desired > in.max {
		d.desired = in.max
		d.reason = "maxReplicas"
	}
	return d
}
