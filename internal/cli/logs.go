package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/client"
)

func (a *app) logsCmd() *cobra.Command {
	var o client.LogOptions
	var attempt int32
	cmd := &cobra.Command{
		Use:   "logs job/NAME | NAME",
		Short: "Print the logs of a job's replica",
		Example: `  skiff logs job/train
  skiff logs -f job/train --replica worker-1
  skiff logs job/train --attempt 0`,
		Args: cobra.ExactArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string, out *bufio.Writer) error {
			name := args[0]
			if kind, n, ok := strings.Cut(name, "/"); ok {
				k, err := resolveKind(kind)
				if err != nil {
					return err
				}
				if k.Kind != "Job" {
					return &Error{Msg: fmt.Sprintf("logs are kept for jobs, not %s: use skiff logs job/NAME", k.Plural)}
				}
				name = n
			}
			if cmd.Flags().Changed("attempt") {
				o.Attempt = &attempt
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rc, err := c.Logs(ctx, a.ns(), name, o)
			if err != nil {
				return err
			}
			defer rc.Close()
			if err := copyFlushing(out, rc); err != nil && ctx.Err() == nil {
				return fmt.Errorf("the log stream broke off: %w", err)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.Replica, "replica", "", "replica as GROUP-INDEX, e.g. worker-1 (default: the first replica)")
	f.Int32Var(&attempt, "attempt", 0, "gang attempt to show (default: the current one)")
	f.BoolVarP(&o.Follow, "follow", "f", false, "keep printing output as it is written")
	return cmd
}
