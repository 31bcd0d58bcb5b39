package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

const experimentYAML = `apiVersion: skiff.dev/v1alpha1
kind: Experiment
metadata: {name: sweep}
spec:
  parameters:
  - {name: lr, type: double, min: 0.0001, max: 0.1, log: true}
  - {name: optimizer, type: categorical, values: [adam, sgd]}
  objective: {metricName: val_loss, type: minimize}
  earlyStopping: {name: asha, settings: {maxResource: "27"}}
  parallelTrials: 2
  maxTrials: 10
  trialTemplate:
    replicaGroups:
    - name: worker
      template:
        command: [python3, train.py]
        args: ["--lr=${params.lr}"]
        env: [{name: OPTIMIZER, value: "${params.optimizer}"}]
`

func ptr(v float64) *float64 { return &v }

func TestExperimentGetAndDescribe(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "exp.yaml"), experimentYAML)
	if out := e.mustRun("apply", "-f", filepath.Join(dir, "exp.yaml")); out != "experiment.skiff.dev/sweep created\n" {
		t.Errorf("apply: %q", out)
	}
	out := e.mustRun("get", "experiments")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "sweep   tpe") || !strings.Contains(out, "0/10") {
		t.Errorf("get experiments before any trial:\n%s", out)
	}

	// What the controller will record: trials with parameters, states and
	// objectives, and the best one.
	ctx := t.Context()
	var exp v1alpha1.Experiment
	if err := e.store.Get(ctx, "default", "sweep", &exp); err != nil {
		t.Fatal(err)
	}
	exp.Status = v1alpha1.ExperimentStatus{
		Phase: v1alpha1.ExperimentRunning,
		Trials: []v1alpha1.TrialStatus{
			{Name: "sweep-0", Parameters: map[string]string{"lr": "0.01", "optimizer": "adam"}, State: v1alpha1.TrialSucceeded, Objective: ptr(0.31), Step: 27},
			{Name: "sweep-1", Parameters: map[string]string{"lr": "0.0003", "optimizer": "sgd"}, State: v1alpha1.TrialEarlyStopped, Objective: ptr(0.9), Step: 3, Reason: "asha"},
			{Name: "sweep-2", Parameters: map[string]string{"lr": "0.002", "optimizer": "adam"}, State: v1alpha1.TrialSucceeded, Objective: ptr(0.12), Step: 27},
			{Name: "sweep-3", Parameters: map[string]string{"lr": "0.05", "optimizer": "sgd"}, State: v1alpha1.TrialRunning},
		},
		BestTrial: "sweep-2",
	}
	if err := e.store.Update(ctx, &exp); err != nil {
		t.Fatal(err)
	}
	out = e.mustRun("get", "exp", "-o", "wide")
	for _, want := range []string{"Running", "4/10", "sweep-2=0.12", "minimize val_loss", "asha"} {
		if !strings.Contains(out, want) {
			t.Errorf("get exp -o wide lacks %q:\n%s", want, out)
		}
	}
	out = e.mustRun("describe", "experiment", "sweep")
	i := strings.Index(out, "Trials:")
	if i < 0 {
		t.Fatalf("describe has no Trials table:\n%s", out)
	}
	var order []string
	for _, line := range strings.Split(out[i:], "\n")[2:] {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "sweep-") {
			order = append(order, f[0])
		}
	}
	if got := strings.Join(order, ","); got != "sweep-2,sweep-0,sweep-1,sweep-3" {
		t.Errorf("trials in order %s, want best objective first (sweep-2,sweep-0,sweep-1,sweep-3):\n%s", got, out[i:])
	}
	for _, want := range []string{"VAL_LOSS", "lr", "optimizer", "sweep-2 (best)", "EarlyStopped", "0.0003"} {
		if !strings.Contains(out[i:], want) {
			t.Errorf("trials table lacks %q:\n%s", want, out[i:])
		}
	}
	if strings.Contains(out[:i], "parameters:\n      lr") {
		t.Errorf("trials printed twice (in Status too):\n%s", out)
	}
}

func TestExperimentBadPlaceholderStoresNothing(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "exp.yaml"), strings.Replace(experimentYAML, "${params.lr}", "${params.learning_rate}", 1))
	err := e.mustFail("apply", "-f", filepath.Join(dir, "exp.yaml"))
	for _, want := range []string{"spec.trialTemplate.replicaGroups[0].template.args[0]", "names no parameter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var l v1alpha1.ExperimentList
	if err := e.store.List(t.Context(), &l, store.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("%d experiments stored after a bad apply (%v)", len(l.Items), err)
	}
}
