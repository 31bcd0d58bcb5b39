package benchmark

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"skiff.dev/skiff/internal/hpo"
)

// CurveOptions configures RunCurves.
type CurveOptions struct {
	Stoppers []hpo.EarlyStopping
	// Trials per search, all started (random search), at most Parallel at
	// a time.
	Trials   int
	Parallel int
	// MaxSteps is a full trial's length; every step reports a value.
	MaxSteps int
	// Noise is the standard deviation of each reported value.
	Noise   float64
	Repeats int
	Seed    uint64
	Workers int
}

// CurveResult is one line of `skiff bench tuning early-stopping -o json`.
type CurveResult struct {
	Stopper string `json:"stopper"`
	Trials  int    `json:"trials"`
	// BudgetFraction is the mean of (steps trained / Trials*MaxSteps).
	BudgetFraction float64 `json:"budgetFraction"`
	// Savings is 1/BudgetFraction: how many times less training than
	// running every trial to the end.
	Savings float64 `json:"savings"`
	// WithinOnePercent is the share of repeats whose returned trial (best
	// observed final value among finished trials) has a true final value
	// within 1% of the best trial's.
	WithinOnePercent float64 `json:"withinOnePercent"`
	// FullTrainingWithinOnePercent is the same share without early
	// stopping, for reference (noise can mislead it too).
	FullTrainingWithinOnePercent float64 `json:"fullTrainingWithinOnePercent"`
	// MeanRelativeGap is the mean of |best - returned| / |best|.
	MeanRelativeGap float64 `json:"meanRelativeGap"`
}

// curve is a synthetic learning curve of validation accuracy, a power
// law acc(t) = asymptote - scale * t^-alpha over steps t = 1..T; its final
// value is acc(T). Early accuracy is only loosely tied to the final one
// (scale and alpha vary independently of the asymptote), so slow learners
// cross fast ones and early stopping can be wrong.
type curve struct {
	asymptote, scale, alpha float64
}

func (c curve) at(t, _ int) float64 {
	return c.asymptote - c.scale*math.Pow(float64(t), -c.alpha)
}

func makeCurves(rng *rand.Rand, n int) []curve {
	cs := make([]curve, n)
	for i := range cs {
		cs[i] = curve{
			asymptote: 0.6 + 0.35*rng.Float64(),
			scale:     0.05 + 0.45*rng.Float64(),
			alpha:     0.3 + 0.7*rng.Float64(),
		}
	}
	return cs
}

// RunCurves runs random search over synthetic learning curves with each
// stopper and reports the training budget used and the quality of the
// configuration found. The goal is to maximise the final accuracy.
func RunCurves(o CurveOptions) ([]CurveResult, error) {
	switch {
	case o.Trials < 2:
		return nil, fmt.Errorf("--trials %d: give at least 2", o.Trials)
	case o.MaxSteps < 2:
		return nil, fmt.Errorf("--max-steps %d: give at least 2", o.MaxSteps)
	case o.Parallel < 1:
		return nil, fmt.Errorf("--parallel %d: give at least 1", o.Parallel)
	case o.Repeats < 1:
		return nil, fmt.Errorf("--repeats %d: give at least 1", o.Repeats)
	case o.Noise < 0 || math.IsNaN(o.Noise):
		return nil, fmt.Errorf("--noise %g: give a standard deviation >= 0", o.Noise)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var out []CurveResult
	for _, es := range o.Stoppers {
		stopper, err := hpo.NewStopper(hpo.Maximize, es)
		if err != nil {
			return nil, fmt.Errorf("--stoppers %s: %w", es.Name, err)
		}
		type rep struct {
			frac, gap     float64
			within, fullW bool
		}
		reps := make([]rep, o.Repeats)
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for r := range next {
					frac, gap, within, fullW := simulate(stopper, o, r)
					reps[r] = rep{frac, gap, within, fullW}
				}
			})
		}
		for r := range o.Repeats {
			next <- r
		}
		close(next)
		wg.Wait()
		name := es.Name
		for _, k := range slices.Sorted(maps.Keys(es.Settings)) {
			name += "/" + k + "=" + es.Settings[k]
		}
		res := CurveResult{Stopper: name, Trials: o.Trials}
		for _, r := range reps {
			res.BudgetFraction += r.frac / float64(o.Repeats)
			res.MeanRelativeGap += r.gap / float64(o.Repeats)
			if r.within {
				res.WithinOnePercent += 1 / float64(o.Repeats)
			}
			if r.fullW {
				res.FullTrainingWithinOnePercent += 1 / float64(o.Repeats)
			}
		}
		res.Savings = 1 / res.BudgetFraction
		out = append(out, res)
	}
	return out, nil
}

// simulate runs one search: trials start in order on Parallel workers;
// after each step the trial reports and the stopper is asked. It returns the budget fraction used, the relative gap
// of the returned trial, whether that is within 1% of the best, and
// whether full training of every trial would have been.
func simulate(s hpo.Stopper, o CurveOptions, repeat int) (frac, gap float64, within, fullWithin bool) {
	rng := rand.New(rand.NewPCG(mix(o.Seed, "curves", uint64(repeat)), 1))
	cs := makeCurves(rng, o.Trials)
	T := o.MaxSteps
	// noise[i][t] is drawn up front so that every stopper sees the same
	// observations for the same repeat.
	noise := make([][]float64, o.Trials)
	for i := range noise {
		noise[i] = make([]float64, T+1)
		for t := 1; t <= T; t++ {
			noise[i][t] = o.Noise * rng.NormFloat64()
		}
	}
	obs := func(i, t int) float64 { return cs[i].at(t, T) + noise[i][t] }

	// Each trial's steps take their own time (bigger models train slower),
	// so with Parallel > 1 trials reach rungs out of order, as in a real
	// cluster: the next event is the step that finishes first.
	stepTime := make([]float64, o.Trials)
	for i := range stepTime {
		stepTime[i] = 0.5 + 1.5*rng.Float64()
	}
	trials := make([]hpo.Trial, 0, o.Trials)
	next := map[int]float64{} // running trial -> time its next step ends
	now, steps := 0.0, 0
	for len(trials) < o.Trials || len(next) > 0 {
		for len(next) < o.Parallel && len(trials) < o.Trials {
			i := len(trials)
			trials = append(trials, hpo.Trial{State: hpo.Running})
			next[i] = now + stepTime[i]
		}
		i := -1
		for j, at := range next {
			if i < 0 || at < next[i] || (at == next[i] && j < i) {
				i = j
			}
		}
		now = next[i]
		t := len(trials[i].Reports) + 1
		steps++
		v := obs(i, t)
		trials[i].Reports = append(trials[i].Reports, hpo.Report{Step: int64(t), Value: v})
		trials[i].Value = v
		switch {
		case t == T:
			trials[i].State = hpo.Succeeded
			delete(next, i)
		case s.ShouldStop(trials, i).Stop:
			trials[i].State = hpo.EarlyStopped
			delete(next, i)
		default:
			next[i] = now + stepTime[i]
		}
	}
	bestTrue := math.Inf(-1)
	for i := range cs {
		bestTrue = math.Max(bestTrue, cs[i].at(T, T))
	}
	pick := hpo.Best(trials, hpo.Maximize)
	got := cs[pick].at(T, T)
	fullPick := 0
	for i := range cs {
		if obs(i, T) > obs(fullPick, T) {
			fullPick = i
		}
	}
	gap = (bestTrue - got) / math.Abs(bestTrue)
	return float64(steps) / float64(o.Trials*T), gap, gap <= 0.01, (bestTrue-cs[fullPick].at(T, T))/math.Abs(bestTrue) <= 0.01
}
