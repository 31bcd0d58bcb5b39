package v1alpha1_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
)

func loadExperiment(t *testing.T) *v1alpha1.Experiment {
	t.Helper()
	data, err := os.ReadFile("testdata/experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := v1alpha1.Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	exp, ok := obj.(*v1alpha1.Experiment)
	if !ok {
		t.Fatalf("got %T, want *Experiment", obj)
	}
	v1alpha1.Default(exp)
	return exp
}

func TestDecodeExampleExperiment(t *testing.T) {
	exp := loadExperiment(t)
	if err := v1alpha1.Validate(exp); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if exp.Namespace != "default" || *exp.Spec.MaxFailedTrials != 3 || exp.Spec.TrialTemplate.Queue != "default" ||
		exp.Spec.TrialTemplate.ReplicaGroups[0].Replicas != 1 || *exp.Spec.Algorithm.Seed != 7 {
		t.Errorf("defaults not applied: %+v", exp.Spec)
	}
	space, errs := exp.Spec.SearchSpace(nil)
	if len(errs) > 0 || len(space.Parameters) != 4 || space.Parameters[3].Numbers[2] != 64 {
		t.Errorf("search space %+v, errors %v", space, errs)
	}
	spec := exp.Spec.TrialJobSpec(map[string]string{"lr": "0.001", "layers": "2", "optimizer": "sgd", "batch": "32"})
	tmpl := spec.ReplicaGroups[0].Template
	if diff := cmp.Diff([]string{"--lr=0.001", "--layers", "2", "--batch=32"}, tmpl.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if tmpl.Env[0].Value != "sgd" {
		t.Errorf("env %v, want OPTIMIZER=sgd", tmpl.Env)
	}
	if exp.Spec.TrialTemplate.ReplicaGroups[0].Template.Args[0] != "--lr=${params.lr}" {
		t.Error("TrialJobSpec modified the template")
	}
	// An Experiment is a kind like the others.
	k, ok := v1alpha1.LookupKind("exp")
	if !ok || k.Kind != "Experiment" || !k.Namespaced {
		t.Errorf("LookupKind(exp) = %+v, %v", k, ok)
	}
}

func TestExperimentBadInput(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*v1alpha1.Experiment)
		field string // the field path the error must name
		fix   string // and a word of the fix
	}{
		{"empty space", func(e *v1alpha1.Experiment) {
			e.Spec.Parameters = nil
			e.Spec.TrialTemplate.ReplicaGroups[0].Template.Args = nil
			e.Spec.TrialTemplate.ReplicaGroups[0].Template.Env = nil
		}, "spec.parameters", "at least one parameter"},
		{"min above max", func(e *v1alpha1.Experiment) {
			v := 1.0
			e.Spec.Parameters[0].Max = &v
			w := 2.0
			e.Spec.Parameters[0].Min = &w
		}, "spec.parameters[0].max", "greater than min"},
		{"log with zero bound", func(e *v1alpha1.Experiment) { v := 0.0; e.Spec.Parameters[0].Min = &v }, "spec.parameters[0].min", "min > 0"},
		{"missing max", func(e *v1alpha1.Experiment) { e.Spec.Parameters[1].Max = nil }, "spec.parameters[1].max", "min and max"},
		{"min on a categorical", func(e *v1alpha1.Experiment) { v := 1.0; e.Spec.Parameters[2].Min = &v }, "spec.parameters[2].min", "values"},
		{"duplicate value", func(e *v1alpha1.Experiment) { e.Spec.Parameters[2].Values = []string{"adam", "adam"} }, "spec.parameters[2].values[1]", "Duplicate"},
		{"unknown placeholder in args", func(e *v1alpha1.Experiment) {
			e.Spec.TrialTemplate.ReplicaGroups[0].Template.Args[0] = "--lr=${params.learning_rate}"
		}, "spec.trialTemplate.replicaGroups[0].template.args[0]", "names no parameter"},
		{"unknown placeholder in env", func(e *v1alpha1.Experiment) {
			e.Spec.TrialTemplate.ReplicaGroups[0].Template.Env[0].Value = "${params.opt}"
		}, "spec.trialTemplate.replicaGroups[0].template.env[0].value", "batch, layers, lr, optimizer"},
		{"malformed placeholder", func(e *v1alpha1.Experiment) { e.Spec.TrialTemplate.ReplicaGroups[0].Template.Args[1] = "${lr}" }, "spec.trialTemplate.replicaGroups[0].template.args[1]", "${params.NAME}"},
		{"unclosed placeholder", func(e *v1alpha1.Experiment) { e.Spec.TrialTemplate.ReplicaGroups[0].Template.Args[1] = "${params.lr" }, "spec.trialTemplate.replicaGroups[0].template.args[1]", "unclosed"},
		{"placeholder in command", func(e *v1alpha1.Experiment) {
			e.Spec.TrialTemplate.ReplicaGroups[0].Template.Command[1] = "${params.lr}"
		}, "spec.trialTemplate.replicaGroups[0].template.command[1]", "args"},
		{"no metric", func(e *v1alpha1.Experiment) { e.Spec.Objective.MetricName = "" }, "spec.objective.metricName", "skiff:metric"},
		{"bad objective type", func(e *v1alpha1.Experiment) { e.Spec.Objective.Type = "lower" }, "spec.objective.type", "minimize"},
		{"unknown algorithm", func(e *v1alpha1.Experiment) { e.Spec.Algorithm.Name = "bayesopt" }, "spec.algorithm.name", "tpe"},
		{"misspelt setting", func(e *v1alpha1.Experiment) { e.Spec.Algorithm.Settings = map[string]string{"gama": "0.2"} }, "spec.algorithm.settings[gama]", "unknown setting"},
		{"asha without maxResource", func(e *v1alpha1.Experiment) { e.Spec.EarlyStopping.Settings = nil }, "spec.earlyStopping.settings[maxResource]", "step"},
		{"unknown stopping rule", func(e *v1alpha1.Experiment) { e.Spec.EarlyStopping.Name = "pbt" }, "spec.earlyStopping.name", "asha"},
		{"no maxTrials", func(e *v1alpha1.Experiment) { e.Spec.MaxTrials = 0 }, "spec.maxTrials", "required"},
		{"parallel above max", func(e *v1alpha1.Experiment) { e.Spec.ParallelTrials = 20 }, "spec.parallelTrials", "maxTrials"},
		{"negative maxFailedTrials", func(e *v1alpha1.Experiment) { n := int32(-1); e.Spec.MaxFailedTrials = &n }, "spec.maxFailedTrials", "0 or more"},
		{"bad template", func(e *v1alpha1.Experiment) { e.Spec.TrialTemplate.ReplicaGroups[0].Template.Command = nil }, "spec.trialTemplate.replicaGroups[0].template.command", ""},
		{"duplicate parameter name", func(e *v1alpha1.Experiment) { e.Spec.Parameters[1].Name = e.Spec.Parameters[0].Name }, "spec.parameters[1].name", "give each parameter its own name"},
		{"name too long for its trials", func(e *v1alpha1.Experiment) { e.Name = strings.Repeat("e", 62); e.Spec.MaxTrials = 100 }, "metadata.name", "trial jobs are named <name>-99"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := loadExperiment(t)
			tc.edit(exp)
			err := v1alpha1.Validate(exp)
			if err == nil {
				t.Fatal("accepted")
			}
			var found bool
			for _, e := range v1alpha1.ValidateFields(exp) {
				if e.Field == tc.field && strings.Contains(e.Error(), tc.fix) {
					found = true
				}
			}
			if !found || !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.fix) {
				t.Errorf("error %q does not name %s with %q", err, tc.field, tc.fix)
			}
		})
	}
}

func TestDecodeExperimentStrict(t *testing.T) {
	doc := "apiVersion: skiff.dev/v1alpha1\nkind: Experiment\nmetadata: {name: x}\nspec:\n  parameters:\n  - {name: lr, type: double, min: low, max: 1}\n  maxTrial: 3\n"
	_, err := v1alpha1.Decode([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "spec.parameters[0].min: must be a number") || !strings.Contains(err.Error(), "spec.maxTrial: unknown field") {
		t.Errorf("Decode error = %v", err)
	}
}
