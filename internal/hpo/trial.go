package hpo

import (
	"errors"
	"math/rand/v2"
)

// Goal says which way the objective improves.
type Goal int

// Goals.
const (
	Minimize Goal = iota
	Maximize
)

// loss turns an objective value into something to minimise.
func (g Goal) loss(v float64) float64 {
	if g == Maximize {
		return -v
	}
	return v
}

// Better reports whether a is strictly better than b under g.
func (g Goal) Better(a, b float64) bool { return g.loss(a) < g.loss(b) }

// State is where a trial stands.
type State string

// Trial states.
const (
	// Running: suggested, its workload not finished yet.
	Running State = "Running"
	// Succeeded: finished and reported its objective (Trial.Value).
	Succeeded State = "Succeeded"
	// Failed: finished without an objective.
	Failed State = "Failed"
	// EarlyStopped: ended by a stopper; Value holds its last report.
	EarlyStopped State = "EarlyStopped"
)

// Report is one intermediate value of the objective at a step (epoch,
// iteration: any increasing measure of resource spent).
type Report struct {
	Step  int64
	Value float64
}

// Trial is one evaluation of the objective. A trial's number is its index
// in the list handed to the algorithms; that list must keep its order.
type Trial struct {
	Params Assignment
	State  State
	// Value is the final objective of a Succeeded trial and the last
	// reported value of an EarlyStopped one.
	Value float64
	// Reports are the intermediate values in increasing Step order.
	Reports []Report
}

// ErrExhausted is returned by a suggester that has nothing left to
// propose (a grid whose every point has been suggested).
var ErrExhausted = errors.New("search space exhausted: every configuration has been suggested")

// IsExhausted reports whether err says the search space is exhausted.
func IsExhausted(err error) bool { return errors.Is(err, ErrExhausted) }

// rngFor returns the generator for trial number index: a pure function of
// (seed, index), so a suggestion can be recomputed after a restart.
func rngFor(seed uint64, index int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(index)*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
}

// Best returns the index of the best Succeeded trial, or -1 if none has
// succeeded. Ties go to the earlier trial.
func Best(trials []Trial, g Goal) int {
	best := -1
	for i, t := range trials {
		if t.State != Succeeded {
			continue
		}
		if best < 0 || g.Better(t.Value, trials[best].Value) {
			best = i
		}
	}
	return best
}

// Sign is +1 when larger values are better (Maximize) and -1 otherwise:
// Sign*(a-b) > 0 means a is better than b.
func (g Goal) Sign() float64 {
	if g == Maximize {
		return 1
	}
	return -1
}

// ParseGoal reads "minimize" or "maximize".
func ParseGoal(s string) (Goal, bool) {
	switch s {
	case "minimize":
		return Minimize, true
	case "maximize":
		return Maximize, true
	}
	return Minimize, false
}
