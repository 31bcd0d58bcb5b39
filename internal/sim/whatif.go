package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/scheduler"
)

// Live is what a running server holds that a what-if projection starts
// from: the objects as they are now.
//
// +kubebuilder:object:generate=false
type Live struct {
	Nodes   []*v1alpha1.Node
	Flavors []*v1alpha1.Flavor
	Queues  []*v1alpha1.Queue
	Jobs    []*v1alpha1.Job
}

// QuotaChange sets one queue's nominal quota of one resource in one flavor
// (`QUEUE:FLAVOR:RESOURCE=NOMINAL`).
//
// +kubebuilder:object:generate=false
type QuotaChange struct {
	Queue, Flavor, Resource string
	Nominal                 resource.Quantity
}

func (c QuotaChange) String() string {
	return fmt.Sprintf("%s:%s:%s=%s", c.Queue, c.Flavor, c.Resource, c.Nominal.String())
}

// ParseQuotaChange parses QUEUE:FLAVOR:RESOURCE=NOMINAL, e.g.
// team-a:a100:gpu=16.
func ParseQuotaChange(s string) (QuotaChange, error) {
	const want = "use QUEUE:FLAVOR:RESOURCE=NOMINAL, e.g. team-a:a100:gpu=16"
	lhs, val, ok := strings.Cut(strings.TrimSpace(s), "=")
	parts := strings.Split(lhs, ":")
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return QuotaChange{}, fmt.Errorf("%q: %s", s, want)
	}
	switch parts[2] {
	case v1alpha1.ResourceGPU, v1alpha1.ResourceCPU, v1alpha1.ResourceMemory:
	default:
		return QuotaChange{}, fmt.Errorf("%q: resource %q is not a queue resource: use gpu, cpu or memory", s, parts[2])
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(val))
	if err != nil {
		return QuotaChange{}, fmt.Errorf("%q: nominal %q is not a quantity (e.g. 16, 500m, 64Gi): %w", s, val, err)
	}
	if q.Sign() < 0 {
		return QuotaChange{}, fmt.Errorf("%q: nominal quota must not be negative", s)
	}
	return QuotaChange{Queue: parts[0], Flavor: parts[1], Resource: parts[2], Nominal: q}, nil
}

// ApplyQuota returns copies of queues with the changes applied; the inputs
// are not modified. A change naming an unknown queue or flavor is an
// error; a flavor the queue does not list yet (but the cluster has) is
// added to it, and so is a resource the flavor does not list yet.
func ApplyQuota(queues []*v1alpha1.Queue, flavors []*v1alpha1.Flavor, changes []QuotaChange) ([]*v1alpha1.Queue, error) {
	out := make([]*v1alpha1.Queue, len(queues))
	byName := map[string]*v1alpha1.Queue{}
	var names []string
	for i, q := range queues {
		out[i] = q.DeepCopy()
		byName[q.Name] = out[i]
		names = append(names, q.Name)
	}
	known := map[string]bool{}
	var fnames []string
	for _, f := range flavors {
		known[f.Name] = true
		fnames = append(fnames, f.Name)
	}
	sort.Strings(names)
	sort.Strings(fnames)
	for _, c := range changes {
		q := byName[c.Queue]
		if q == nil {
			return nil, fmt.Errorf("%s: no queue %q on the server (queues: %s)", c, c.Queue, strings.Join(names, ", "))
		}
		fi := -1
		for i := range q.Spec.Flavors {
			if q.Spec.Flavors[i].Name == c.Flavor {
				fi = i
			}
		}
		if fi < 0 {
			if !known[c.Flavor] {
				return nil, fmt.Errorf("%s: no flavor %q on the server (flavors: %s)", c, c.Flavor, strings.Join(fnames, ", "))
			}
			q.Spec.Flavors = append(q.Spec.Flavors, v1alpha1.FlavorQuota{Name: c.Flavor})
			fi = len(q.Spec.Flavors) - 1
		}
		fq := &q.Spec.Flavors[fi]
		set := false
		for i := range fq.Resources {
			if fq.Resources[i].Name == c.Resource {
				fq.Resources[i].NominalQuota = c.Nominal.DeepCopy()
				set = true
			}
		}
		if !set {
			fq.Resources = append(fq.Resources, v1alpha1.ResourceQuota{Name: c.Resource, NominalQuota: c.Nominal.DeepCopy()})
		}
	}
	return out, nil
}

// ProjectOptions tune a projection.
//
// +kubebuilder:object:generate=false
type ProjectOptions struct {
	// Now is when the projection starts (the server's present).
	Now time.Time
	// DefaultRuntime is the runtime assumed for a job that states neither
	// runPolicy.estimatedSeconds nor activeDeadlineSeconds.
	DefaultRuntime time.Duration
}

// Projected is one job's projected course.
//
// +kubebuilder:object:generate=false
type Projected struct {
	Namespace, Name, Queue string
	// Pending: the job waits now (else it holds resources now).
	Pending bool
	// Start is when the job is projected to start (for a running job, when
	// it started); nil when it never starts under the projection.
	Start *time.Time
	// End is when it is projected to finish; nil when it never starts.
	End *time.Time
	// Runtime is the runtime the projection used and RuntimeFrom where it
	// came from: estimatedSeconds, activeDeadlineSeconds or assumed (the
	// default runtime).
	Runtime     time.Duration
	RuntimeFrom string
	// Overdue: a running job past its expected end, assumed to end now.
	Overdue bool
	// Preemptions counts how often the projection preempts the job.
	Preemptions int
	// Waiting is why the job never starts (the core's last reason).
	Waiting string
}

// Runtime sources.
const (
	RuntimeEstimate = "estimatedSeconds"
	RuntimeDeadline = "activeDeadlineSeconds"
	RuntimeAssumed  = "assumed"
)

// maxProjectionSteps bounds the event loop: every step ends at least one
// job, so it is only reached when jobs preempt one another forever.
const maxProjectionSteps = 1_000_000

// Project runs the live scheduler core forward from opt.Now: the jobs that
// hold resources keep them until their expected end (start + runtime),
// pending jobs are admitted by scheduler.Schedule whenever it would admit
// them, and every admitted job then runs for its runtime. A preempted job
// goes back to pending with the runtime it had left. It returns every job
// that holds resources or waits now, pending ones first, each group by
// queue, then projected start, then namespace/name.
func Project(live Live, opt ProjectOptions) ([]Projected, error) {
	if opt.DefaultRuntime <= 0 {
		return nil, fmt.Errorf("default runtime %s: give a positive duration for jobs without an estimate", opt.DefaultRuntime)
	}
	snap := scheduler.Snapshot{Nodes: live.Nodes, Flavors: live.Flavors, Queues: live.Queues}
	type state struct {
		p    *Projected
		job  *v1alpha1.Job
		left time.Duration // runtime left when it next starts
		end  time.Time
	}
	now := opt.Now
	var all []*state
	byKey := map[string]*state{}
	var pending []*v1alpha1.Job
	for _, j := range live.Jobs {
		held := scheduler.HoldsResources(j)
		if !held && !schedulable(j) {
			continue
		}
		s := &state{job: j.DeepCopy(), p: &Projected{Namespace: j.Namespace, Name: j.Name, Queue: j.Spec.Queue}}
		s.p.Runtime, s.p.RuntimeFrom = runtimeOf(j, opt.DefaultRuntime)
		s.left = s.p.Runtime
		all = append(all, s)
		byKey[scheduler.Key(j)] = s
		switch {
		case held && j.Status.Preemption != nil:
			// Being evicted: it stops now and waits again for what it has left.
			s.p.Pending = true
			if st := j.Status.StartTime; st != nil {
				s.left = max(0, s.left-now.Sub(st.Time))
			}
			s.job = requeued(s.job)
			pending = append(pending, s.job)
		case held:
			from := now
			if st := j.Status.StartTime; st != nil {
				from = st.Time
			}
			start := from
			s.p.Start = &start
			s.end = from.Add(s.p.Runtime)
			if !s.end.After(now) {
				s.end, s.p.Overdue = now, true
			}
			snap.Admitted = append(snap.Admitted, s.job)
		default:
			s.p.Pending = true
			pending = append(pending, s.job)
		}
	}
	t := now
	var waiting map[string]string
	var core scheduler.Scheduler // keeps what it read of each pending job between cycles
	for step := 0; ; step++ {
		if step == maxProjectionSteps {
			return nil, fmt.Errorf("projection did not settle after %d steps (jobs preempt one another without end)", step)
		}
		// Jobs due by t stop.
		kept := snap.Admitted[:0]
		for _, j := range snap.Admitted {
			s := byKey[scheduler.Key(j)]
			if s.end.After(t) {
				kept = append(kept, j)
				continue
			}
			end := s.end
			s.p.End = &end
		}
		snap.Admitted = kept
		for round := 0; round < 64 && len(pending) > 0; round++ {
			plan := core.Schedule(snap, pending, t)
			waiting = plan.Waiting
			started := map[string]bool{}
			for _, a := range plan.Admissions {
				s := byKey[a.Namespace+"/"+a.Name]
				if s == nil {
					continue
				}
				started[a.Namespace+"/"+a.Name] = true
				adm := a.Admission
				st := metav1.NewTime(t)
				s.job = started1(s.job, &adm, &st)
				if s.p.Start == nil {
					start := t
					s.p.Start = &start
				}
				s.end = t.Add(s.left)
				snap.Admitted = append(snap.Admitted, s.job)
			}
			if len(started) > 0 {
				kept := pending[:0]
				for _, j := range pending {
					if !started[scheduler.Key(j)] {
						kept = append(kept, j)
					}
				}
				pending = kept
			}
			if len(plan.Preemptions) == 0 {
				break
			}
			victims := map[string]bool{}
			for _, pr := range plan.Preemptions {
				s := byKey[pr.Namespace+"/"+pr.Name]
				if s == nil || s.job.Status.Admission == nil {
					continue
				}
				victims[pr.Namespace+"/"+pr.Name] = true
				s.p.Preemptions++
				s.left = max(0, s.end.Sub(t))
				s.job = requeued(s.job)
				pending = append(pending, s.job)
			}
			kept := snap.Admitted[:0]
			for _, j := range snap.Admitted {
				if !victims[scheduler.Key(j)] {
					kept = append(kept, j)
				}
			}
			snap.Admitted = kept
		}
		if len(pending) == 0 && len(snap.Admitted) == 0 {
			break
		}
		// The next instant anything ends.
		var next time.Time
		for _, j := range snap.Admitted {
			if e := byKey[scheduler.Key(j)].end; next.IsZero() || e.Before(next) {
				next = e
			}
		}
		if next.IsZero() {
			break // pending jobs remain and nothing will ever free up
		}
		t = next
	}
	out := make([]Projected, 0, len(all))
	for _, s := range all {
		if s.p.Start == nil {
			s.p.Waiting = waiting[scheduler.Key(s.job)]
		}
		out = append(out, *s.p)
	}
	sort.SliceStable(out, func(a, b int) bool {
		pa, pb := &out[a], &out[b]
		if pa.Pending != pb.Pending {
			return pa.Pending
		}
		if pa.Queue != pb.Queue {
			return pa.Queue < pb.Queue
		}
		if (pa.Start == nil) != (pb.Start == nil) {
			return pa.Start != nil
		}
		if pa.Start != nil && !pa.Start.Equal(*pb.Start) {
			return pa.Start.Before(*pb.Start)
		}
		if pa.Namespace != pb.Namespace {
			return pa.Namespace < pb.Namespace
		}
		return pa.Name < pb.Name
	})
	return out, nil
}

// schedulable is the live scheduling loop's test for a pending job.
func schedulable(j *v1alpha1.Job) bool {
	return j.DeletionTimestamp == nil && j.Status.Admission == nil && !j.Spec.RunPolicy.Suspended() &&
		(j.Status.Phase == "" || j.Status.Phase == v1alpha1.JobPending)
}

// requeued is j pending again. Like started1 it returns a new object: the
// cached scheduler relies on a passed job never changing.
func requeued(j *v1alpha1.Job) *v1alpha1.Job {
	c := *j
	c.Status.Admission, c.Status.StartTime, c.Status.Preemption = nil, nil, nil
	c.Status.Phase = v1alpha1.JobPending
	return &c
}

// started1 is j admitted and running since st.
func started1(j *v1alpha1.Job, adm *v1alpha1.Admission, st *metav1.Time) *v1alpha1.Job {
	c := *j
	c.Status.Admission, c.Status.StartTime = adm, st
	c.Status.Phase = v1alpha1.JobRunning
	return &c
}

// runtimeOf is a job's expected runtime and where it came from.
func runtimeOf(j *v1alpha1.Job, def time.Duration) (time.Duration, string) {
	rp := j.Spec.RunPolicy
	switch {
	case rp.EstimatedSeconds != nil && *rp.EstimatedSeconds > 0:
		return time.Duration(*rp.EstimatedSeconds) * time.Second, RuntimeEstimate
	case rp.ActiveDeadlineSeconds != nil && *rp.ActiveDeadlineSeconds > 0:
		return time.Duration(*rp.ActiveDeadlineSeconds) * time.Second, RuntimeDeadline
	}
	return def, RuntimeAssumed
}
