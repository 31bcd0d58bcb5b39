package hpo

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Suggester proposes the parameters of the next trial.
type Suggester interface {
	// Suggest returns the parameters of trial number len(trials), given
	// every trial so far in order (running ones included). It is a pure
	// function of its argument and the suggester's configuration.
	Suggest(trials []Trial) (Assignment, error)
}

// Algorithm names a search algorithm and its settings, as an Experiment
// spells them (settings are strings, like Katib's algorithmSettings).
type Algorithm struct {
	Name     string
	Settings map[string]string
}

// Search algorithm names.
const (
	AlgorithmRandom = "random"
	AlgorithmGrid   = "grid"
	AlgorithmTPE    = "tpe"
)

// Algorithms lists the search algorithm names NewSuggester accepts.
var Algorithms = []string{AlgorithmRandom, AlgorithmGrid, AlgorithmTPE}

// ValidateAlgorithm checks the algorithm's name and settings; path names
// the algorithm (e.g. spec.algorithm).
func ValidateAlgorithm(a Algorithm, path *field.Path) field.ErrorList {
	_, errs := parseAlgorithm(a, path)
	return errs
}

// NewSuggester builds the suggester for a over the space s. seed fixes
// every random choice; errors name fields below "parameters" and
// "algorithm".
func NewSuggester(s Space, g Goal, a Algorithm, seed uint64) (Suggester, error) {
	c, err := compile(s, field.NewPath("parameters"))
	if err != nil {
		return nil, err
	}
	cfg, errs := parseAlgorithm(a, field.NewPath("algorithm"))
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	switch a.Name {
	case AlgorithmRandom:
		return &randomSearch{space: c, seed: seed}, nil
	case AlgorithmGrid:
		return newGrid(c, cfg.grid, seed)
	default:
		return &tpe{space: c, goal: g, seed: seed, cfg: cfg.tpe}, nil
	}
}

type algorithmConfig struct {
	grid gridConfig
	tpe  tpeConfig
}

func parseAlgorithm(a Algorithm, path *field.Path) (algorithmConfig, field.ErrorList) {
	var cfg algorithmConfig
	st := &settings{path: path.Child("settings"), m: a.Settings, used: map[string]bool{}}
	switch a.Name {
	case AlgorithmRandom:
	case AlgorithmGrid:
		cfg.grid.points = st.int("points", 10, 2, 1<<20)
		cfg.grid.shuffled = st.choice("order", "sequential", "sequential", "shuffled") == "shuffled"
	case AlgorithmTPE:
		cfg.tpe = tpeConfig{
			startup:     st.int("startupTrials", 10, 1, 1<<20),
			gamma:       st.float("gamma", 0.25, 0, 1),
			maxBelow:    st.int("maxBelow", 25, 1, 1<<20),
			candidates:  st.int("candidates", 24, 1, 1<<16),
			priorWeight: st.float("priorWeight", 1, 0, math.Inf(1)),
			liar:        st.choice("constantLiar", "true", "true", "false") == "true",
		}
	case "":
		return cfg, field.ErrorList{field.Required(path.Child("name"), "choose random, grid or tpe")}
	default:
		return cfg, field.ErrorList{field.NotSupported(path.Child("name"), a.Name, Algorithms)}
	}
	return cfg, append(st.errs, st.unknown()...)
}

// settings reads string settings, collecting field errors.
type settings struct {
	path *field.Path
	m    map[string]string
	used map[string]bool
	errs field.ErrorList
}

func (s *settings) raw(name string) (string, bool) {
	s.used[name] = true
	v, ok := s.m[name]
	return v, ok
}

// int reads an integer in [lo, hi].
func (s *settings) int(name string, def, lo, hi int) int {
	v, ok := s.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		s.errs = append(s.errs, field.Invalid(s.path.Key(name), v, fmt.Sprintf("give a whole number from %d to %d (default %d)", lo, hi, def)))
		return def
	}
	return n
}

// float reads a number in (lo, hi).
func (s *settings) float(name string, def, lo, hi float64) float64 {
	v, ok := s.raw(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > lo && f < hi) {
		s.errs = append(s.errs, field.Invalid(s.path.Key(name), v, fmt.Sprintf("give a number above %g and below %g (default %g)", lo, hi, def)))
		return def
	}
	return f
}

func (s *settings) choice(name, def string, allowed ...string) string {
	v, ok := s.raw(name)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		s.errs = append(s.errs, field.NotSupported(s.path.Key(name), v, allowed))
		return def
	}
	return v
}

// unknown reports settings no parser asked for: a misspelt setting would
// otherwise be ignored silently.
func (s *settings) unknown() field.ErrorList {
	var names []string
	for k := range s.m {
		if !s.used[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var known []string
	for k := range s.used {
		known = append(known, k)
	}
	sort.Strings(known)
	var errs field.ErrorList
	for _, k := range names {
		detail := "this algorithm takes no settings"
		if len(known) > 0 {
			detail = fmt.Sprintf("unknown setting; this algorithm takes %v", known)
		}
		errs = append(errs, field.Invalid(s.path.Key(k), s.m[k], detail))
	}
	return errs
}

// randomSearch draws every parameter uniformly (in log space for Log).
type randomSearch struct {
	space *compiled
	seed  uint64
}

func (r *randomSearch) Suggest(trials []Trial) (Assignment, error) {
	rng := rngFor(r.seed, len(trials))
	x := make([]float64, len(r.space.dims))
	for i, d := range r.space.dims {
		if n := d.choices(); n > 0 {
			x[i] = float64(rng.IntN(n))
		} else {
			x[i] = d.fromUnit(rng.Float64())
		}
	}
	return r.space.decode(x), nil
}
