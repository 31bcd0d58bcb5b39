package benchmark

import (
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"skiff.dev/skiff/internal/hpo"
)

// TuningOptions configures RunTuning.
type TuningOptions struct {
	Goal       hpo.Goal
	Algorithms []hpo.Algorithm
	// Repeats is the number of independent searches per algorithm.
	Repeats int
	// Budgets are the evaluation counts at which regret is read (one
	// search of max(Budgets) evaluations gives them all).
	Budgets []int
	// Seed fixes every search and every seed draw.
	Seed uint64
	// Workers runs repeats in parallel; 0 means GOMAXPROCS.
	Workers int
}

// Result is one line of `skiff bench tuning -o json`.
type Result struct {
	Table        string  `json:"table"`
	Algorithm    string  `json:"algorithm"`
	Budget       int     `json:"budget"`
	MeanRegret   float64 `json:"meanRegret"`
	MedianRegret float64 `json:"medianRegret"`
}

// RunTuning searches the table with each algorithm, Repeats times, and
// reports the regret at each budget: the best configuration's seed-mean
// minus (for maximize; the reverse for minimize) the seed-mean of the
// configuration the search would return, the one with the best value it
// observed. Each evaluation observes one seed's value, drawn at random;
// evaluation k of repeat r draws the same seed for every algorithm.
func RunTuning(t *Table, o TuningOptions) ([]Result, error) {
	if o.Repeats < 1 {
		return nil, fmt.Errorf("--repeats %d: give at least 1", o.Repeats)
	}
	if len(o.Budgets) == 0 {
		return nil, fmt.Errorf("--budgets: give at least one evaluation count, e.g. 50,100,200")
	}
	for _, b := range o.Budgets {
		if b < 1 {
			return nil, fmt.Errorf("--budgets: %d is not a positive evaluation count", b)
		}
	}
	budget := slices.Max(o.Budgets)
	bestMean := t.Means[0]
	for _, m := range t.Means {
		if o.Goal.Better(m, bestMean) {
			bestMean = m
		}
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var results []Result
	for _, alg := range o.Algorithms {
		// Validate once, with the error the user sees.
		if _, err := hpo.NewSuggester(t.Space, o.Goal, alg, 0); err != nil {
			return nil, fmt.Errorf("--algorithms %s: %w", alg.Name, err)
		}
		regrets := make([][]float64, len(o.Budgets)) // [budget][repeat]
		for b := range regrets {
			regrets[b] = make([]float64, o.Repeats)
		}
		errs := make([]error, o.Repeats)
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for r := range next {
					curve, err := search(t, o.Goal, alg, o.Seed, r, budget)
					if err != nil {
						errs[r] = err
						continue
					}
					for b, n := range o.Budgets {
						regret := o.Goal.Sign() * (bestMean - t.Means[curve[n-1]])
						regrets[b][r] = regret
					}
				}
			})
		}
		for r := range o.Repeats {
			next <- r
		}
		close(next)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", alg.Name, t.Name, err)
			}
		}
		name := alg.Name
		for _, k := range slices.Sorted(maps.Keys(alg.Settings)) {
			name += "/" + k + "=" + alg.Settings[k]
		}
		for b, n := range o.Budgets {
			results = append(results, Result{
				Table: t.Name, Algorithm: name, Budget: n,
				MeanRegret: mean(regrets[b]), MedianRegret: median(regrets[b]),
			})
		}
	}
	return results, nil
}

// search runs one search of budget evaluations and returns, after each
// evaluation, the row the search would return (best observed value).
func search(t *Table, g hpo.Goal, alg hpo.Algorithm, seed uint64, repeat, budget int) ([]int, error) {
	s, err := hpo.NewSuggester(t.Space, g, alg, mix(seed, "search", uint64(repeat)))
	if err != nil {
		return nil, err
	}
	noise := rand.New(rand.NewPCG(mix(seed, "noise", uint64(repeat)), 0))
	trials := make([]hpo.Trial, 0, budget)
	curve := make([]int, 0, budget)
	best, bestRow := 0.0, -1
	for range budget {
		a, err := s.Suggest(trials)
		if hpo.IsExhausted(err) {
			// Nothing left to try: the answer stays what it was.
			curve = append(curve, bestRow)
			noise.IntN(1 << 30)
			continue
		}
		if err != nil {
			return nil, err
		}
		row := t.Lookup(a)
		vs := t.Values[row]
		v := vs[noise.IntN(1<<30)%len(vs)]
		trials = append(trials, hpo.Trial{Params: t.Configs[row], State: hpo.Succeeded, Value: v})
		if bestRow < 0 || g.Better(v, best) {
			best, bestRow = v, row
		}
		curve = append(curve, bestRow)
	}
	return curve, nil
}

// mix derives a seed from a base seed, a purpose and a number.
func mix(seed uint64, purpose string, n uint64) uint64 {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
		b[8+i] = byte(n >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(purpose))
	return h.Sum64()
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
