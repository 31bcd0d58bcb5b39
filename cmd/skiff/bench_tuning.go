package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/hpo"
	"skiff.dev/skiff/internal/hpo/benchmark"
)

func benchTuningCommand() *cobra.Command {
	var (
		tables               []string
		goal, algos, budgets string
		output               string
		repeats              int
		seed                 uint64
	)
	cmd := &cobra.Command{
		Use:   "tuning --table FILE.csv.gz --goal maximize|minimize",
		Short: "Score search algorithms on tabular hyperparameter benchmarks",
		Long: `Run each search algorithm --repeats times on a tabular benchmark (a CSV,
optionally gzipped: parameter columns, then one result column per training
seed named seed0, seed1, ...) and report the regret after each budget of
evaluations: the gap between the best configuration's seed-mean and the
seed-mean of the configuration the search would return (the best value it
observed; each evaluation observes one seed's value, drawn at random).

The search space is read from the table: numeric columns become ordered
discrete parameters, others categorical.

Example:
  skiff bench tuning --table ../shared/hpo/hpobench-australian.csv.gz \
    --goal maximize --algorithms random,tpe --repeats 100 --budgets 50,100,200 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(tables) == 0 {
				return fmt.Errorf("--table is required: give a CSV(.gz) table such as ../shared/hpo/nasbench201-cifar10.csv.gz")
			}
			g, ok := hpo.ParseGoal(goal)
			if !ok {
				return fmt.Errorf("--goal %q: use maximize or minimize", goal)
			}
			if output != "json" && output != "table" {
				return fmt.Errorf("-o %q: use json or table", output)
			}
			var algorithms []hpo.Algorithm
			for _, spec := range strings.Split(algos, ",") {
				a, err := parseAlgorithmSpec(strings.TrimSpace(spec), true)
				if err != nil {
					return err
				}
				algorithms = append(algorithms, a)
			}
			var bs []int
			for _, s := range strings.Split(budgets, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 1 {
					return fmt.Errorf("--budgets %q: give positive evaluation counts separated by commas, e.g. 50,100,200", budgets)
				}
				bs = append(bs, n)
			}
			cmd.SilenceUsage = true
			results := []benchmark.Result{}
			for _, path := range tables {
				t, err := benchmark.LoadTable(path)
				if err != nil {
					return err
				}
				rs, err := benchmark.RunTuning(t, benchmark.TuningOptions{
					Goal: g, Algorithms: algorithms, Repeats: repeats, Budgets: bs, Seed: seed,
				})
				if err != nil {
					return err
				}
				results = append(results, rs...)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"results": results})
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TABLE\tALGORITHM\tBUDGET\tMEAN REGRET\tMEDIAN REGRET")
			for _, r := range results {
				fmt.Fprintf(w, "%s\t%s\t%d\t%.6g\t%.6g\n", r.Table, r.Algorithm, r.Budget, r.MeanRegret, r.MedianRegret)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&tables, "table", nil, "tabular benchmark CSV(.gz); repeat for several tables with the same goal")
	f.StringVar(&goal, "goal", "maximize", "maximize or minimize the table's results")
	f.StringVar(&algos, "algorithms", "random,tpe", "comma-separated search algorithms: "+strings.Join(hpo.Algorithms, ", "))
	f.IntVar(&repeats, "repeats", 100, "independent searches per algorithm")
	f.StringVar(&budgets, "budgets", "50,100,200", "evaluation counts at which regret is reported")
	f.Uint64Var(&seed, "seed", 1, "seed of every search and seed draw")
	f.StringVarP(&output, "output", "o", "table", "json or table")
	cmd.AddCommand(benchEarlyStoppingCommand())
	return cmd
}

func benchEarlyStoppingCommand() *cobra.Command {
	var (
		stoppers, output string
		o                benchmark.CurveOptions
	)
	cmd := &cobra.Command{
		Use:   "early-stopping",
		Short: "Measure the training budget early stopping saves on synthetic learning curves",
		Long: `Run random search over synthetic learning curves (power laws of validation
accuracy with noise, whose final values are known; slow learners cross fast
ones) with each early-stopping rule, and report the fraction of the training
budget used (steps trained over trials x max steps), how many times less
that is than training every trial to the end, and how often the returned
trial is within 1% of the best one.

asha and hyperband take maxResource from --max-steps unless given.

Example:
  skiff bench tuning early-stopping --stoppers asha,hyperband,median --trials 81 \
    --max-steps 81 --parallel 4 --repeats 200 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "json" && output != "table" {
				return fmt.Errorf("-o %q: use json or table", output)
			}
			for _, spec := range strings.Split(stoppers, ",") {
				a, err := parseAlgorithmSpec(strings.TrimSpace(spec), false)
				if err != nil {
					return err
				}
				es := hpo.EarlyStopping(a)
				if (es.Name == hpo.StopASHA || es.Name == hpo.StopHyperband) && es.Settings["maxResource"] == "" {
					if es.Settings == nil {
						es.Settings = map[string]string{}
					}
					es.Settings["maxResource"] = strconv.Itoa(o.MaxSteps)
				}
				if err := hpo.ValidateEarlyStopping(es, field.NewPath("--stoppers").Key(spec)).ToAggregate(); err != nil {
					return fmt.Errorf("%w (rules: %s)", err, strings.Join(hpo.StopRules, ", "))
				}
				o.Stoppers = append(o.Stoppers, es)
			}
			cmd.SilenceUsage = true
			results, err := benchmark.RunCurves(o)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"results": results})
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "STOPPER\tTRIALS\tBUDGET USED\tSAVINGS\tWITHIN 1%\tFULL TRAINING WITHIN 1%\tMEAN GAP")
			for _, r := range results {
				fmt.Fprintf(w, "%s\t%d\t%.3f\t%.2fx\t%.2f\t%.2f\t%.4f\n", r.Stopper, r.Trials, r.BudgetFraction, r.Savings, r.WithinOnePercent, r.FullTrainingWithinOnePercent, r.MeanRelativeGap)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&stoppers, "stoppers", "asha,hyperband,median", "comma-separated rules, each NAME or NAME/key=value/...: "+strings.Join(hpo.StopRules, ", "))
	f.IntVar(&o.Trials, "trials", 81, "trials per search")
	f.IntVar(&o.Parallel, "parallel", 4, "trials running at once")
	f.IntVar(&o.MaxSteps, "max-steps", 81, "steps of a full trial")
	f.Float64Var(&o.Noise, "noise", 0.005, "standard deviation of each reported accuracy")
	f.IntVar(&o.Repeats, "repeats", 200, "independent searches per rule")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the curves and noise")
	f.StringVarP(&output, "output", "o", "table", "json or table")
	return cmd
}

// parseAlgorithmSpec reads NAME or NAME/key=value/key=value (e.g.
// tpe/gamma=0.2/candidates=64).
func parseAlgorithmSpec(spec string, validate bool) (hpo.Algorithm, error) {
	parts := strings.Split(spec, "/")
	a := hpo.Algorithm{Name: parts[0]}
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return a, fmt.Errorf("--algorithms %q: settings are key=value after the name, e.g. tpe/gamma=0.2", spec)
		}
		if a.Settings == nil {
			a.Settings = map[string]string{}
		}
		a.Settings[k] = v
	}
	if !validate {
		return a, nil
	}
	if err := hpo.ValidateAlgorithm(a, field.NewPath("--algorithms").Key(spec)).ToAggregate(); err != nil {
		return a, fmt.Errorf("%w (algorithms: %s)", err, strings.Join(hpo.Algorithms, ", "))
	}
	return a, nil
}
