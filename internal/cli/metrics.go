package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
)

func (a *app) metricsCmd() *cobra.Command {
	var o client.MetricsOptions
	var output string
	cmd := &cobra.Command{
		Use:   "metrics job/NAME | NAME",
		Short: "Print the metrics a job reported (loss curves, progress)",
		Long: `Print the metric points a job's replicas reported, by POSTing to $SKIFF_API or
by printing lines "skiff:metric NAME=VALUE [NAME=VALUE...] step=N".

-o json prints a JSON array of {"name", "step", "value", "time"} points.`,
		Example: `  skiff metrics job/train
  skiff metrics job/train --name loss -o json
  skiff metrics job/train --latest`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			name, err := jobArg(args[0], "metrics")
			if err != nil {
				return err
			}
			switch output {
			case "", "table", "json":
			default:
				return &Error{Msg: fmt.Sprintf("unknown output format %q: use -o table or -o json", output)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			pts, err := c.Metrics(cmd.Context(), a.ns(), name, o)
			if err != nil {
				return err
			}
			if output == "json" {
				b, err := json.MarshalIndent(pts, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			if len(pts) == 0 {
				fmt.Fprintf(a.stderr, "No metrics reported by job %s yet.\n", name)
				return nil
			}
			return metricsTable(out, pts, a.now())
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "output format: table (default) or json")
	f.StringVar(&o.Name, "name", "", "only this metric, e.g. loss")
	f.BoolVar(&o.Latest, "latest", false, "only each metric's point with the highest step")
	return cmd
}

// jobArg reads "job/NAME" or "NAME" for a command that works on jobs.
func jobArg(arg, what string) (string, error) {
	kind, n, ok := strings.Cut(arg, "/")
	if !ok {
		return arg, nil
	}
	k, err := resolveKind(kind)
	if err != nil {
		return "", err
	}
	if k.Kind != "Job" {
		return "", &Error{Msg: fmt.Sprintf("%s are kept for jobs, not %s: use skiff %s job/NAME", what, k.Plural, what)}
	}
	return n, nil
}

func metricsTable(out *bufio.Writer, pts []v1alpha1.MetricPoint, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTEP\tVALUE\tAGE")
	for _, p := range pts {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.Name, p.Step, strconv.FormatFloat(p.Value, 'g', 6, 64), age(now, metav1.NewTime(p.Time)))
	}
	return tw.Flush()
}
