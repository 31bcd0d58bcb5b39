package cli

import (
	"bufio"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

func init() {
	tables["Experiment"] = table{
		headers: []string{"NAME", "ALGORITHM", "PHASE", "TRIALS", "RUNNING", "BEST", "AGE"},
		wide:    []string{"OBJECTIVE", "EARLY STOPPING", "REASON"},
		fields: fields("spec.algorithm.name", "spec.maxTrials", "spec.objective.metricName", "spec.objective.type",
			"spec.earlyStopping.name", "status.phase", "status.trials", "status.bestTrial", "status.reason"),
		cells: func(v values, now time.Time) ([]string, []string) {
			var trials []v1alpha1.TrialStatus
			v.into("status.trials", &trials)
			running, best := 0, "<none>"
			for _, t := range trials {
				if t.State == v1alpha1.TrialRunning || t.State == v1alpha1.TrialPending {
					running++
				}
				if t.Name == v.str("status.bestTrial") && t.Objective != nil {
					best = t.Name + "=" + formatObjective(*t.Objective)
				}
			}
			return []string{v.str("metadata.name"), orNone(v.str("spec.algorithm.name")), orNone(v.str("status.phase")),
					fmt.Sprintf("%d/%d", len(trials), v.sum("spec.maxTrials")), strconv.Itoa(running), best, created(v, now)},
				[]string{strings.TrimSpace(v.str("spec.objective.type") + " " + v.str("spec.objective.metricName")),
					orNone(v.str("spec.earlyStopping.name")), orNone(v.str("status.reason"))}
		},
	}
}

func formatObjective(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// sortTrials orders trials best objective first (by the objective's
// type); trials without an objective follow in the order they ran.
func sortTrials(trials []v1alpha1.TrialStatus, objectiveType string) []v1alpha1.TrialStatus {
	out := append([]v1alpha1.TrialStatus(nil), trials...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Objective, out[j].Objective
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case objectiveType == v1alpha1.Maximize:
			return *a > *b
		default:
			return *a < *b
		}
	})
	return out
}

// writeTrials prints an experiment's trials as a table, best first, one
// column per parameter in the order the spec declares them.
func writeTrials(out *bufio.Writer, exp *v1alpha1.Experiment) error {
	out.WriteString("Trials:")
	if len(exp.Status.Trials) == 0 {
		out.WriteString(" <none>\n")
		return nil
	}
	out.WriteString("\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	header := []string{"NAME", "STATE", strings.ToUpper(orNone(exp.Spec.Objective.MetricName)), "STEP"}
	for _, p := range exp.Spec.Parameters {
		header = append(header, p.Name)
	}
	header = append(header, "REASON")
	fmt.Fprintln(tw, "  "+strings.Join(header, "\t"))
	for _, t := range sortTrials(exp.Status.Trials, exp.Spec.Objective.Type) {
		obj, step := "<none>", "-"
		if t.Objective != nil {
			obj = formatObjective(*t.Objective)
			step = strconv.FormatInt(t.Step, 10)
		}
		name := t.Name
		if t.Name == exp.Status.BestTrial {
			name += " (best)"
		}
		row := []string{name, string(t.State), obj, step}
		for _, p := range exp.Spec.Parameters {
			row = append(row, orNone(t.Parameters[p.Name]))
		}
		row = append(row, orNone(t.Reason))
		fmt.Fprintln(tw, "  "+strings.Join(row, "\t"))
	}
	return tw.Flush()
}
