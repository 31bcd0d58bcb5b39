package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON prints the result as one JSON object:
// {"wallMs": N, "avgTimeToAdmissionMs": {...}, "minUsagePercent": {...},
// "classUsagePercent": {...}}.
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}

// WriteTimeline writes the result's timeline as one JSON object (see
// Timeline), one second to a line.
func WriteTimeline(w io.Writer, r *Result) error {
	tl := r.Detail.Timeline
	if tl == nil {
		return fmt.Errorf("the result has no timeline")
	}
	head, err := json.Marshal(struct {
		LostUnitSeconds     float64            `json:"lostUnitSeconds"`
		HeldBeyondRuntimeMs map[string]float64 `json:"heldBeyondRuntimeMs"`
	}{tl.LostUnitSeconds, tl.HeldBeyondRuntimeMs})
	if err != nil {
		return err
	}
	var b strings.Builder
	b.Write(head[:len(head)-1]) // the object stays open for the seconds
	b.WriteString(`,"seconds":[`)
	for i, s := range tl.Seconds {
		line, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		b.Write(line)
	}
	b.WriteString("\n]}\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the timeline: %w", err)
	}
	return nil
}

// WriteTable prints the result and its detail for people.
func WriteTable(w io.Writer, r *Result) error {
	d := r.Detail
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if id := d.Ideal; id != nil {
		evictions := fmt.Sprintf("%d evictions", d.Evictions)
		if len(id.Preemptions) > 0 {
			var reasons []string
			for _, reason := range sortedKeys(id.Preemptions) {
				reasons = append(reasons, fmt.Sprintf("%s %d", reason, id.Preemptions[reason]))
			}
			evictions += fmt.Sprintf(" (%s) losing %.1f unit·s of work", strings.Join(reasons, ", "), id.LostUnitSeconds)
		}
		fmt.Fprintf(tw, "wall\t%.1fs\t(%d workloads, %d queues, %s; ideal replay: %d cycles, %d preemption loops, eviction delay %s, cycle latency %s)\n",
			float64(r.WallMs)/1000, d.Workloads, d.Queues, evictions, id.Cycles, id.PreemptionLoops, id.EvictionDelay, id.CycleLatency)
	} else {
		fmt.Fprintf(tw, "wall\t%.1fs\t(%d workloads, %d queues, %d evictions, %d job writes seen, max submit lag %dms, %d watch relists)\n",
			float64(r.WallMs)/1000, d.Workloads, d.Queues, d.Evictions, d.JobWrites, d.SubmitLagMaxMs, d.WatchRelists)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "WORKLOAD CLASS\tCOUNT\tAVG TTA\tP50\tP99\tMAX")
	for _, name := range sortedKeys(d.Classes) {
		c := d.Classes[name]
		fmt.Fprintf(tw, "%s\t%d\t%dms\t%dms\t%dms\t%dms\n", name, c.Count, c.AvgTimeToAdmissionMs, c.P50TimeToAdmissionMs, c.P99TimeToAdmissionMs, c.MaxTimeToAdmissionMs)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "QUEUE CLASS\tQUEUES\tMIN USAGE\tMAX USAGE\tCLASS USAGE\tPEAK")
	for _, name := range sortedKeys(d.QueueClasses) {
		q := d.QueueClasses[name]
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%.0f%%\n", name, q.Queues, q.MinUsagePercent, q.MaxUsagePercent, q.ClassUsagePercent, q.PeakPercent)
	}
	for _, name := range sortedKeys(d.QueueClasses) {
		lo := d.QueueClasses[name].Lowest
		fmt.Fprintf(tw, "\nlowest %s usage: %s held %.0f unit·s = work %.0f + lost to preemption %.0f + held beyond runtime %.0f\n",
			name, lo.Queue, lo.Held, lo.Work, lo.Lost, lo.Beyond)
	}
	for _, warn := range d.Warnings {
		fmt.Fprintf(tw, "\nwarning: %s\n", warn)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
