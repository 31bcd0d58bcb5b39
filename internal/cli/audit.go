package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/audit"
	"skiff.dev/skiff/internal/client"
)

func (a *app) auditCmd() *cobra.Command {
	var output string
	var q client.AuditQuery
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "audit [-o json] [--user U] [--since D]",
		Short: "Show the audit log: who did what to which object, allowed or denied",
		Example: `  skiff audit --since 1h
  skiff audit --user alice -o json`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			if output != "" && output != "json" {
				return &Error{Msg: fmt.Sprintf("-o %s: use json, or leave it out for a table", output)}
			}
			if cmd.Flags().Changed("since") {
				if since <= 0 {
					return &Error{Msg: fmt.Sprintf("--since %s: use a positive duration such as 1h", since)}
				}
				q.Since = a.now().Add(-since)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			events, err := c.Audit(cmd.Context(), q)
			if err != nil {
				return err
			}
			if events == nil {
				events = []audit.Event{}
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"kind": "AuditList", "items": events})
			}
			tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tUSER\tVERB\tKIND\tNAMESPACE\tNAME\tALLOWED\tCODE")
			for _, e := range events {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.Time.UTC().Format(time.RFC3339), e.User, e.Verb,
					orNone(e.Kind), orNone(e.Namespace), orNone(e.Name), strconv.FormatBool(e.Allowed), e.Code)
			}
			return tw.Flush()
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "json")
	f.StringVar(&q.User, "user", "", "only this user's requests")
	f.DurationVar(&since, "since", 0, "only requests newer than this, e.g. 1h")
	f.IntVar(&q.Limit, "limit", 0, "only the newest N events")
	return cmd
}
