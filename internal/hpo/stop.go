package hpo

import (
	"fmt"
	"math"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Stopper decides whether a running trial should end early.
type Stopper interface {
	// ShouldStop looks at trial i's latest report (trials[i].Reports) and
	// at what the other trials reported; it is a pure function of its
	// arguments and the stopper's configuration, so a controller may call
	// it again after a restart and get the same answer.
	ShouldStop(trials []Trial, i int) Decision
}

// Decision is a stopper's answer; Reason says why a trial is stopped, for
// its status.
type Decision struct {
	Stop   bool
	Reason string
}

// EarlyStopping names an early-stopping rule and its settings.
type EarlyStopping struct {
	Name     string
	Settings map[string]string
}

// Early-stopping rule names.
const (
	StopASHA      = "asha"
	StopHyperband = "hyperband"
	StopMedian    = "median"
)

// StopRules lists the names NewStopper accepts.
var StopRules = []string{StopASHA, StopHyperband, StopMedian}

// ValidateEarlyStopping checks the rule's name and settings; path names
// the rule (e.g. spec.earlyStopping).
func ValidateEarlyStopping(e EarlyStopping, path *field.Path) field.ErrorList {
	_, errs := parseStopper(Minimize, e, path)
	return errs
}

// NewStopper builds the stopper for e; errors name fields below
// "earlyStopping".
func NewStopper(g Goal, e EarlyStopping) (Stopper, error) {
	s, errs := parseStopper(g, e, field.NewPath("earlyStopping"))
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return s, nil
}

func parseStopper(g Goal, e EarlyStopping, path *field.Path) (Stopper, field.ErrorList) {
	st := &settings{path: path.Child("settings"), m: e.Settings, used: map[string]bool{}}
	var s Stopper
	switch e.Name {
	case StopASHA, StopHyperband:
		a := &asha{goal: g}
		a.minResource = int64(st.int("minResource", 1, 1, math.MaxInt32))
		a.eta = st.int("reductionFactor", 3, 2, 1<<10)
		if e.Name == StopASHA {
			a.rate = st.int("minEarlyStoppingRate", 0, 0, 60)
		}
		if _, ok := e.Settings["maxResource"]; !ok {
			st.errs = append(st.errs, field.Required(st.path.Key("maxResource"), "give the step (epoch) count of a full trial, e.g. \"81\"; rungs are minResource*reductionFactor^k below it"))
		}
		a.maxResource = int64(st.int("maxResource", 0, 1, math.MaxInt32))
		if a.maxResource > 0 && a.maxResource <= a.minResource {
			st.errs = append(st.errs, field.Invalid(st.path.Key("maxResource"), e.Settings["maxResource"], fmt.Sprintf("must exceed minResource (%d), or no trial is ever compared", a.minResource)))
		}
		if e.Name == StopHyperband {
			// One bracket per possible minimum rung; trials take turns.
			for r := a.minResource; r < a.maxResource; r *= int64(a.eta) {
				a.brackets++
			}
			a.brackets = max(a.brackets, 1)
		}
		s = a
	case StopMedian:
		s = &median{
			goal:    g,
			warmup:  int64(st.int("warmupSteps", 0, 0, math.MaxInt32)),
			minPeer: st.int("minTrials", 5, 1, 1<<20),
		}
	case "":
		return nil, field.ErrorList{field.Required(path.Child("name"), "choose asha, hyperband or median")}
	default:
		return nil, field.ErrorList{field.NotSupported(path.Child("name"), e.Name, StopRules)}
	}
	return s, append(st.errs, st.unknown()...)
}

// asha is asynchronous successive halving (Li et al. 2020) in its
// stopping form: rungs sit at minResource*eta^(k+rate) steps below
// maxResource; when a trial's reports first reach a rung it continues only
// if its value there ranks in the top 1/eta (at least the best one) of all
// values recorded at that rung so far, its own included. With brackets > 1
// it is asynchronous Hyperband: trial n belongs to bracket n mod brackets,
// whose rungs start eta^bracket times higher, and competes only within it.
type asha struct {
	goal        Goal
	minResource int64
	maxResource int64
	eta         int
	rate        int
	brackets    int // 0: plain ASHA
}

func (a *asha) rungs(bracket int) []int64 {
	var out []int64
	r := a.minResource
	for range a.rate + bracket {
		r *= int64(a.eta)
	}
	for ; r < a.maxResource; r *= int64(a.eta) {
		out = append(out, r)
	}
	return out
}

func (a *asha) bracket(i int) int {
	if a.brackets <= 1 {
		return 0
	}
	return i % a.brackets
}

// valueAt is a trial's value at rung r: its first report at or past r.
func valueAt(t Trial, r int64) (float64, bool) {
	for _, rep := range t.Reports {
		if rep.Step >= r {
			return rep.Value, !math.IsNaN(rep.Value)
		}
	}
	return 0, false
}

func (a *asha) ShouldStop(trials []Trial, i int) Decision {
	t := trials[i]
	n := len(t.Reports)
	if n == 0 {
		return Decision{}
	}
	last := t.Reports[n-1]
	if math.IsNaN(last.Value) {
		return Decision{Stop: true, Reason: fmt.Sprintf("reported NaN at step %d", last.Step)}
	}
	prev := int64(math.MinInt64)
	if n > 1 {
		prev = t.Reports[n-2].Step
	}
	b := a.bracket(i)
	for _, r := range a.rungs(b) {
		if r <= prev || r > last.Step {
			continue // not crossed by the latest report
		}
		mine, _ := valueAt(t, r)
		better, total := 0, 1
		for j, o := range trials {
			if j == i || a.bracket(j) != b {
				continue
			}
			if v, ok := valueAt(o, r); ok {
				total++
				if a.goal.Better(v, mine) {
					better++
				}
			}
		}
		keep := max(1, total/a.eta)
		if better >= keep {
			return Decision{Stop: true, Reason: fmt.Sprintf("at step %d (rung %d) its value %g ranks %d of %d; only the top %d continue", last.Step, r, mine, better+1, total, keep)}
		}
	}
	return Decision{}
}

// median is the median stopping rule (Golovin et al. 2017): after
// warmupSteps, a trial stops when its best value so far is worse than the
// median of the other trials' running averages up to the same step, among
// the trials that reached that step (at least minTrials of them).
type median struct {
	goal    Goal
	warmup  int64
	minPeer int
}

func (m *median) ShouldStop(trials []Trial, i int) Decision {
	t := trials[i]
	n := len(t.Reports)
	if n == 0 {
		return Decision{}
	}
	step := t.Reports[n-1].Step
	if step < m.warmup {
		return Decision{}
	}
	best := math.NaN()
	for _, r := range t.Reports {
		if !math.IsNaN(r.Value) && (math.IsNaN(best) || m.goal.Better(r.Value, best)) {
			best = r.Value
		}
	}
	if math.IsNaN(best) {
		return Decision{Stop: true, Reason: fmt.Sprintf("reported only NaN up to step %d", step)}
	}
	var avgs []float64
	for j, o := range trials {
		if j == i || len(o.Reports) == 0 || o.Reports[len(o.Reports)-1].Step < step {
			continue
		}
		var sum float64
		var cnt int
		for _, r := range o.Reports {
			if r.Step > step {
				break
			}
			if !math.IsNaN(r.Value) {
				sum += r.Value
				cnt++
			}
		}
		if cnt > 0 {
			avgs = append(avgs, sum/float64(cnt))
		}
	}
	if len(avgs) < m.minPeer {
		return Decision{}
	}
	slices.Sort(avgs)
	med := avgs[len(avgs)/2]
	if len(avgs)%2 == 0 {
		med = (avgs[len(avgs)/2-1] + med) / 2
	}
	if m.goal.Better(med, best) {
		return Decision{Stop: true, Reason: fmt.Sprintf("at step %d its best value %g is worse than the median %g of %d other trials' running averages", step, best, med, len(avgs))}
	}
	return Decision{}
}
