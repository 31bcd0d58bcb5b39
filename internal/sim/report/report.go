package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"skiff.dev/skiff/internal/sim"
)

// Placement is one placement policy's outcome in the packing study.
type Placement struct {
	// UnallocatableGPUFraction is the share of GPU capacity no task of
	// the trace's size mix could use when the cluster first rejected a
	// task.
	UnallocatableGPUFraction float64 `json:"unallocatableGPUFraction"`
	// Placed is how many tasks were placed before the first rejection.
	Placed int `json:"placed"`
	// AllocatedGPUFraction is the share of GPU capacity allocated then.
	AllocatedGPUFraction float64 `json:"allocatedGPUFraction"`
	// RejectedTask names the first task that found no room ("" when the
	// trace ran out first).
	RejectedTask string `json:"rejectedTask,omitempty"`
}

// Report is everything one `skiff sim` run produced.
type Report struct {
	Trace      string                 `json:"trace"`
	Format     string                 `json:"format"`
	Jobs       int                    `json:"traceJobs"`
	Nodes      int                    `json:"nodes"`
	GPUs       float64                `json:"gpus"`
	Cluster    map[string]int         `json:"cluster"`
	Policies   map[string]*sim.Result `json:"policies,omitempty"`
	Placements map[string]*Placement  `json:"placements,omitempty"`
	Notes      []string               `json:"notes,omitempty"`
	// Order is the policies' order as asked for.
	Order          []string `json:"-"`
	PlacementOrder []string `json:"-"`
	Command        string   `json:"command,omitempty"`
}

// JSON writes the report as indented JSON.
func JSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Table writes the report as terminal tables.
func Table(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "trace %s (%s): %d jobs, %d nodes, %g GPUs\n", r.Trace, r.Format, r.Jobs, r.Nodes, r.GPUs)
	if len(r.Policies) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POLICY\tJOBS\tAVG JCT\tP50 JCT\tP99 JCT\tAVG QUEUEING\tMAKESPAN\tUTIL\tJAIN\tSLOWDOWN\tPREEMPTIONS\tCYCLES")
		for _, name := range r.Order {
			p := r.Policies[name]
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%.3f\t%.1f\t%d\t%d\n", name, p.Jobs,
				Dur(p.AvgJCT), Dur(p.P50JCT), Dur(p.P99JCT), Dur(p.AvgQueueing), Dur(p.Makespan),
				100*p.Utilization, p.Jain, p.AvgSlowdown, p.Preemptions, p.Cycles)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprint(tw, "TENANT SLOWDOWN")
		for _, name := range r.Order {
			fmt.Fprintf(tw, "\t%s", strings.ToUpper(name))
		}
		fmt.Fprintln(tw)
		for _, t := range tenantNames(r) {
			fmt.Fprint(tw, t)
			for _, name := range r.Order {
				fmt.Fprintf(tw, "\t%s", tenantSlowdown(r.Policies[name], t))
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Placements) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PLACEMENT\tUNALLOCATABLE GPUS\tALLOCATED GPUS\tTASKS PLACED\tFIRST REJECTED")
		for _, name := range r.PlacementOrder {
			p := r.Placements[name]
			fmt.Fprintf(tw, "%s\t%.2f%%\t%.2f%%\t%d\t%s\n", name, 100*p.UnallocatableGPUFraction, 100*p.AllocatedGPUFraction, p.Placed, p.RejectedTask)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

func tenantNames(r *Report) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range r.Policies {
		for _, t := range p.Tenants {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, t.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func tenantSlowdown(p *sim.Result, name string) string {
	for _, t := range p.Tenants {
		if t.Name == name {
			return fmt.Sprintf("%.1f (%d)", t.AvgSlowdown, t.Jobs)
		}
	}
	return "-"
}

// Dur renders seconds compactly: 45s, 12.5m, 3.2h, 4.1d.
func Dur(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%.0fs", s)
	case s < 7200:
		return fmt.Sprintf("%.1fm", s/60)
	case s < 172800:
		return fmt.Sprintf("%.1fh", s/3600)
	}
	return fmt.Sprintf("%.1fd", s/86400)
}
