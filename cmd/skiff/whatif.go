package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/cli"
	"skiff.dev/skiff/internal/client"
	"skiff.dev/skiff/internal/sim"
)

// whatIfClock is the present a projection starts from (tests fix it).
var whatIfClock = time.Now

// whatIfFlags are the --from-cluster options.
type whatIfFlags struct {
	quota          []string
	defaultRuntime time.Duration
	output         string
}

// whatIfJob is one pending job of the report. ProjectedStartWithChange is
// present only with --quota (null there: never starts under the change).
type whatIfJob struct {
	Namespace                string    `json:"namespace"`
	Name                     string    `json:"name"`
	Queue                    string    `json:"queue"`
	ProjectedStart           *string   `json:"projectedStart"`
	ProjectedStartWithChange any       `json:"projectedStartWithChange,omitempty"`
	WaitSeconds              *float64  `json:"waitSeconds"`
	WaitSecondsWithChange    any       `json:"waitSecondsWithChange,omitempty"`
	RuntimeSeconds           float64   `json:"runtimeSeconds"`
	RuntimeFrom              string    `json:"runtimeFrom"`
	Waiting                  string    `json:"waiting,omitempty"`
	start, startWith         time.Time // zero: never
}

// whatIfRunning is a job that holds resources now.
type whatIfRunning struct {
	Namespace   string  `json:"namespace"`
	Name        string  `json:"name"`
	Queue       string  `json:"queue"`
	Started     string  `json:"started"`
	ExpectedEnd string  `json:"expectedEnd"`
	RuntimeFrom string  `json:"runtimeFrom"`
	Overdue     bool    `json:"overdue,omitempty"`
	Runtime     float64 `json:"runtimeSeconds"`
}

type whatIfReport struct {
	Now                   string          `json:"now"`
	DefaultRuntimeSeconds float64         `json:"defaultRuntimeSeconds"`
	QuotaChanges          []string        `json:"quotaChanges,omitempty"`
	Jobs                  []whatIfJob     `json:"jobs"`
	Running               []whatIfRunning `json:"running"`
	// AssumedRuntime lists namespace/name of the jobs that state no
	// estimate or deadline and were given the default runtime.
	AssumedRuntime []string `json:"assumedRuntime"`
}

// runWhatIf is `skiff sim --from-cluster`.
func runWhatIf(cmd *cobra.Command, f whatIfFlags) error {
	if f.output != "json" && f.output != "table" {
		return fmt.Errorf("-o %q: --from-cluster prints json or table", f.output)
	}
	if f.defaultRuntime <= 0 {
		return fmt.Errorf("--default-runtime %s: give a positive duration (e.g. 1h), the runtime assumed for jobs without runPolicy.estimatedSeconds or activeDeadlineSeconds", f.defaultRuntime)
	}
	var changes []sim.QuotaChange
	for _, q := range f.quota {
		ch, err := sim.ParseQuotaChange(q)
		if err != nil {
			return fmt.Errorf("--quota %w", err)
		}
		changes = append(changes, ch)
	}
	c, err := cli.Connect(cmd)
	if err != nil {
		return err
	}
	live, err := readLive(cmd.Context(), c)
	if err != nil {
		return cli.Explain(cmd, err)
	}
	var changed []*v1alpha1.Queue
	if len(changes) > 0 {
		if changed, err = sim.ApplyQuota(live.Queues, live.Flavors, changes); err != nil {
			return fmt.Errorf("--quota %w", err)
		}
	}
	opt := sim.ProjectOptions{Now: whatIfClock().UTC().Truncate(time.Second), DefaultRuntime: f.defaultRuntime}
	base, err := sim.Project(live, opt)
	if err != nil {
		return err
	}
	rep := whatIfReport{Now: opt.Now.Format(time.RFC3339), DefaultRuntimeSeconds: f.defaultRuntime.Seconds(),
		Jobs: []whatIfJob{}, Running: []whatIfRunning{}, AssumedRuntime: []string{}}
	var with map[string]sim.Projected
	if len(changes) > 0 {
		for _, ch := range changes {
			rep.QuotaChanges = append(rep.QuotaChanges, ch.String())
		}
		alt := live
		alt.Queues = changed
		projected, err := sim.Project(alt, opt)
		if err != nil {
			return fmt.Errorf("with the quota change: %w", err)
		}
		with = map[string]sim.Projected{}
		for _, p := range projected {
			with[p.Namespace+"/"+p.Name] = p
		}
	}
	for _, p := range base {
		if p.RuntimeFrom == sim.RuntimeAssumed {
			rep.AssumedRuntime = append(rep.AssumedRuntime, p.Namespace+"/"+p.Name)
		}
		if !p.Pending {
			rep.Running = append(rep.Running, whatIfRunning{Namespace: p.Namespace, Name: p.Name, Queue: p.Queue,
				Started: p.Start.Format(time.RFC3339), ExpectedEnd: p.End.Format(time.RFC3339),
				RuntimeFrom: p.RuntimeFrom, Overdue: p.Overdue, Runtime: p.Runtime.Seconds()})
			continue
		}
		j := whatIfJob{Namespace: p.Namespace, Name: p.Name, Queue: p.Queue, RuntimeSeconds: p.Runtime.Seconds(),
			RuntimeFrom: p.RuntimeFrom, Waiting: p.Waiting}
		if p.Start != nil {
			j.start = *p.Start
			s, w := p.Start.Format(time.RFC3339), p.Start.Sub(opt.Now).Seconds()
			j.ProjectedStart, j.WaitSeconds = &s, &w
		}
		if with != nil {
			j.ProjectedStartWithChange, j.WaitSecondsWithChange = json.RawMessage("null"), json.RawMessage("null")
			if q, ok := with[p.Namespace+"/"+p.Name]; ok && q.Start != nil {
				j.startWith = *q.Start
				j.ProjectedStartWithChange = q.Start.Format(time.RFC3339)
				j.WaitSecondsWithChange = q.Start.Sub(opt.Now).Seconds()
			}
		}
		rep.Jobs = append(rep.Jobs, j)
	}
	out := cmd.OutOrStdout()
	if f.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return whatIfTable(out, &rep, opt.Now, f.defaultRuntime, with != nil)
}

// readLive lists what the projection needs from the server.
func readLive(ctx context.Context, c *client.Client) (sim.Live, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var (
		live    sim.Live
		nodes   v1alpha1.NodeList
		flavors v1alpha1.FlavorList
		queues  v1alpha1.QueueList
		jobs    v1alpha1.JobList
	)
	for _, l := range []v1alpha1.ObjectList{&nodes, &flavors, &queues, &jobs} {
		if err := c.List(ctx, l, client.ListOptions{}); err != nil {
			return live, fmt.Errorf("read the cluster: %w", err)
		}
	}
	for i := range nodes.Items {
		live.Nodes = append(live.Nodes, &nodes.Items[i])
	}
	for i := range flavors.Items {
		live.Flavors = append(live.Flavors, &flavors.Items[i])
	}
	for i := range queues.Items {
		live.Queues = append(live.Queues, &queues.Items[i])
	}
	for i := range jobs.Items {
		live.Jobs = append(live.Jobs, &jobs.Items[i])
	}
	return live, nil
}

func whatIfTable(w io.Writer, rep *whatIfReport, now time.Time, def time.Duration, change bool) error {
	fmt.Fprintf(w, "Projection from %s through the scheduler core.\n", rep.Now)
	if change {
		fmt.Fprintf(w, "Proposed quota: %s\n", strings.Join(rep.QuotaChanges, ", "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "NAMESPACE\tNAME\tQUEUE\tRUNTIME\tPROJECTED START\tWAIT"
	if change {
		head += "\tWITH CHANGE\tWAIT\tDIFFERENCE"
	}
	fmt.Fprintln(tw, head)
	assumed := false
	for _, j := range rep.Jobs {
		rt := shortDuration(time.Duration(j.RuntimeSeconds * float64(time.Second)))
		if j.RuntimeFrom == sim.RuntimeAssumed {
			rt += "*"
			assumed = true
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", j.Namespace, j.Name, j.Queue, rt, clock(j.start), wait(j.start, now))
		if change {
			diff := "-"
			switch {
			case !j.start.IsZero() && !j.startWith.IsZero():
				if d := j.startWith.Sub(j.start); d == 0 {
					diff = "same"
				} else if d < 0 {
					diff = shortDuration(-d) + " earlier"
				} else {
					diff = shortDuration(d) + " later"
				}
			case j.start.IsZero() && !j.startWith.IsZero():
				diff = "starts"
			case !j.start.IsZero() && j.startWith.IsZero():
				diff = "never starts"
			}
			row += fmt.Sprintf("\t%s\t%s\t%s", clock(j.startWith), wait(j.startWith, now), diff)
		}
		fmt.Fprintln(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Jobs) == 0 {
		fmt.Fprintln(w, "No pending jobs.")
	}
	for _, j := range rep.Jobs {
		if j.start.IsZero() && j.Waiting != "" {
			fmt.Fprintf(w, "%s/%s never starts: %s\n", j.Namespace, j.Name, j.Waiting)
		}
	}
	if len(rep.Running) > 0 {
		fmt.Fprintln(w, "\nRunning now (they end at start + runtime: estimatedSeconds, else activeDeadlineSeconds, else assumed):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tQUEUE\tSTARTED\tRUNTIME\tEXPECTED END")
		for _, r := range rep.Running {
			rt := shortDuration(time.Duration(r.Runtime * float64(time.Second)))
			if r.RuntimeFrom == sim.RuntimeAssumed {
				rt += "*"
				assumed = true
			}
			end := r.ExpectedEnd
			if r.Overdue {
				end += " (overdue: assumed now)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, r.Queue, r.Started, rt, end)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if assumed {
		fmt.Fprintf(w, "\n* no estimate or deadline: assumed to run %s (--default-runtime): %s\n", shortDuration(def), strings.Join(rep.AssumedRuntime, ", "))
	}
	return nil
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

func wait(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if !t.After(now) {
		return "now"
	}
	return shortDuration(t.Sub(now))
}

// shortDuration prints 1h30m rather than 1h30m0s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
