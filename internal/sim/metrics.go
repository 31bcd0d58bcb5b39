package sim

import (
	"math"
	"sort"
)

// Result is what one policy's replay measured. Times are seconds.
type Result struct {
	Policy string `json:"-"`
	// Jobs is how many jobs finished.
	Jobs int `json:"jobs"`
	// AvgJCT, P50JCT and P99JCT summarize job completion time (finish -
	// arrival).
	AvgJCT float64 `json:"avgJCT"`
	P50JCT float64 `json:"p50JCT"`
	P99JCT float64 `json:"p99JCT"`
	// AvgQueueing is the mean time a job spent pending (before its first
	// start and after every preemption or failure).
	AvgQueueing float64 `json:"avgQueueing"`
	// Makespan is first arrival to last finish.
	Makespan float64 `json:"makespan"`
	// Utilization is GPU-seconds held over GPU capacity times makespan.
	Utilization float64 `json:"utilization"`
	// Jain is Jain's fairness index over tenants' mean slowdown (JCT over
	// the job's run time alone on its fastest GPU model): 1 when every
	// tenant is slowed down alike, 1/n when one tenant bears it all.
	Jain        float64 `json:"jain"`
	Preemptions int     `json:"preemptions"`
	// AvgSlowdown is the mean over jobs of JCT over run time alone.
	AvgSlowdown float64 `json:"avgSlowdown"`
	// Failures counts runs stopped by node failures.
	Failures int `json:"nodeFailureRestarts,omitempty"`
	// Cycles is how many times the scheduler core ran.
	Cycles int `json:"schedulerCycles"`
	// OffModel counts starts on a GPU model the trace has no duration for
	// (the core cannot pin a job to models; it ran at its slowest known).
	OffModel int            `json:"offModelStarts,omitempty"`
	Tenants  []TenantResult `json:"tenants"`
	// Rejected are jobs the cluster could never run (the core's
	// feasibility check), reported and left out; Stuck are jobs still
	// pending when nothing could change any more.
	Rejected []string `json:"rejected,omitempty"`
	Stuck    []string `json:"stuck,omitempty"`

	// JCTs are the sorted completion times (for the CDF); Series is the
	// busy-GPU and queue-length step function.
	JCTs     []float64 `json:"-"`
	Series   []Point   `json:"-"`
	Capacity float64   `json:"-"`

	busy float64
}

// TenantResult is one tenant's share of the outcome.
type TenantResult struct {
	Name        string  `json:"name"`
	Jobs        int     `json:"jobs"`
	AvgJCT      float64 `json:"avgJCT"`
	AvgSlowdown float64 `json:"avgSlowdown"`
	GPUSeconds  float64 `json:"gpuSeconds"`
}

// Point is the cluster at one instant: GPUs held and jobs pending.
type Point struct {
	T        float64
	BusyGPUs float64
	Queued   int
}

func (r *Result) finish(e *engine) {
	r.Series = e.series
	r.Capacity = float64(e.c.totalGPU) / 1000
	type acc struct {
		n             int
		jct, slow, gs float64
	}
	tenants := map[string]*acc{}
	first, last := math.Inf(1), math.Inf(-1)
	var sumJCT, sumWait, sumSlow float64
	for _, sj := range e.jobs {
		first = math.Min(first, sj.tj.Submit)
		if sj.state != done {
			continue
		}
		jct := sj.finish - sj.tj.Submit
		slow := jct / math.Max(sj.tj.Duration, 1)
		r.JCTs = append(r.JCTs, jct)
		sumJCT += jct
		sumWait += sj.waited
		sumSlow += slow
		last = math.Max(last, sj.finish)
		a := tenants[sj.tj.Tenant]
		if a == nil {
			a = &acc{}
			tenants[sj.tj.Tenant] = a
		}
		a.n++
		a.jct += jct
		a.slow += slow
		a.gs += sj.attained
	}
	r.Jobs = len(r.JCTs)
	if r.Jobs == 0 {
		return
	}
	sort.Float64s(r.JCTs)
	n := float64(r.Jobs)
	r.AvgJCT, r.AvgQueueing, r.AvgSlowdown = sumJCT/n, sumWait/n, sumSlow/n
	r.P50JCT, r.P99JCT = Quantile(r.JCTs, 0.5), Quantile(r.JCTs, 0.99)
	r.Makespan = last - first
	if r.Makespan > 0 && r.Capacity > 0 {
		r.Utilization = math.Min(1, r.busy/(r.Capacity*r.Makespan))
	}
	for name, a := range tenants {
		tr := TenantResult{Name: name, Jobs: a.n, AvgJCT: a.jct / float64(a.n), AvgSlowdown: a.slow / float64(a.n), GPUSeconds: a.gs}
		r.Tenants = append(r.Tenants, tr)
	}
	sort.Slice(r.Tenants, func(a, b int) bool { return r.Tenants[a].Name < r.Tenants[b].Name })
	// Summed in tenant order: in map order the index's last digits
	// changed from run to run.
	xs := make([]float64, len(r.Tenants))
	for i, tr := range r.Tenants {
		xs[i] = tr.AvgSlowdown
	}
	r.Jain = Jain(xs)
}

// Quantile is the q-quantile of sorted values (nearest rank).
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Jain is Jain's fairness index (Σx)² / (n Σx²) of non-negative values;
// 1 for an empty or all-zero set.
func Jain(xs []float64) float64 {
	var s, s2 float64
	for _, x := range xs {
		s += x
		s2 += x * x
	}
	if s2 == 0 {
		return 1
	}
	return s * s / (float64(len(xs)) * s2)
}
