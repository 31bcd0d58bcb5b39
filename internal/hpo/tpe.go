package hpo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// tpeConfig holds TPE's settings (see parseAlgorithm for names and defaults).
type tpeConfig struct {
	startup     int     // trials drawn at random before the model is used
	gamma       float64 // fraction of observations that form the "good" density
	maxBelow    int     // cap on the size of the good group
	candidates  int     // samples from the good density scored per suggestion
	priorWeight float64 // weight of the uniform prior component in each density
	liar        bool    // running trials join the bad group (constant liar)
}

// tpe is the Tree-structured Parzen Estimator (Bergstra et al. 2011) in
// its multivariate form (Falkner et al. 2018; Watanabe 2023): finished
// trials are split by objective into a good group (the best gamma
// fraction) and the rest; each group becomes a mixture with one product
// kernel per trial plus a uniform prior; candidates are drawn from the good
// mixture l and the one maximising l(x)/g(x) is suggested. Kernels:
// truncated Gaussians in [0,1] for Double and Int (log-transformed when
// Log), a discretised Gaussian over the sorted index for Discrete, and an
// Aitchison-Aitken style kernel for Categorical. Early-stopped trials
// always join the bad group, and so do running trials unless constantLiar
// is off (Optuna's "constant liar"): trials suggested in parallel then
// spread out instead of piling onto one promising point. Failed trials are
// only used to avoid suggesting a configuration twice.
type tpe struct {
	space *compiled
	goal  Goal
	seed  uint64
	cfg   tpeConfig
}

type observation struct {
	x    []float64
	loss float64
}

func (t *tpe) Suggest(trials []Trial) (Assignment, error) {
	rng := rngFor(t.seed, len(trials))
	tried := map[string]bool{}
	var done, stopped, liars []observation
	for _, tr := range trials {
		x, err := t.space.encode(tr.Params)
		if err != nil {
			continue // a trial from an earlier version of the space
		}
		tried[key(x)] = true
		switch tr.State {
		case Succeeded:
			if !math.IsNaN(tr.Value) {
				done = append(done, observation{x: x, loss: t.goal.loss(tr.Value)})
			}
		case EarlyStopped:
			stopped = append(stopped, observation{x: x})
		case Running:
			if t.cfg.liar {
				liars = append(liars, observation{x: x})
			}
		}
	}
	if len(done)+len(stopped) < t.cfg.startup || len(done) == 0 {
		return t.space.decode(t.randomPoint(rng, tried)), nil
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].loss < done[j].loss })
	nBelow := int(math.Ceil(t.cfg.gamma * float64(len(done)+len(stopped))))
	nBelow = max(1, min(nBelow, t.cfg.maxBelow, len(done)))
	below := done[:nBelow]
	above := append(append(slices.Clone(done[nBelow:]), stopped...), liars...)

	l := newParzen(t.space, below, t.cfg.priorWeight)
	g := newParzen(t.space, above, t.cfg.priorWeight)
	var best, bestFresh []float64
	bestScore, bestFreshScore := math.Inf(-1), math.Inf(-1)
	for range t.cfg.candidates {
		x := l.sample(rng)
		s := l.logPDF(x) - g.logPDF(x)
		if s > bestScore || best == nil {
			best, bestScore = x, s
		}
		if !tried[key(x)] && (s > bestFreshScore || bestFresh == nil) {
			bestFresh, bestFreshScore = x, s
		}
	}
	if bestFresh != nil {
		return t.space.decode(bestFresh), nil
	}
	// Every candidate was tried already (a small discrete space): prefer a
	// fresh random point, if one is found, over repeating a configuration.
	if x := t.randomPoint(rng, tried); !tried[key(x)] {
		return t.space.decode(x), nil
	}
	return t.space.decode(best), nil
}

// randomPoint draws a uniform point, redrawing a few times to avoid one
// already tried.
func (t *tpe) randomPoint(rng *rand.Rand, tried map[string]bool) []float64 {
	var x []float64
	for range 32 {
		x = make([]float64, len(t.space.dims))
		for i, d := range t.space.dims {
			if n := d.choices(); n > 0 {
				x[i] = float64(rng.IntN(n))
			} else {
				x[i] = d.fromUnit(rng.Float64())
			}
		}
		if !tried[key(x)] {
			break
		}
	}
	return x
}

// parzen is a mixture of product kernels, one per observation, plus a
// prior component that is uniform over the space (last component).
type parzen struct {
	space   *compiled
	logW    []float64   // log mixture weights, per component
	weights []float64   // mixture weights, normalised
	mu      [][]float64 // [dim][component], unit scale (range dims)
	sigma   [][]float64 // [dim][component]
	logZ    [][]float64 // [dim][component], log mass of the kernel inside [0,1]
	probs   [][][]float64
	// probs[dim][component][choice] for Categorical and Discrete dims
}

func newParzen(c *compiled, obs []observation, priorWeight float64) *parzen {
	n := len(obs)
	k := n + 1
	p := &parzen{space: c}
	p.weights = make([]float64, k)
	total := float64(n) + priorWeight
	for j := range n {
		p.weights[j] = 1 / total
	}
	p.weights[n] = priorWeight / total
	for _, w := range p.weights {
		p.logW = append(p.logW, math.Log(w))
	}
	// Scott-like bandwidth shrinking with the number of observations and
	// the dimension, with a floor so that a few observations do not
	// collapse into spikes.
	shrink := math.Pow(float64(max(n, 1)), -1/float64(len(c.dims)+4))
	minBW := 1 / math.Min(100, float64(1+k))
	bw := math.Min(1, math.Max(0.2*shrink, minBW))
	p.mu = make([][]float64, len(c.dims))
	p.sigma = make([][]float64, len(c.dims))
	p.logZ = make([][]float64, len(c.dims))
	p.probs = make([][][]float64, len(c.dims))
	for i, d := range c.dims {
		switch d.Type {
		case Categorical:
			m := d.choices()
			rows := make([][]float64, k)
			for j := range k {
				row := make([]float64, m)
				for v := range row {
					row[v] = priorWeight / float64(k)
				}
				if j < n {
					row[int(obs[j].x[i])]++
				} else {
					for v := range row {
						row[v] = 1
					}
				}
				normalise(row)
				rows[j] = row
			}
			p.probs[i] = rows
		case Discrete:
			m := d.choices()
			rows := make([][]float64, k)
			for j := range k {
				row := make([]float64, m)
				if j < n {
					centre := (obs[j].x[i] + 0.5) / float64(m)
					for v := range row {
						z := ((float64(v)+0.5)/float64(m) - centre) / bw
						row[v] = math.Exp(-0.5 * z * z)
					}
				} else {
					for v := range row {
						row[v] = 1
					}
				}
				normalise(row)
				rows[j] = row
			}
			p.probs[i] = rows
		default:
			mu := make([]float64, k)
			sg := make([]float64, k)
			lz := make([]float64, k)
			for j := range k {
				if j < n {
					mu[j], sg[j] = d.toUnit(obs[j].x[i]), bw
				} else {
					mu[j], sg[j] = 0.5, 1
				}
				lz[j] = math.Log(normCDF((1-mu[j])/sg[j]) - normCDF(-mu[j]/sg[j]))
			}
			p.mu[i], p.sigma[i], p.logZ[i] = mu, sg, lz
		}
	}
	return p
}

func normalise(row []float64) {
	var s float64
	for _, v := range row {
		s += v
	}
	for i := range row {
		row[i] /= s
	}
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// sample draws a point: a component by weight, then each dimension from
// that component's kernel.
func (p *parzen) sample(rng *rand.Rand) []float64 {
	j := pick(rng, p.weights)
	x := make([]float64, len(p.space.dims))
	for i, d := range p.space.dims {
		if d.choices() > 0 {
			x[i] = float64(pick(rng, p.probs[i][j]))
			continue
		}
		mu, sg := p.mu[i][j], p.sigma[i][j]
		u := math.NaN()
		for range 64 { // truncated normal by rejection; mass inside is >= ~0.2
			if v := mu + sg*rng.NormFloat64(); v >= 0 && v <= 1 {
				u = v
				break
			}
		}
		if math.IsNaN(u) {
			u = math.Min(1, math.Max(0, mu))
		}
		x[i] = d.fromUnit(u)
	}
	return x
}

func pick(rng *rand.Rand, w []float64) int {
	r := rng.Float64()
	for i, v := range w {
		r -= v
		if r < 0 {
			return i
		}
	}
	return len(w) - 1
}

// logPDF is the log density of x under the mixture (Int dims scored at
// the unit position of their integer value).
func (p *parzen) logPDF(x []float64) float64 {
	k := len(p.weights)
	terms := slices.Clone(p.logW)
	for i, d := range p.space.dims {
		if d.choices() > 0 {
			v := int(x[i])
			for j := range k {
				terms[j] += math.Log(p.probs[i][j][v])
			}
			continue
		}
		u := d.toUnit(x[i])
		for j := range k {
			z := (u - p.mu[i][j]) / p.sigma[i][j]
			terms[j] += -0.5*z*z - math.Log(p.sigma[i][j]) - 0.5*math.Log(2*math.Pi) - p.logZ[i][j]
		}
	}
	return logSumExp(terms)
}

func logSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
