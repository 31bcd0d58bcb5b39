package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// execute runs a command with args and returns what it printed on stdout
// and stderr together.
func execute(cmd *cobra.Command, args ...string) (string, error) {
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func runBenchTuning(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return execute(benchTuningCommand(), args...)
}

func TestBenchTuningJSON(t *testing.T) {
	table := filepath.Join(t.TempDir(), "tiny.csv")
	var b strings.Builder
	b.WriteString("opt,lr,seed0,seed1\n")
	for _, opt := range []string{"adam", "sgd", "rmsprop"} {
		for _, lr := range []string{"0.1", "0.01", "0.001", "0.0001"} {
			b.WriteString(opt + "," + lr + ",0.5,0.6\n")
		}
	}
	if err := os.WriteFile(table, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runBenchTuning(t, "--table", table, "--goal", "maximize", "--algorithms", "random,tpe/gamma=0.3", "--repeats", "3", "--budgets", "2,5", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc) != 1 || len(doc["results"]) != 4 {
		t.Fatalf("want {\"results\": [4 entries]}, got %s", out)
	}
	for _, r := range doc["results"] {
		var keys []string
		for k := range r {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"algorithm", "budget", "meanRegret", "medianRegret", "table"}; !slices.Equal(keys, want) {
			t.Errorf("keys %v, want %v", keys, want)
		}
		if r["table"] != "tiny" {
			t.Errorf("table %v, want tiny", r["table"])
		}
	}
}

func TestBenchTuningBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--goal", "maximize"}, "--table is required"},
		{[]string{"--table", "x.csv", "--goal", "up"}, "--goal"},
		{[]string{"--table", "x.csv", "--algorithms", "bayes"}, "bayes"},
		{[]string{"--table", "x.csv", "--algorithms", "tpe/gama=0.2"}, "settings[gama]"},
		{[]string{"--table", "x.csv", "--budgets", "50,x"}, "--budgets"},
		{[]string{"--table", "/nonexistent/x.csv"}, "no such file"},
	} {
		_, err := runBenchTuning(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestBenchEarlyStoppingJSON(t *testing.T) {
	out, err := runBenchTuning(t, "early-stopping", "--stoppers", "asha,median", "--trials", "9", "--max-steps", "9", "--repeats", "2", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var doc struct {
		Results []struct {
			Stopper        string  `json:"stopper"`
			BudgetFraction float64 `json:"budgetFraction"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(doc.Results) != 2 || doc.Results[0].Stopper != "asha/maxResource=9" || doc.Results[0].BudgetFraction <= 0 {
		t.Errorf("results %+v", doc.Results)
	}
	if _, err := runBenchTuning(t, "early-stopping", "--stoppers", "asha/maxResource=1"); err == nil || !strings.Contains(err.Error(), "settings[maxResource]") {
		t.Errorf("asha/maxResource=1: %v", err)
	}
}
