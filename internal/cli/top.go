package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/client"
	"skiff.dev/skiff/internal/gpu"
)

func (a *app) topCmd() *cobra.Command {
	var (
		interval time.Duration
		once     bool
	)
	cmd := &cobra.Command{
		Use:   "top [--interval 2s] [--once]",
		Short: "Show GPU and queue usage, refreshed in place on a terminal",
		Long: `Show each GPU of the server's machine (utilization, memory, power, temperature
and the replica placed on it) and each queue's GPU usage against its quota.

On a terminal the view refreshes every --interval until Ctrl-C, with colors
(unless NO_COLOR is set); piped, it prints once without colors.`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string, out *bufio.Writer) error {
			if interval <= 0 {
				return &Error{Msg: fmt.Sprintf("--interval %s: use a positive duration such as 2s", interval)}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			tty := isTerminal(cmd.OutOrStdout())
			color := tty && os.Getenv("NO_COLOR") == ""
			for {
				rep, queues, err := readTop(cmd.Context(), c)
				if err != nil {
					return err
				}
				if tty && !once {
					fmt.Fprint(out, "\x1b[H\x1b[2J")
				}
				renderTop(out, rep, queues, color, a.now())
				if err := out.Flush(); err != nil {
					return err
				}
				if !tty || once {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(interval):
				}
			}
		}),
	}
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "refresh interval on a terminal")
	cmd.Flags().BoolVar(&once, "once", false, "print once and exit, also on a terminal")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func readTop(ctx context.Context, c *client.Client) (gpu.Report, []v1alpha1.Queue, error) {
	rep, err := c.GPUs(ctx)
	if err != nil {
		return rep, nil, err
	}
	var ql v1alpha1.QueueList
	if err := c.List(ctx, &ql, client.ListOptions{}); err != nil {
		return rep, nil, err
	}
	return rep, ql.Items, nil
}

// painter adds ANSI colors when enabled.
type painter bool

func (p painter) paint(code, s string) string {
	if !p {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p painter) bold(s string) string { return p.paint("1", s) }

// meter is a 10-cell bar for a fraction, colored by how full it is.
func (p painter) meter(frac float64) string {
	frac = max(0, min(1, frac))
	n := int(frac*10 + 0.5)
	bar := strings.Repeat("█", n) + strings.Repeat("░", 10-n)
	switch {
	case frac >= 0.9:
		return p.paint("31", bar)
	case frac >= 0.6:
		return p.paint("33", bar)
	}
	return p.paint("32", bar)
}

// renderTop writes the GPU and queue tables.
func renderTop(w io.Writer, rep gpu.Report, queues []v1alpha1.Queue, color bool, now time.Time) {
	p := painter(color)
	alloc := 0
	for _, g := range rep.GPUs {
		if g.Allocated {
			alloc++
		}
	}
	fmt.Fprintf(w, "%s  node %s · %d of %d GPUs allocated · %s\n", p.bold("GPUS"), rep.Node, alloc, len(rep.GPUs), now.Format("15:04:05"))
	if rep.Message != "" {
		fmt.Fprintf(w, "%s\n", p.paint("2", rep.Message))
	}
	if len(rep.GPUs) > 0 {
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "GPU\tMODEL\tUTIL\tMEMORY\tPOWER\tTEMP\tREPLICA")
		for _, g := range rep.GPUs {
			util, mem := "-", "-"
			if g.Utilization != nil {
				util = fmt.Sprintf("%s %3.0f%%", p.meter(*g.Utilization), *g.Utilization*100)
			}
			if g.MemoryUsedBytes != nil && g.MemoryTotalBytes != nil && *g.MemoryTotalBytes > 0 {
				mem = fmt.Sprintf("%s %.1f/%.1f GiB", p.meter(*g.MemoryUsedBytes / *g.MemoryTotalBytes), *g.MemoryUsedBytes/(1<<30), *g.MemoryTotalBytes/(1<<30))
			}
			power, temp := "-", "-"
			if g.PowerWatts != nil {
				power = fmt.Sprintf("%.0fW", *g.PowerWatts)
			}
			if g.TemperatureCelsius != nil {
				temp = fmt.Sprintf("%.0f°C", *g.TemperatureCelsius)
			}
			owner := "free"
			switch {
			case g.Replica != "":
				owner = g.Namespace + "/" + g.Replica
			case g.Allocated:
				owner = "allocated"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Index, orNone(g.Model), util, mem, power, temp, owner)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n%s\n", p.bold("QUEUES"))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tFLAVOR\tGPU USAGE\tBORROWED\tPENDING\tADMITTED")
	for _, q := range queues {
		usage := map[string]v1alpha1.FlavorUsage{}
		for _, u := range q.Status.Usage {
			usage[u.Name] = u
		}
		for _, f := range q.Spec.Flavors {
			for _, r := range f.Resources {
				if r.Name != v1alpha1.ResourceGPU {
					continue
				}
				u := usage[f.Name]
				used, borrowed := u.Resources[v1alpha1.ResourceGPU], u.Borrowed[v1alpha1.ResourceGPU]
				nominal := r.NominalQuota.AsApproximateFloat64()
				frac := 0.0
				if nominal > 0 {
					frac = used.AsApproximateFloat64() / nominal
				}
				fmt.Fprintf(tw, "%s\t%s\t%s %s/%s\t%s\t%d\t%d\n", q.Name, f.Name, p.meter(frac), qty(used), qty(r.NominalQuota),
					qty(borrowed), q.Status.PendingJobs, q.Status.AdmittedJobs)
			}
		}
	}
	tw.Flush()
}

func qty(q resource.Quantity) string {
	if q.IsZero() {
		return "0"
	}
	return q.String()
}
