package hpo

import (
	"math"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func mixedSpace() Space {
	return Space{Parameters: []Parameter{
		{Name: "lr", Type: Double, Min: 1e-5, Max: 1, Log: true},
		{Name: "dropout", Type: Double, Min: 0, Max: 0.5},
		{Name: "layers", Type: Int, Min: 1, Max: 8},
		{Name: "width", Type: Int, Min: 16, Max: 1024, Log: true},
		{Name: "opt", Type: Categorical, Values: []string{"adam", "sgd", "rmsprop"}},
		{Name: "batch", Type: Discrete, Numbers: []float64{64, 16, 32, 128}},
	}}
}

// objective is a smooth function of the mixed space with its optimum at
// lr=1e-3, dropout=0.1, layers=4, width=256, opt=adam, batch=32.
func objective(a Assignment) float64 {
	f := func(k string) float64 { v, _ := strconv.ParseFloat(a[k], 64); return v }
	v := math.Pow(math.Log10(f("lr"))+3, 2) + 10*math.Pow(f("dropout")-0.1, 2) +
		math.Pow(f("layers")-4, 2)/4 + math.Pow(math.Log2(f("width"))-8, 2)/4 +
		math.Pow(math.Log2(f("batch"))-5, 2)/2
	if a["opt"] != "adam" {
		v += 1
	}
	return v
}

// run performs a sequential search of n trials and returns them.
func run(t *testing.T, s Suggester, n int) []Trial {
	t.Helper()
	var trials []Trial
	for range n {
		a, err := s.Suggest(trials)
		if err != nil {
			t.Fatal(err)
		}
		trials = append(trials, Trial{Params: a, State: Succeeded, Value: objective(a)})
	}
	return trials
}

func TestSuggestionsAreValidAndReproducible(t *testing.T) {
	space := mixedSpace()
	for _, alg := range []Algorithm{{Name: "random"}, {Name: "tpe"}, {Name: "grid", Settings: map[string]string{"points": "3"}},
		{Name: "grid", Settings: map[string]string{"order": "shuffled"}}} {
		t.Run(alg.Name, func(t *testing.T) {
			s, err := NewSuggester(space, Minimize, alg, 42)
			if err != nil {
				t.Fatal(err)
			}
			trials := run(t, s, 40)
			for i, tr := range trials {
				canon, err := space.Encode(tr.Params)
				if err != nil {
					t.Fatalf("trial %d: %v", i, err)
				}
				if diff := cmp.Diff(canon, tr.Params); diff != "" {
					t.Fatalf("trial %d not canonical (-canon +got):\n%s", i, diff)
				}
			}
			// A restarted controller builds a new suggester from the stored
			// list: every suggestion must come out the same.
			again, _ := NewSuggester(space, Minimize, alg, 42)
			for i := range trials {
				a, err := again.Suggest(trials[:i])
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(trials[i].Params, a); diff != "" {
					t.Fatalf("trial %d differs after a restart (-first +again):\n%s", i, diff)
				}
			}
			if alg.Name == "grid" && alg.Settings["order"] != "shuffled" {
				return
			}
			other, _ := NewSuggester(space, Minimize, alg, 43)
			if a, _ := other.Suggest(trials[:20]); cmp.Equal(a, trials[20].Params) {
				t.Errorf("seed 43 suggested what seed 42 did: the seed is ignored")
			}
		})
	}
}

func TestRandomLogScale(t *testing.T) {
	s, _ := NewSuggester(Space{Parameters: []Parameter{{Name: "lr", Type: Double, Min: 1e-5, Max: 1, Log: true}}}, Minimize, Algorithm{Name: "random"}, 1)
	below := 0
	n := 4000
	for i := range n {
		a, _ := s.Suggest(make([]Trial, i))
		v, _ := strconv.ParseFloat(a["lr"], 64)
		if v < 1e-5 || v > 1 {
			t.Fatalf("lr %g outside [1e-5, 1]", v)
		}
		if v < 1e-3 {
			below++
		}
	}
	// Two of five decades lie below 1e-3: uniform in log puts 40% there,
	// uniform in value 0.1%.
	if got := float64(below) / float64(n); got < 0.37 || got > 0.43 {
		t.Errorf("share below 1e-3 = %.3f, want about 0.40 (log-uniform)", got)
	}
}

func TestGridEnumeratesEachPointOnce(t *testing.T) {
	space := Space{Parameters: []Parameter{
		{Name: "lr", Type: Double, Min: 1e-4, Max: 1e-1, Log: true},
		{Name: "layers", Type: Int, Min: 1, Max: 3},
		{Name: "opt", Type: Categorical, Values: []string{"adam", "sgd"}},
	}}
	for _, order := range []string{"sequential", "shuffled"} {
		s, err := NewSuggester(space, Minimize, Algorithm{Name: "grid", Settings: map[string]string{"points": "4", "order": order}}, 7)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var trials []Trial
		for {
			a, err := s.Suggest(trials)
			if IsExhausted(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			k := a["lr"] + "/" + a["layers"] + "/" + a["opt"]
			if seen[k] {
				t.Fatalf("%s: %s suggested twice", order, k)
			}
			seen[k] = true
			trials = append(trials, Trial{Params: a, State: Succeeded})
		}
		if len(seen) != 4*3*2 {
			t.Errorf("%s: %d points, want 24", order, len(seen))
		}
		for _, lr := range []string{"0.0001", "0.001", "0.01", "0.1"} {
			if !seen[lr+"/1/adam"] {
				t.Errorf("%s: log grid misses lr=%s (have %v)", order, lr, seen)
			}
		}
	}
}

func TestTPEBeatsRandom(t *testing.T) {
	space := mixedSpace()
	var tpeSum, randSum float64
	for seed := range uint64(8) {
		for _, name := range []string{"tpe", "random"} {
			s, _ := NewSuggester(space, Minimize, Algorithm{Name: name}, seed)
			trials := run(t, s, 80)
			best := trials[Best(trials, Minimize)].Value
			if name == "tpe" {
				tpeSum += best
			} else {
				randSum += best
			}
		}
	}
	t.Logf("tpe %.3f random %.3f", tpeSum/8, randSum/8)
	if tpeSum > 0.6*randSum {
		t.Errorf("mean best after 80 trials: tpe %.3f, random %.3f; want tpe at most 0.6x random", tpeSum/8, randSum/8)
	}
}

func TestTPEHandlesEveryTrialState(t *testing.T) {
	space := Space{Parameters: []Parameter{
		{Name: "a", Type: Categorical, Values: []string{"x", "y", "z"}},
		{Name: "b", Type: Discrete, Numbers: []float64{1, 2}},
	}}
	s, err := NewSuggester(space, Maximize, Algorithm{Name: "tpe", Settings: map[string]string{"startupTrials": "2"}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	states := []State{Succeeded, EarlyStopped, Failed, Running, Succeeded, Succeeded}
	seen := map[string]bool{}
	var trials []Trial
	for i, st := range states {
		a, err := s.Suggest(trials)
		if err != nil {
			t.Fatal(err)
		}
		k := a["a"] + a["b"]
		if seen[k] {
			t.Errorf("trial %d repeats %s although untried points remain", i, k)
		}
		seen[k] = true
		trials = append(trials, Trial{Params: a, State: st, Value: float64(i)})
	}
	// A trial stored before the space changed is skipped, not fatal.
	trials = append(trials, Trial{Params: Assignment{"a": "w", "b": "1"}, State: Succeeded, Value: 9})
	if _, err := s.Suggest(trials); err != nil {
		t.Errorf("a stale trial broke the suggester: %v", err)
	}
}

func TestAlgorithmSettingsErrors(t *testing.T) {
	tests := []struct {
		alg  Algorithm
		want []string
	}{
		{Algorithm{Name: "tpe", Settings: map[string]string{"gamma": "0.3", "candidates": "64"}}, nil},
		{Algorithm{Name: "tpe", Settings: map[string]string{"gama": "0.3"}}, []string{"spec.algorithm.settings[gama]"}},
		{Algorithm{Name: "tpe", Settings: map[string]string{"gamma": "1.5"}}, []string{"spec.algorithm.settings[gamma]"}},
		{Algorithm{Name: "tpe", Settings: map[string]string{"candidates": "many"}}, []string{"spec.algorithm.settings[candidates]"}},
		{Algorithm{Name: "random", Settings: map[string]string{"seed": "1"}}, []string{"spec.algorithm.settings[seed]"}},
		{Algorithm{Name: "grid", Settings: map[string]string{"points": "1"}}, []string{"spec.algorithm.settings[points]"}},
		{Algorithm{Name: "grid", Settings: map[string]string{"order": "reverse"}}, []string{"spec.algorithm.settings[order]"}},
		{Algorithm{Name: "bayes"}, []string{"spec.algorithm.name"}},
		{Algorithm{}, []string{"spec.algorithm.name"}},
	}
	for _, tc := range tests {
		errs := ValidateAlgorithm(tc.alg, field.NewPath("spec", "algorithm"))
		if diff := cmp.Diff(tc.want, fields(errs)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.alg, diff)
		}
	}
	if _, err := NewSuggester(Space{}, Minimize, Algorithm{Name: "random"}, 0); err == nil {
		t.Error("NewSuggester accepted an empty space")
	}
}

func TestTPEConstantLiarSpreadsParallelTrials(t *testing.T) {
	space := Space{Parameters: []Parameter{{Name: "x", Type: Double, Min: 0, Max: 1}}}
	var done []Trial
	for i := range 20 {
		x := (float64(i) + 0.5) / 20
		done = append(done, Trial{Params: Assignment{"x": FormatNumber(x)}, State: Succeeded, Value: (x - 0.3) * (x - 0.3)})
	}
	// Three trials already running at the optimum.
	for range 3 {
		done = append(done, Trial{Params: Assignment{"x": "0.3"}, State: Running})
	}
	spread := func(liar string) float64 {
		var sum float64
		for seed := range uint64(30) {
			s, err := NewSuggester(space, Minimize, Algorithm{Name: "tpe", Settings: map[string]string{"constantLiar": liar}}, seed)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := s.Suggest(done)
			x, _ := strconv.ParseFloat(a["x"], 64)
			sum += math.Abs(x - 0.3)
		}
		return sum / 30
	}
	with, without := spread("true"), spread("false")
	if with <= without {
		t.Errorf("mean distance from the running trials: %.4f with constant liar, %.4f without; want larger with", with, without)
	}
}

// TestRandomSpacesProperty draws many valid spaces and checks that every
// algorithm's suggestions lie in the space, in canonical form, for a mix of
// trial states.
func TestRandomSpacesProperty(t *testing.T) {
	rng := rngFor(99, 0)
	states := []State{Succeeded, Succeeded, Failed, EarlyStopped, Running}
	for n := range 40 {
		var space Space
		for i := range 1 + rng.IntN(5) {
			name := "p" + strconv.Itoa(i)
			switch rng.IntN(4) {
			case 0:
				lo := math.Pow(10, -rng.Float64()*6)
				space.Parameters = append(space.Parameters, Parameter{Name: name, Type: Double, Min: lo, Max: lo * (1 + rng.Float64()*1000), Log: rng.IntN(2) == 0})
			case 1:
				lo := float64(1 + rng.IntN(10))
				space.Parameters = append(space.Parameters, Parameter{Name: name, Type: Int, Min: lo, Max: lo + float64(1+rng.IntN(100)), Log: rng.IntN(2) == 0})
			case 2:
				var vs []string
				for k := range 1 + rng.IntN(6) {
					vs = append(vs, "v"+strconv.Itoa(k))
				}
				space.Parameters = append(space.Parameters, Parameter{Name: name, Type: Categorical, Values: vs})
			default:
				var ns []float64
				for k := range 1 + rng.IntN(6) {
					ns = append(ns, float64(k*k)-3.5)
				}
				space.Parameters = append(space.Parameters, Parameter{Name: name, Type: Discrete, Numbers: ns})
			}
		}
		for _, name := range []string{"random", "grid", "tpe"} {
			s, err := NewSuggester(space, Maximize, Algorithm{Name: name, Settings: map[string]string{}}, uint64(n))
			if err != nil {
				t.Fatalf("space %d %+v: %v", n, space, err)
			}
			var trials []Trial
			for k := range 25 {
				a, err := s.Suggest(trials)
				if IsExhausted(err) && name == "grid" {
					break
				}
				if err != nil {
					t.Fatalf("space %d, %s, trial %d: %v", n, name, k, err)
				}
				canon, err := space.Encode(a)
				if err != nil || !cmp.Equal(canon, a) {
					t.Fatalf("space %d %+v, %s, trial %d: %v is not a canonical point (%v)", n, space, name, k, a, err)
				}
				trials = append(trials, Trial{Params: a, State: states[rng.IntN(len(states))], Value: rng.NormFloat64()})
			}
		}
	}
}
