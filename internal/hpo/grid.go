package hpo

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
)

type gridConfig struct {
	points   int  // values per Double (and per wide Int) parameter
	shuffled bool // visit points in a seeded pseudo-random order
}

// grid enumerates the Cartesian product of every parameter's grid values;
// trial number k gets point k (or point perm(k) when shuffled), so nothing
// but the trial count is needed to continue after a restart.
type grid struct {
	space  *compiled
	values [][]float64 // per dimension, encoded values
	total  uint64
	a, b   uint64 // perm(k) = (a*k + b) mod total, gcd(a, total) = 1
}

func newGrid(c *compiled, cfg gridConfig, seed uint64) (*grid, error) {
	g := &grid{space: c, total: 1}
	for _, d := range c.dims {
		var vs []float64
		switch {
		case d.choices() > 0:
			for k := range d.choices() {
				vs = append(vs, float64(k))
			}
		case d.Type == Int && d.Max-d.Min+1 <= float64(cfg.points):
			for v := d.Min; v <= d.Max; v++ {
				vs = append(vs, v)
			}
		default:
			for k := range cfg.points {
				u := float64(k) / float64(cfg.points-1)
				if d.Type == Int { // hit the bounds exactly, not the widened edges
					u = d.toUnit(d.Min) + u*(d.toUnit(d.Max)-d.toUnit(d.Min))
				}
				vs = append(vs, tidy(d.fromUnit(u), d))
			}
			vs = slices.Compact(vs)
		}
		g.values = append(g.values, vs)
		hi, lo := bits.Mul64(g.total, uint64(len(vs)))
		if hi != 0 || lo > 1<<62 {
			return nil, fmt.Errorf("algorithm.settings[points]: the grid has more than 2^62 points; lower points or use random or tpe")
		}
		g.total = lo
	}
	g.a, g.b = 1, 0
	if cfg.shuffled && g.total > 2 {
		rng := rngFor(seed, -1)
		for {
			g.a = 1 + rng.Uint64N(g.total-1)
			if gcd(g.a, g.total) == 1 {
				break
			}
		}
		g.b = rng.Uint64N(g.total)
	}
	return g, nil
}

// tidy rounds a grid value to 12 significant digits, so that a log grid
// from 1e-4 to 1e-1 reads 0.001 rather than 0.0010000000000000002.
func tidy(v float64, d dim) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	if err != nil || r < d.Min || r > d.Max {
		return v
	}
	return r
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Size is the number of grid points.
func (g *grid) Size() uint64 { return g.total }

func (g *grid) Suggest(trials []Trial) (Assignment, error) {
	k := uint64(len(trials))
	if k >= g.total {
		return nil, fmt.Errorf("grid of %d points: %w", g.total, ErrExhausted)
	}
	hi, lo := bits.Mul64(g.a, k)
	_, idx := bits.Div64(hi%g.total, lo, g.total)
	idx = (idx + g.b) % g.total
	x := make([]float64, len(g.values))
	for i := len(g.values) - 1; i >= 0; i-- { // last parameter varies fastest
		n := uint64(len(g.values[i]))
		x[i] = g.values[i][idx%n]
		idx /= n
	}
	return g.space.decode(x), nil
}
