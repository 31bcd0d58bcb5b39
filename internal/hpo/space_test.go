package hpo

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func fields(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestSpaceValidate(t *testing.T) {
	tests := []struct {
		name  string
		space Space
		want  []string // field paths
	}{
		{"empty", Space{}, []string{"spec.parameters"}},
		{"valid", Space{Parameters: []Parameter{
			{Name: "lr", Type: Double, Min: 1e-5, Max: 1, Log: true},
			{Name: "layers", Type: Int, Min: 1, Max: 8},
			{Name: "opt", Type: Categorical, Values: []string{"adam", "sgd"}},
			{Name: "batch", Type: Discrete, Numbers: []float64{64, 16, 32}},
		}}, nil},
		{"duplicate name", Space{Parameters: []Parameter{
			{Name: "lr", Type: Double, Min: 0, Max: 1},
			{Name: "lr", Type: Double, Min: 0, Max: 1},
		}}, []string{"spec.parameters[1].name"}},
		{"bad name", Space{Parameters: []Parameter{{Name: "l r", Type: Double, Min: 0, Max: 1}}}, []string{"spec.parameters[0].name"}},
		{"missing name", Space{Parameters: []Parameter{{Type: Double, Min: 0, Max: 1}}}, []string{"spec.parameters[0].name"}},
		{"min above max", Space{Parameters: []Parameter{{Name: "x", Type: Double, Min: 2, Max: 1}}}, []string{"spec.parameters[0].max"}},
		{"min equals max", Space{Parameters: []Parameter{{Name: "x", Type: Int, Min: 3, Max: 3}}}, []string{"spec.parameters[0].max"}},
		{"log with zero bound", Space{Parameters: []Parameter{{Name: "x", Type: Double, Min: 0, Max: 1, Log: true}}}, []string{"spec.parameters[0].min"}},
		{"log with negative bound", Space{Parameters: []Parameter{{Name: "x", Type: Int, Min: -4, Max: 4, Log: true}}}, []string{"spec.parameters[0].min"}},
		{"int with fractional bound", Space{Parameters: []Parameter{{Name: "x", Type: Int, Min: 0.5, Max: 4}}}, []string{"spec.parameters[0].min"}},
		{"infinite bound", Space{Parameters: []Parameter{{Name: "x", Type: Double, Min: 0, Max: math.Inf(1)}}}, []string{"spec.parameters[0].min"}},
		{"range with values", Space{Parameters: []Parameter{{Name: "x", Type: Double, Min: 0, Max: 1, Values: []string{"a"}}}}, []string{"spec.parameters[0].type"}},
		{"categorical empty", Space{Parameters: []Parameter{{Name: "x", Type: Categorical}}}, []string{"spec.parameters[0].values"}},
		{"categorical duplicate", Space{Parameters: []Parameter{{Name: "x", Type: Categorical, Values: []string{"a", "b", "a"}}}}, []string{"spec.parameters[0].values[2]"}},
		{"categorical blank", Space{Parameters: []Parameter{{Name: "x", Type: Categorical, Values: []string{" "}}}}, []string{"spec.parameters[0].values[0]"}},
		{"categorical log", Space{Parameters: []Parameter{{Name: "x", Type: Categorical, Values: []string{"a"}, Log: true}}}, []string{"spec.parameters[0].log"}},
		{"discrete empty", Space{Parameters: []Parameter{{Name: "x", Type: Discrete}}}, []string{"spec.parameters[0].numbers"}},
		{"discrete duplicate", Space{Parameters: []Parameter{{Name: "x", Type: Discrete, Numbers: []float64{1, 2, 1}}}}, []string{"spec.parameters[0].numbers[2]"}},
		{"discrete NaN", Space{Parameters: []Parameter{{Name: "x", Type: Discrete, Numbers: []float64{math.NaN()}}}}, []string{"spec.parameters[0].numbers[0]"}},
		{"no type", Space{Parameters: []Parameter{{Name: "x"}}}, []string{"spec.parameters[0].type"}},
		{"unknown type", Space{Parameters: []Parameter{{Name: "x", Type: "float"}}}, []string{"spec.parameters[0].type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.space.Validate(field.NewPath("spec", "parameters"))
			if diff := cmp.Diff(tc.want, fields(errs)); diff != "" {
				t.Errorf("error fields (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			for _, e := range errs {
				if e.Detail == "" && e.Type != field.ErrorTypeDuplicate && e.Type != field.ErrorTypeNotSupported {
					t.Errorf("%s: no detail saying how to fix it", e.Field)
				}
			}
		})
	}
}

func TestEncodeCanonical(t *testing.T) {
	s := Space{Parameters: []Parameter{
		{Name: "lr", Type: Double, Min: 1e-5, Max: 1, Log: true},
		{Name: "layers", Type: Int, Min: 1, Max: 8},
		{Name: "opt", Type: Categorical, Values: []string{"adam", "sgd"}},
		{Name: "batch", Type: Discrete, Numbers: []float64{64, 16, 32}},
	}}
	got, err := s.Encode(Assignment{"lr": "1e-3", "layers": "4", "opt": "sgd", "batch": "32.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := Assignment{"lr": "0.001", "layers": "4", "opt": "sgd", "batch": "32"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("canonical (-want +got):\n%s", diff)
	}
	for _, bad := range []Assignment{
		{"lr": "2", "layers": "4", "opt": "sgd", "batch": "32"},     // out of range
		{"lr": "0.1", "layers": "4.5", "opt": "sgd", "batch": "32"}, // not an int
		{"lr": "0.1", "layers": "4", "opt": "rmsprop", "batch": "32"},
		{"lr": "0.1", "layers": "4", "opt": "sgd", "batch": "48"},
		{"lr": "0.1", "layers": "4", "opt": "sgd"},
	} {
		if _, err := s.Encode(bad); err == nil {
			t.Errorf("Encode(%v) accepted a point outside the space", bad)
		}
	}
	if _, err := (Space{}).Encode(Assignment{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Encode on an empty space: %v, want the empty-space error", err)
	}
}
