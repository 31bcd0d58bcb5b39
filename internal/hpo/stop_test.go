package hpo

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// curveTrial builds a trial that reported values at steps 1, 2, ...
func curveTrial(state State, values ...float64) Trial {
	t := Trial{State: state}
	for i, v := range values {
		t.Reports = append(t.Reports, Report{Step: int64(i + 1), Value: v})
	}
	return t
}

func mustStopper(t *testing.T, g Goal, e EarlyStopping) Stopper {
	t.Helper()
	s, err := NewStopper(g, e)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestASHA(t *testing.T) {
	// Rungs at steps 1, 3, 9 (maxResource 27, reduction 3).
	s := mustStopper(t, Maximize, EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "27"}})
	peers := []Trial{
		curveTrial(EarlyStopped, 0.9),
		curveTrial(Running, 0.5, 0.6, 0.7),
		curveTrial(Succeeded, 0.7, 0.75, 0.8),
	}
	tests := []struct {
		name   string
		values []float64
		stop   bool
	}{
		{"first rung, best of four", []float64{0.95}, false},
		{"first rung, second of four: only the top 1 of 4 continues", []float64{0.8}, true},
		{"between rungs nothing is decided", []float64{0.95, 0.1}, false},
		{"second rung, only one peer there and it is better", []float64{0.95, 0.9, 0.75}, true},
		{"second rung, better than the peer", []float64{0.95, 0.9, 0.85}, false},
		{"a NaN report stops the trial", []float64{math.NaN()}, true},
	}
	for _, tc := range tests {
		trials := append(append([]Trial{}, peers...), curveTrial(Running, tc.values...))
		d := s.ShouldStop(trials, len(trials)-1)
		if d.Stop != tc.stop {
			t.Errorf("%s: stop=%v (%s), want %v", tc.name, d.Stop, d.Reason, tc.stop)
		}
		if d.Stop && d.Reason == "" {
			t.Errorf("%s: stopped without a reason", tc.name)
		}
	}
	// Alone at a rung, a trial always continues.
	if d := s.ShouldStop([]Trial{curveTrial(Running, 0.1)}, 0); d.Stop {
		t.Errorf("the first trial was stopped: %s", d.Reason)
	}
	// Minimising flips the ranking.
	low := mustStopper(t, Minimize, EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "27"}})
	trials := append(append([]Trial{}, peers...), curveTrial(Running, 0.4))
	if d := low.ShouldStop(trials, 3); d.Stop {
		t.Errorf("minimize: the lowest loss was stopped: %s", d.Reason)
	}
}

func TestASHAEtaKeepsATopFraction(t *testing.T) {
	// 9 earlier trials at rung 1 with values 0.1..0.9: with eta 3 the top
	// 10/3 = 3 continue: 0.75 (3rd of 10) goes on, 0.65 (4th) stops.
	s := mustStopper(t, Maximize, EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "9", "reductionFactor": "3"}})
	var trials []Trial
	for i := 1; i <= 9; i++ {
		trials = append(trials, curveTrial(EarlyStopped, float64(i)/10))
	}
	for v, stop := range map[float64]bool{0.75: false, 0.85: false, 0.95: false, 0.65: true, 0.05: true} {
		all := append(append([]Trial{}, trials...), curveTrial(Running, v))
		if d := s.ShouldStop(all, 9); d.Stop != stop {
			t.Errorf("value %g: stop=%v (%s), want %v", v, d.Stop, d.Reason, stop)
		}
	}
}

func TestHyperbandBrackets(t *testing.T) {
	// maxResource 9, reduction 3: brackets with rungs {1,3} and {3}; trial
	// n is in bracket n mod 2.
	s := mustStopper(t, Maximize, EarlyStopping{Name: "hyperband", Settings: map[string]string{"maxResource": "9"}})
	trials := []Trial{
		curveTrial(Running, 0.9, 0.9, 0.9), // bracket 0
		curveTrial(Running, 0.8, 0.8, 0.8), // bracket 1
		curveTrial(Running, 0.1),           // bracket 0: judged at step 1 against trial 0
		curveTrial(Running, 0.1),           // bracket 1: no rung at step 1
	}
	if d := s.ShouldStop(trials, 2); !d.Stop {
		t.Error("bracket 0 trial below its peer at rung 1 was not stopped")
	}
	if d := s.ShouldStop(trials, 3); d.Stop {
		t.Errorf("bracket 1 has no rung at step 1, yet the trial was stopped: %s", d.Reason)
	}
	trials[3] = curveTrial(Running, 0.1, 0.1, 0.1)
	if d := s.ShouldStop(trials, 3); !d.Stop {
		t.Error("bracket 1 trial below its peer at rung 3 was not stopped")
	}
}

func TestMedianStopping(t *testing.T) {
	s := mustStopper(t, Maximize, EarlyStopping{Name: "median", Settings: map[string]string{"warmupSteps": "2", "minTrials": "3"}})
	peers := []Trial{
		curveTrial(Succeeded, 0.2, 0.4, 0.6, 0.8), // running average at step 3: 0.4
		curveTrial(Succeeded, 0.3, 0.5, 0.7),      // 0.5
		curveTrial(Running, 0.4, 0.6, 0.8),        // 0.6
		curveTrial(Running, 0.9, 0.9),             // has not reached step 3: ignored
	}
	tests := []struct {
		name   string
		values []float64
		stop   bool
	}{
		{"below the median of running averages", []float64{0.1, 0.2, 0.45}, true},
		{"best so far above the median", []float64{0.1, 0.55, 0.3}, false},
		{"warm-up", []float64{0.0}, false},
	}
	for _, tc := range tests {
		trials := append(append([]Trial{}, peers...), curveTrial(Running, tc.values...))
		if d := s.ShouldStop(trials, len(trials)-1); d.Stop != tc.stop {
			t.Errorf("%s: stop=%v (%s), want %v", tc.name, d.Stop, d.Reason, tc.stop)
		}
	}
	// Too few peers have reached the step: no decision.
	few := []Trial{peers[0], peers[1], curveTrial(Running, 0.0, 0.0, 0.0)}
	if d := s.ShouldStop(few, 2); d.Stop {
		t.Errorf("stopped with 2 peers although minTrials is 3: %s", d.Reason)
	}
}

func TestStopperSettingsErrors(t *testing.T) {
	tests := []struct {
		e    EarlyStopping
		want []string
	}{
		{EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "81", "minResource": "3"}}, nil},
		{EarlyStopping{Name: "asha"}, []string{"spec.earlyStopping.settings[maxResource]"}},
		{EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "ten"}}, []string{"spec.earlyStopping.settings[maxResource]"}},
		{EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "3", "minResource": "3"}}, []string{"spec.earlyStopping.settings[maxResource]"}},
		{EarlyStopping{Name: "asha", Settings: map[string]string{"maxResource": "9", "reductionFactor": "1"}}, []string{"spec.earlyStopping.settings[reductionFactor]"}},
		{EarlyStopping{Name: "hyperband", Settings: map[string]string{"maxResource": "9", "minEarlyStoppingRate": "1"}}, []string{"spec.earlyStopping.settings[minEarlyStoppingRate]"}},
		{EarlyStopping{Name: "median", Settings: map[string]string{"minTrials": "0"}}, []string{"spec.earlyStopping.settings[minTrials]"}},
		{EarlyStopping{Name: "medain"}, []string{"spec.earlyStopping.name"}},
	}
	for _, tc := range tests {
		errs := ValidateEarlyStopping(tc.e, field.NewPath("spec", "earlyStopping"))
		if diff := cmp.Diff(tc.want, fields(errs)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.e, diff)
		}
	}
	_, err := NewStopper(Minimize, EarlyStopping{Name: "asha"})
	if err == nil || !strings.Contains(err.Error(), "earlyStopping.settings[maxResource]") {
		t.Errorf("NewStopper without maxResource: %v", err)
	}
}
