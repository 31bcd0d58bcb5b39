package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/internal/client"
	"skiff.dev/skiff/internal/reqlog"
)

func (a *app) requestsCmd() *cobra.Command {
	var output, model, service string
	var since time.Duration
	var all, summary bool
	var limit int
	cmd := &cobra.Command{
		Use:   "requests [-n NS | -A] [--model M] [--service S] [--since D] [--summary] [-o json]",
		Short: "Show the gateway's request log: tokens, latency and status of each inference request",
		Long: `Show the requests the OpenAI-compatible gateway answered, newest first: when,
which key (token id), model, replica, tokens in and out, time to first token,
latency and status. --summary sums tokens and requests per namespace and model.

A cluster-admin sees every namespace with -A; any other token sees the
requests to its own namespace's services. Prompts are kept (and shown with
-o json) only for services with spec.logPrompts: true.`,
		Example: `  skiff requests
  skiff requests -A --since 1h --summary
  skiff requests -n team-a --model llama -o json`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			switch output {
			case "", "table", "json":
			default:
				return &Error{Msg: fmt.Sprintf("unknown output format %q: use -o table or -o json", output)}
			}
			if all && a.namespace != "" {
				return &Error{Msg: "-A and -n select namespaces both: use one of them"}
			}
			q := client.RequestsQuery{Model: model, Service: service, Limit: limit}
			if !all {
				q.Namespace = a.ns()
			}
			if cmd.Flags().Changed("since") {
				if since <= 0 {
					return &Error{Msg: fmt.Sprintf("--since %s: use a positive duration such as 1h", since)}
				}
				q.Since = a.now().Add(-since)
			}
			if limit < 0 || limit > reqlog.MaxQueryLimit {
				return &Error{Msg: fmt.Sprintf("--limit %d: use 1 to %d", limit, reqlog.MaxQueryLimit)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if summary {
				sum, err := c.RequestSummary(cmd.Context(), q)
				if err != nil {
					return err
				}
				if output == "json" {
					return writeIndented(out, map[string]any{"kind": "RequestSummaryList", "items": sum})
				}
				return requestSummaryTable(out, sum)
			}
			es, err := c.Requests(cmd.Context(), q)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeIndented(out, map[string]any{"kind": "RequestList", "items": es})
			}
			if len(es) == 0 {
				fmt.Fprintln(a.stderr, "No requests recorded.")
				return nil
			}
			return requestsTable(out, es, all, a.now())
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "output format: table (default) or json")
	f.BoolVarP(&all, "all-namespaces", "A", false, "every namespace (cluster-admins)")
	f.StringVar(&model, "model", "", "only requests for this model")
	f.StringVar(&service, "service", "", "only requests to this InferenceService")
	f.DurationVar(&since, "since", 0, "only requests newer than this, e.g. 1h")
	f.BoolVar(&summary, "summary", false, "sum requests and tokens per namespace and model")
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("the newest N requests (default %d)", reqlog.DefaultQueryLimit))
	return cmd
}

func writeIndented(out *bufio.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ms prints seconds as milliseconds; "-" for none.
func ms(s float64) string {
	if s <= 0 {
		return "-"
	}
	return strconv.FormatFloat(s*1000, 'f', 0, 64) + "ms"
}

func requestsTable(out *bufio.Writer, es []reqlog.Entry, withNS bool, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	if withNS {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "AGE\tKEY\tMODEL\tREPLICA\tSTREAM\tSTATUS\tTOKENS IN\tTOKENS OUT\tTTFT\tLATENCY")
	for _, e := range es {
		if withNS {
			fmt.Fprintf(tw, "%s\t", orNone(e.Namespace))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%d\t%d\t%d\t%s\t%s\n", age(now, metav1.NewTime(e.Time)), e.Key, orNone(e.Model), orNone(e.Replica),
			e.Stream, e.Status, e.PromptTokens, e.CompletionTokens, ms(e.TTFTSeconds), ms(e.LatencySeconds))
	}
	return tw.Flush()
}

func requestSummaryTable(out *bufio.Writer, sum []reqlog.Summary) error {
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tMODEL\tREQUESTS\tERRORS\tTOKENS IN\tTOKENS OUT\tTOTAL TOKENS\tMEAN TTFT\tMEAN LATENCY")
	for _, s := range sum {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", orNone(s.Namespace), orNone(s.Model), s.Requests, s.Errors,
			s.PromptTokens, s.CompletionTokens, s.TotalTokens, ms(s.MeanTTFTSeconds), ms(s.MeanLatencySeconds))
	}
	return tw.Flush()
}
