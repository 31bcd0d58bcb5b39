// Package sweep_test checks the hyperparameter-search example: the
// manifest is a valid Experiment whose placeholders name its parameters,
// and train.py reports val_loss once per epoch, deterministically, with a
// tuned configuration clearly better than the defaults.
package sweep_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestManifestIsAValidExperiment(t *testing.T) {
	b, err := os.ReadFile("experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := v1alpha1.Decode([]byte(strings.ReplaceAll(string(b), "@REPO@", "/repo")))
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := obj.(*v1alpha1.Experiment)
	if !ok {
		t.Fatalf("decoded a %T, want an Experiment", obj)
	}
	v1alpha1.Default(exp)
	if err := v1alpha1.Validate(exp); err != nil {
		t.Fatal(err)
	}
	args := exp.Spec.TrialJobSpec(map[string]string{"lr": "0.1", "batch": "32", "momentum": "0.9", "hidden": "12", "wd": "0.001"}).ReplicaGroups[0].Template.Args
	if s := strings.Join(args, " "); strings.Contains(s, "${") || !strings.Contains(s, "--lr 0.1") || !strings.Contains(s, "--batch-size 32") {
		t.Fatalf("filled args %q", s)
	}
}

var metricLine = regexp.MustCompile(`^skiff:metric val_loss=(\S+) val_acc=(\S+) step=(\d+)$`)

// train runs train.py and returns val_loss by epoch.
func train(t *testing.T, args ...string) []float64 {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	out, err := exec.Command(py, append([]string{"train.py"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("train.py %v: %v\n%s", args, err, out)
	}
	var losses []float64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := metricLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if step, _ := strconv.Atoi(m[3]); step != len(losses)+1 {
			t.Fatalf("step %d after %d reports", step, len(losses))
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, v)
	}
	return losses
}

func TestTrainReportsEachEpochAndTuningHelps(t *testing.T) {
	defaults := train(t, "--epochs", "10")
	if len(defaults) != 10 {
		t.Fatalf("%d reports for 10 epochs", len(defaults))
	}
	again := train(t, "--epochs", "10")
	for i := range defaults {
		if defaults[i] != again[i] {
			t.Fatalf("epoch %d: %v then %v; the same configuration must give the same numbers", i+1, defaults[i], again[i])
		}
	}
	tuned := train(t, "--epochs", "10", "--lr", "0.3", "--momentum", "0.8", "--hidden", "12", "--batch-size", "32")
	if last, base := tuned[len(tuned)-1], defaults[len(defaults)-1]; last > base-0.2 {
		t.Fatalf("tuned val_loss %v is not clearly below the defaults' %v", last, base)
	}
}
