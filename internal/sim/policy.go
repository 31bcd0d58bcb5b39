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
// of the levels of las and default: one, ten and a hundred GPU-hours,
// spaced a decade apart as Tiresias' levels are. A job is preempted only
// by one of a lower level, so a job that has run a while is preempted
// only by fresher ones. (On the Philly trace one boundary alone, at 1 or
// at 10 GPU-hours, leaves gang-heavy tenants' jobs queued behind long
// ones at the last level: see bench/sim/README.md.)
var DefaultLASThresholds = []float64{3600, 36000, 360000}

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
//   - default: skiff's setup for a shared cluster: drf's queues (an equal
//     nominal share per tenant in one cohort, idle quota borrowed) with
//     leastAttainedService scope Cohort (DefaultLASThresholds),
//     withinQueue and reclaimWithinCohort LowerPriority, job priorities
//     from the trace, and the estimates the trace carries (none are
//     invented). The core orders every tenant's jobs by attained service
//     first and by arrival among equals, and a job may preempt a job
//     of a higher level in its own queue or on capacity another tenant
//     borrows (never within a tenant's share that it does not exceed).
//     Least attained service across tenants is what spreads slowdown
//     evenly (a gang-heavy tenant's fresh jobs go as early as anyone's);
//     fair share across tenants, alone or among equal levels, made the
//     gang-heavy tenants the outliers (see bench/sim/README.md).
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
		spec, err := lasSpec(las, DefaultLASThresholds, v1alpha1.AttainedServiceScopeCohort)
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
