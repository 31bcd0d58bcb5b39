package bench

import (
	"math"
	"time"
)

// Timeline is a run second by second: what was admitted, finished and
// evicted in each second per workload class, how much of the queues'
// nominal quota was held, and how many jobs waited. It shows where a run's
// time went (a slow drain at the end, quota left idle while jobs wait), and
// a live run's can be laid beside a replay's (--ideal) of the same scenario.
type Timeline struct {
	Seconds []TimelineSecond `json:"seconds"`
	// LostUnitSeconds is the work evictions threw away: per eviction, the
	// units the job held times how long it had held them.
	LostUnitSeconds float64 `json:"lostUnitSeconds"`
	// HeldBeyondRuntimeMs is, per class, how long a finished job held its
	// quota beyond its runtime, on average: the control plane's latency in
	// starting it and in recording its end (0 in a replay).
	HeldBeyondRuntimeMs map[string]float64 `json:"heldBeyondRuntimeMs"`
}

// TimelineSecond is one second of a Timeline.
type TimelineSecond struct {
	// T is the second's start, in seconds after the first submission.
	T        int            `json:"t"`
	Admitted map[string]int `json:"admitted,omitempty"`
	Finished map[string]int `json:"finished,omitempty"`
	Evicted  map[string]int `json:"evicted,omitempty"`
	// HeldPercent is the quota held during the second (summed over every
	// queue, borrowed quota included) over the queues' summed nominal quota.
	HeldPercent float64 `json:"heldPercent"`
	// Pending is how many submitted jobs held no quota and had not finished
	// at the second's end.
	Pending int `json:"pending"`
}

// timelineRecorder is the recorder's part that builds a Timeline. Its
// methods run under the recorder's lock.
type timelineRecorder struct {
	t0      time.Time // zero until start: nothing is recorded before
	secs    []*timelineSec
	held    float64   // units held now, all queues together
	since   time.Time // held is integrated up to here
	pending int
	lost    float64
	beyond  map[string][2]float64 // class → seconds beyond runtime, jobs
}

type timelineSec struct {
	admitted, finished, evicted map[string]int
	heldUnitSeconds             float64
	pending                     int
	pendingSet                  bool
}

func (t *timelineRecorder) start(t0 time.Time) {
	t.t0, t.since = t0, t0
	t.beyond = map[string][2]float64{}
}

// sec returns the bucket of the second that holds at.
func (t *timelineRecorder) sec(at time.Time) *timelineSec {
	i := max(0, int(at.Sub(t.t0)/time.Second))
	for len(t.secs) <= i {
		t.secs = append(t.secs, &timelineSec{})
	}
	return t.secs[i]
}

// advance integrates the quota held up to now, second by second.
func (t *timelineRecorder) advance(now time.Time) {
	for t.since.Before(now) {
		i := max(0, int(t.since.Sub(t.t0)/time.Second))
		end := t.t0.Add(time.Duration(i+1) * time.Second)
		if end.After(now) {
			end = now
		}
		t.sec(t.since).heldUnitSeconds += t.held * end.Sub(t.since).Seconds()
		t.since = end
	}
}

func (t *timelineRecorder) setPending(now time.Time, delta int) {
	t.pending += delta
	s := t.sec(now)
	s.pending, s.pendingSet = t.pending, true
}

func bump(m *map[string]int, class string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[class]++
}

func (t *timelineRecorder) submitted(now time.Time) {
	if !t.t0.IsZero() {
		t.setPending(now, 1)
	}
}

func (t *timelineRecorder) forgotten(now time.Time) {
	if !t.t0.IsZero() {
		t.setPending(now, -1)
	}
}

// holdStarted records that a job of class began to hold units at now.
func (t *timelineRecorder) holdStarted(class string, units float64, now time.Time) {
	if t.t0.IsZero() {
		return
	}
	t.advance(now)
	t.held += units
	bump(&t.sec(now).admitted, class)
	t.setPending(now, -1)
}

// released records that a job stopped holding units at now, after holding
// them since heldAt: evicted, or finished after runtime.
func (t *timelineRecorder) released(class string, units float64, heldAt, now time.Time, finished bool, runtime time.Duration) {
	if t.t0.IsZero() {
		return
	}
	t.advance(now)
	t.held -= units
	if finished {
		b := t.beyond[class]
		t.beyond[class] = [2]float64{b[0] + (now.Sub(heldAt) - runtime).Seconds(), b[1] + 1}
		return
	}
	bump(&t.sec(now).evicted, class)
	t.lost += units * now.Sub(heldAt).Seconds()
	t.setPending(now, 1)
}

// finished records a job's end; holding is whether it held quota until then.
func (t *timelineRecorder) finished(class string, holding bool, now time.Time) {
	if t.t0.IsZero() {
		return
	}
	bump(&t.sec(now).finished, class)
	if !holding {
		t.setPending(now, -1)
	}
}

// timeline returns the Timeline up to end, with nominal the queues' summed
// nominal quota.
func (t *timelineRecorder) timeline(end time.Time, nominal float64) *Timeline {
	if t.t0.IsZero() {
		return nil
	}
	t.advance(end)
	out := &Timeline{LostUnitSeconds: round1(t.lost), HeldBeyondRuntimeMs: map[string]float64{}}
	for c, b := range t.beyond {
		if b[1] > 0 {
			out.HeldBeyondRuntimeMs[c] = round1(1000 * b[0] / b[1])
		}
	}
	pending := 0
	// Every second up to the one end falls in (the last finish may fall
	// exactly on a second's start, and belongs to that second).
	for i := range max(0, int(end.Sub(t.t0)/time.Second)) + 1 {
		from := t.t0.Add(time.Duration(i) * time.Second)
		s := &timelineSec{}
		if i < len(t.secs) {
			s = t.secs[i]
		}
		if s.pendingSet {
			pending = s.pending
		}
		ts := TimelineSecond{T: i, Admitted: s.admitted, Finished: s.finished, Evicted: s.evicted, Pending: pending}
		if span := min(end.Sub(from), time.Second).Seconds(); span > 0 && nominal > 0 {
			ts.HeldPercent = round1(100 * s.heldUnitSeconds / (nominal * span))
		}
		out.Seconds = append(out.Seconds, ts)
	}
	return out
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
