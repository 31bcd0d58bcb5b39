package benchmark

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/internal/hpo"
)

func curveOptions() CurveOptions {
	return CurveOptions{
		Stoppers: []hpo.EarlyStopping{
			{Name: "asha", Settings: map[string]string{"maxResource": "81", "minResource": "3"}},
			{Name: "hyperband", Settings: map[string]string{"maxResource": "81"}},
		},
		Trials: 81, Parallel: 4, MaxSteps: 81, Noise: 0.005, Repeats: 40, Seed: 1,
	}
}

func TestRunCurves(t *testing.T) {
	res, err := RunCurves(curveOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Stopper != "asha/maxResource=81/minResource=3" || res[1].Stopper != "hyperband/maxResource=81" {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res {
		if r.BudgetFraction <= 0 || r.BudgetFraction >= 1 {
			t.Errorf("%s: budget fraction %g outside (0, 1)", r.Stopper, r.BudgetFraction)
		}
		if r.FullTrainingWithinOnePercent < r.WithinOnePercent-0.1 {
			t.Errorf("%s: early stopping found the best more often (%g) than full training (%g)", r.Stopper, r.WithinOnePercent, r.FullTrainingWithinOnePercent)
		}
	}
	// The target for ASHA: at least 3x less training than running
	// every trial to the end, still within 1% of the best almost always.
	if a := res[0]; a.Savings < 3 || a.WithinOnePercent < 0.9 {
		t.Errorf("asha: %.2fx savings, within 1%% in %.2f of searches; want >= 3x and >= 0.9", a.Savings, a.WithinOnePercent)
	}
	again, _ := RunCurves(curveOptions())
	if diff := cmp.Diff(res, again); diff != "" {
		t.Errorf("not reproducible (-first +again):\n%s", diff)
	}
}

func TestRunCurvesMedian(t *testing.T) {
	o := curveOptions()
	o.Stoppers = []hpo.EarlyStopping{{Name: "median"}}
	o.Trials, o.MaxSteps, o.Repeats = 27, 27, 10
	res, err := RunCurves(o)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.BudgetFraction <= 0.05 || r.BudgetFraction >= 0.9 || r.WithinOnePercent < 0.5 {
		t.Errorf("median: %+v; want some but not all training saved, and the best mostly kept", r)
	}
}

func TestRunCurvesWithoutStoppingTrainsEverything(t *testing.T) {
	// A median rule that needs more peers than there are trials never
	// stops anything: the budget used is exactly full training.
	o := curveOptions()
	o.Stoppers = []hpo.EarlyStopping{{Name: "median", Settings: map[string]string{"minTrials": "1000"}}}
	o.Trials, o.MaxSteps, o.Repeats = 27, 27, 3
	res, err := RunCurves(o)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.BudgetFraction != 1 || r.WithinOnePercent != r.FullTrainingWithinOnePercent {
		t.Errorf("no stopping: %+v, want budget fraction 1 and the same quality as full training", r)
	}
}

func TestRunCurvesErrors(t *testing.T) {
	for name, mut := range map[string]func(*CurveOptions){
		"one trial":    func(o *CurveOptions) { o.Trials = 1 },
		"one step":     func(o *CurveOptions) { o.MaxSteps = 1 },
		"no parallel":  func(o *CurveOptions) { o.Parallel = 0 },
		"no repeats":   func(o *CurveOptions) { o.Repeats = 0 },
		"noise < 0":    func(o *CurveOptions) { o.Noise = -1 },
		"bad stopper":  func(o *CurveOptions) { o.Stoppers = []hpo.EarlyStopping{{Name: "asha"}} },
		"unknown rule": func(o *CurveOptions) { o.Stoppers = []hpo.EarlyStopping{{Name: "pbt"}} },
	} {
		o := curveOptions()
		mut(&o)
		if _, err := RunCurves(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
