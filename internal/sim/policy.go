package sim

import (
	"fmt"
	"sort"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// Policy names.
const (
	FIFO      = "fifo"
	SJFOracle = "sjf-oracle"
	LAS       = "las"
	DRF       = "drf"
	Default   = "default"
)

// Policies are the known policy names in report order.
var Policies = []string{FIFO, SJFOracle, LAS, DRF, Default}

// Policy is how one policy drives the core.
type Policy struct {
	Name string
	// PerTenant gives every tenant its own queue (an equal share of every
	// flavor as nominal quota) in one cohort, so that the core's weighted
	// fair share orders them and idle quota is borrowed; otherwise every
	// job goes to one queue that holds the whole cluster.
	PerTenant bool
	Strategy  string // StrictFIFO or BestEffortFIFO
	// WithinQueue and Reclaim are the queues' preemption settings.
	WithinQueue, Reclaim string
	// OracleEstimates gives the core each job's true duration as
	// runPolicy.estimatedSeconds (backfill) and orders by it (priority:
	// shorter first). Only the sjf-oracle reference does this.
	OracleEstimates bool
	// TraceEstimates passes the estimates a trace records (what a user
	// declared), never the true duration.
	TraceEstimates bool
	// LASThresholds, when set, make the priority of every job a function
	// of its attained service (GPU-seconds held): 0 below the first
	// threshold, -1 below the second, and so on (Tiresias' discretised
	// 2D-LAS). Priorities are recomputed when a running job crosses a
	// threshold.
	LASThresholds []float64
}

// DefaultLASThresholds are the attained-service boundaries (GPU-seconds)
// of the LAS priority levels: one, ten and a hundred GPU-hours.
var DefaultLASThresholds = []float64{3600, 36000, 360000}

// NewPolicy returns a named policy.
//
//   - fifo: one StrictFIFO queue, no backfill, no preemption.
//   - sjf-oracle: one BestEffortFIFO queue, priority by true duration
//     (shorter first), true durations as estimates (an upper-bound
//     reference no real scheduler has).
//   - las: one BestEffortFIFO queue, priority from attained GPU-seconds
//     (see LASThresholds), preemption of lower priorities within the queue.
//   - drf: a BestEffortFIFO queue per tenant with an equal nominal share,
//     all in one cohort: the core's dominant-resource fair share orders
//     tenants, idle quota is borrowed, no preemption.
//   - default: skiff's setup for a shared cluster: drf's queues plus
//     reclaimWithinCohort LowerPriority, so a tenant below its share takes
//     quota back from lower-priority borrowers, job priorities from the
//     trace, and the estimates the trace carries (none are invented).
//     (reclaimWithinCohort Any was tried: on the Philly trace with equal
//     shares it preempts back and forth and is far slower to simulate.)
func NewPolicy(name string, las []float64) (Policy, error) {
	switch name {
	case FIFO:
		return Policy{Name: name, Strategy: v1alpha1.StrictFIFO}, nil
	case SJFOracle:
		return Policy{Name: name, Strategy: v1alpha1.BestEffortFIFO, OracleEstimates: true}, nil
	case LAS:
		if len(las) == 0 {
			las = DefaultLASThresholds
		}
		if !sort.Float64sAreSorted(las) || las[0] <= 0 {
			return Policy{}, fmt.Errorf("--las-thresholds %v: give increasing positive GPU-seconds", las)
		}
		return Policy{Name: name, Strategy: v1alpha1.BestEffortFIFO, WithinQueue: v1alpha1.PreemptLowerPriority, LASThresholds: las}, nil
	case DRF:
		return Policy{Name: name, PerTenant: true, Strategy: v1alpha1.BestEffortFIFO, TraceEstimates: true}, nil
	case Default:
		return Policy{Name: name, PerTenant: true, Strategy: v1alpha1.BestEffortFIFO, Reclaim: v1alpha1.PreemptLowerPriority, TraceEstimates: true}, nil
	}
	return Policy{}, fmt.Errorf("policy %q: use one of %s", name, strings.Join(Policies, ", "))
}

// ParsePolicies parses a comma-separated policy list.
func ParsePolicies(s string, las []float64) ([]Policy, error) {
	var out []Policy
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		p, err := NewPolicy(n, las)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--policies %q: name at least one of %s", s, strings.Join(Policies, ", "))
	}
	return out, nil
}
