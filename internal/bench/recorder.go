package bench

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// recorder turns observed job states into the benchmark's numbers. Every
// method takes the observation time from its caller, so tests can drive it
// with made-up times.
type recorder struct {
	mu     sync.Mutex
	jobs   map[string]*jobRecord
	queues map[string]*queueRecord
	total  int

	submitted, admitted, finished int
	failures                      []string
	evictions                     int
	// events counts observed job states: about one per stored job write.
	events     int
	lastFinish time.Time
	done       chan struct{}
	tl         timelineRecorder
}

type jobRecord struct {
	class, queue string
	units        float64
	runtime      time.Duration
	submittedAt  time.Time
	holding      bool
	holdQueue    string
	heldAt       time.Time // when holding began
	admittedOnce bool
	timeToAdmit  time.Duration
	finished     bool
}

type queueRecord struct {
	class   string
	nominal float64
	inUse   float64
	since   time.Time
	// used is the integral of inUse over time, in unit·seconds, split
	// into work (units × runtime of the holds that ended in a finish) and
	// lost (the whole hold of those that ended in an eviction); the rest
	// is quota held beyond runtime (between admission and start, and
	// between the end and the release).
	used, work, lost float64
	peak             float64
}

func newRecorder(setup *Setup) *recorder {
	r := &recorder{jobs: map[string]*jobRecord{}, queues: map[string]*queueRecord{}, total: setup.Total, done: make(chan struct{})}
	for _, q := range setup.Queues {
		r.queues[q.Queue.Name] = &queueRecord{class: q.Class, nominal: q.Nominal}
	}
	if r.total == 0 {
		close(r.done)
	}
	return r
}

// start begins every queue's usage integral at t0.
func (r *recorder) start(t0 time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.queues {
		q.since = t0
	}
	r.tl.start(t0)
}

// submit registers a job of template jt just before it is created, so that
// its first watch event always finds it.
func (r *recorder) submit(key string, jt JobTemplate, queue string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs[key] = &jobRecord{class: jt.Class, queue: queue, units: jt.Units, runtime: jt.Runtime, submittedAt: at}
	r.submitted++
	r.tl.submitted(at)
}

// forget drops a job whose creation failed.
func (r *recorder) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.jobs[key]; ok {
		delete(r.jobs, key)
		r.submitted--
		r.tl.forgotten(rec.submittedAt)
	}
}

// holds is whether a job's admission counts against its queue's quota: it
// is admitted and has neither finished nor been released after a
// preemption.
func holds(j *v1alpha1.Job) bool {
	return j.Status.Admission != nil && (j.Status.Phase == v1alpha1.JobAdmitted || j.Status.Phase == v1alpha1.JobRunning)
}

// observe applies one observed state of a job at time now.
func (r *recorder) observe(j *v1alpha1.Job, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events++
	rec, ok := r.jobs[j.Namespace+"/"+j.Name]
	if !ok || rec.finished {
		return
	}
	isFinished := j.Status.Phase == v1alpha1.JobSucceeded || j.Status.Phase == v1alpha1.JobFailed
	nowHolding := holds(j) && !isFinished
	endedHold := false // whether this observation ends a hold
	// A job seen admitted for the first time (or again, after an eviction):
	// Kueue's recorder keeps the time of the last admission.
	if j.Status.Admission != nil && !rec.holding && (nowHolding || !rec.admittedOnce) {
		rec.timeToAdmit = now.Sub(rec.submittedAt)
		if !rec.admittedOnce {
			r.admitted++
		}
		rec.admittedOnce = true
	}
	switch {
	case nowHolding && !rec.holding:
		queue := j.Status.Admission.Queue
		if _, ok := r.queues[queue]; !ok {
			queue = rec.queue
		}
		r.change(queue, rec.units, now)
		rec.holding, rec.holdQueue, rec.heldAt = true, queue, now
		r.tl.holdStarted(rec.class, rec.units, now)
	case !nowHolding && rec.holding:
		r.change(rec.holdQueue, -rec.units, now)
		rec.holding = false
		if q := r.queues[rec.holdQueue]; q != nil && isFinished {
			q.work += rec.units * rec.runtime.Seconds()
		} else if q != nil {
			q.lost += rec.units * now.Sub(rec.heldAt).Seconds()
		}
		if !isFinished {
			r.evictions++
		}
		r.tl.released(rec.class, rec.units, rec.heldAt, now, isFinished, rec.runtime)
		endedHold = true
	}
	if isFinished {
		r.tl.finished(rec.class, endedHold, now)
		rec.finished = true
		r.finished++
		r.lastFinish = now
		if j.Status.Phase == v1alpha1.JobFailed {
			r.failures = append(r.failures, fmt.Sprintf("%s/%s: %s", j.Namespace, j.Name, failureMessage(j)))
		}
		if r.finished == r.total {
			close(r.done)
		}
	}
}

func failureMessage(j *v1alpha1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Type == v1alpha1.JobConditionFailed {
			return c.Message
		}
	}
	return "failed"
}

func (r *recorder) change(queue string, delta float64, now time.Time) {
	q := r.queues[queue]
	if q == nil {
		return
	}
	if now.After(q.since) {
		q.used += q.inUse * now.Sub(q.since).Seconds()
		q.since = now
	}
	q.inUse += delta
	if q.inUse > q.peak {
		q.peak = q.inUse
	}
}

// progress is a one-line summary for humans.
func (r *recorder) progress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	holding := 0
	for _, j := range r.jobs {
		if j.holding {
			holding++
		}
	}
	return fmt.Sprintf("submitted %d/%d, admitted %d, running %d, finished %d, evictions %d, job writes seen %d",
		r.submitted, r.total, r.admitted, holding, r.finished, r.evictions, r.events)
}

// ClassStats are the numbers of one workload class.
type ClassStats struct {
	Count                    int   `json:"count"`
	AvgTimeToAdmissionMs     int64 `json:"avgTimeToAdmissionMs"`
	MaxTimeToAdmissionMs     int64 `json:"maxTimeToAdmissionMs"`
	P50TimeToAdmissionMs     int64 `json:"p50TimeToAdmissionMs"`
	P99TimeToAdmissionMs     int64 `json:"p99TimeToAdmissionMs"`
	NeverAdmitted            int   `json:"neverAdmitted,omitempty"`
	ClassTotalTimeToAdmitted int64 `json:"-"`
}

// QueueClassStats are the usage numbers of one queue class.
type QueueClassStats struct {
	Queues int `json:"queues"`
	// MinUsagePercent is the lowest usage of a queue of the class.
	MinUsagePercent float64 `json:"minUsagePercent"`
	MaxUsagePercent float64 `json:"maxUsagePercent"`
	// ClassUsagePercent is Kueue's figure: the class's summed usage
	// integral over its summed nominal quota times the wall time.
	ClassUsagePercent float64 `json:"classUsagePercent"`
	// PeakPercent is the highest instantaneous usage of any queue.
	PeakPercent float64 `json:"peakPercent"`
	// Lowest is the queue with the lowest usage and what its usage
	// integral is made of.
	Lowest QueueUsage `json:"lowest"`
}

// QueueUsage splits one queue's usage integral (unit·seconds): Held =
// Work + Lost + Beyond. Work is units × runtime of its finished jobs; Lost
// the holds that preemptions ended (work thrown away); Beyond what its
// jobs held beyond their runtime (admission to start, end to release),
// the control plane's share.
type QueueUsage struct {
	Queue  string  `json:"queue"`
	Held   float64 `json:"held"`
	Work   float64 `json:"work"`
	Lost   float64 `json:"lost"`
	Beyond float64 `json:"beyond"`
}

// summary computes the results at end (the last finish, or the timeout).
func (r *recorder) summary(t0, end time.Time) (map[string]*ClassStats, map[string]*QueueClassStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	wall := end.Sub(t0).Seconds()
	classes := map[string]*ClassStats{}
	ttas := map[string][]int64{}
	for _, j := range r.jobs {
		c := classes[j.class]
		if c == nil {
			c = &ClassStats{}
			classes[j.class] = c
		}
		c.Count++
		if !j.admittedOnce {
			c.NeverAdmitted++
			continue
		}
		ms := j.timeToAdmit.Milliseconds()
		ttas[j.class] = append(ttas[j.class], ms)
		c.ClassTotalTimeToAdmitted += ms
	}
	for name, c := range classes {
		v := ttas[name]
		if len(v) == 0 {
			continue
		}
		sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
		c.AvgTimeToAdmissionMs = c.ClassTotalTimeToAdmitted / int64(len(v))
		c.MaxTimeToAdmissionMs = v[len(v)-1]
		c.P50TimeToAdmissionMs = v[len(v)/2]
		c.P99TimeToAdmissionMs = v[(len(v)*99)/100]
	}
	qclasses := map[string]*QueueClassStats{}
	sums := map[string][2]float64{}
	// In name order: the class sums are floating point, and a map's order
	// would change their last digits from run to run.
	for _, name := range sortedKeys(r.queues) {
		q := r.queues[name]
		used := q.used
		if end.After(q.since) {
			used += q.inUse * end.Sub(q.since).Seconds()
		}
		pct := 0.0
		if q.nominal > 0 && wall > 0 {
			pct = 100 * used / (q.nominal * wall)
		}
		s := qclasses[q.class]
		if s == nil {
			s = &QueueClassStats{MinUsagePercent: pct, MaxUsagePercent: pct}
			qclasses[q.class] = s
		}
		if s.Lowest.Queue == "" || pct < s.MinUsagePercent {
			beyond := used - q.work - q.lost
			if math.Abs(beyond) < 1e-6 { // rounding, in an ideal replay
				beyond = 0
			}
			s.Lowest = QueueUsage{Queue: name, Held: used, Work: q.work, Lost: q.lost, Beyond: beyond}
		}
		s.Queues++
		s.MinUsagePercent = min(s.MinUsagePercent, pct)
		s.MaxUsagePercent = max(s.MaxUsagePercent, pct)
		if q.nominal > 0 {
			s.PeakPercent = max(s.PeakPercent, 100*q.peak/q.nominal)
		}
		sum := sums[q.class]
		sums[q.class] = [2]float64{sum[0] + used, sum[1] + q.nominal}
	}
	for name, s := range qclasses {
		if sum := sums[name]; sum[1] > 0 && wall > 0 {
			s.ClassUsagePercent = 100 * sum[0] / (sum[1] * wall)
		}
	}
	return classes, qclasses
}
