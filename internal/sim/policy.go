package sim

import (
	"fmt"
	"math"
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
	// LAS, when set, is the queues' spec.leastAttainedService: the core
	// orders jobs of equal priority by attained service (GPU-seconds
	// held), in levels split at these thresholds (Tiresias' discretised
	// 2D-LAS), and within-queue preemption compares levels too. The
	// engine runs the core when a running job reaches a threshold, as the
	// live loop's periodic cycle does.
	LAS *v1alpha1.LeastAttainedService
}

// DefaultLASThresholds are the attained-service boundaries (GPU-seconds)
// of the LAS levels: one, ten and a hundred GPU-hours.
var DefaultLASThresholds = []float64{3600, 36000, 360000}

// DefaultAttainedThresholds is default's one attained-service boundary
// (GPU-seconds): ten GPU-hours, two levels as Tiresias runs in practice.
// Few, widely spaced levels keep preemptions rare: a job is preempted only
// by a job of a lower level, so a job past the threshold is preempted
// only by fresh jobs, and only on borrowed capacity or within its own
// tenant.
var DefaultAttainedThresholds = []float64{36000}

// lasSpec turns --las-thresholds (def when none) into a queue's
// leastAttainedService.
func lasSpec(th, def []float64, scope string) (*v1alpha1.LeastAttainedService, error) {
	if len(th) == 0 {
		th = def
	}
	las := &v1alpha1.LeastAttainedService{Scope: scope}
	for i, t := range th {
		s := int64(math.Ceil(t))
		if s <= 0 || (i > 0 && s <= las.ThresholdsGPUSeconds[i-1]) || i >= v1alpha1.MaxAttainedServiceLevels {
			return nil, fmt.Errorf("--las-thresholds %v: give at most %d increasing positive GPU-seconds (whole seconds), e.g. 3600,36000,360000", th, v1alpha1.MaxAttainedServiceLevels)
		}
		las.ThresholdsGPUSeconds = append(las.ThresholdsGPUSeconds, s)
	}
	return las, nil
}

// NewPolicy returns a named policy; las are the attained-service
// thresholds of las and default (nil: DefaultLASThresholds).
//
//   - fifo: one StrictFIFO queue, no backfill, no preemption.
//   - sjf-oracle: one BestEffortFIFO queue, priority by true duration
//     (shorter first), true durations as estimates (an upper-bound
//     reference no real scheduler has).
//   - las: one BestEffortFIFO queue with leastAttainedService (priority
//     from attained GPU-seconds, see LAS) and withinQueue LowerPriority:
//     Tiresias over the whole cluster.
//   - drf: a BestEffortFIFO queue per tenant with an equal nominal share,
//     all in one cohort: the core's dominant-resource fair share orders
//     tenants, idle quota is borrowed, no preemption.
//   - default: skiff's setup for a shared cluster: drf's queues, each
//     ordering its own jobs by least attained service (leastAttainedService
//     with withinQueue LowerPriority, so a tenant's short jobs are not
//     stuck behind its long ones and preemption never crosses tenants),
//     reclaimWithinCohort LowerPriority, job priorities from the trace,
//     and the estimates the trace carries (none are invented). Fair share
//     keeps light tenants fast; attained service within a tenant keeps
//     heavy tenants' short jobs fast, which is what makes it fair by
//     slowdown as well. (reclaimWithinCohort Any was tried: on the Philly
//     trace with equal shares it preempts back and forth and is far
//     slower to simulate.)
func NewPolicy(name string, las []float64) (Policy, error) {
	switch name {
	case FIFO:
		return Policy{Name: name, Strategy: v1alpha1.StrictFIFO}, nil
	case SJFOracle:
		return Policy{Name: name, Strategy: v1alpha1.BestEffortFIFO, OracleEstimates: true}, nil
	case LAS:
		spec, err := lasSpec(las, DefaultLASThresholds, "")
		if err != nil {
			return Policy{}, err
		}
		return Policy{Name: name, Strategy: v1alpha1.BestEffortFIFO, WithinQueue: v1alpha1.PreemptLowerPriority, LAS: spec}, nil
	case DRF:
		return Policy{Name: name, PerTenant: true, Strategy: v1alpha1.BestEffortFIFO, TraceEstimates: true}, nil
	case Default:
		spec, err := lasSpec(las, DefaultAttainedThresholds, v1alpha1.AttainedServiceScopeCohort)
		if err != nil {
			return Policy{}, err
		}
		return Policy{Name: name, PerTenant: true, Strategy: v1alpha1.BestEffortFIFO, WithinQueue: v1alpha1.PreemptLowerPriority,
			Reclaim: v1alpha1.PreemptLowerPriority, LAS: spec, TraceEstimates: true}, nil
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
