package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"skiff.dev/skiff/internal/sim"
	"skiff.dev/skiff/internal/sim/packing"
	"skiff.dev/skiff/internal/sim/report"
)

func simCommand() *cobra.Command {
	var (
		in                           sim.Input
		policies, placements, output string
		outFile, lasThresholds       string
		restartPenalty, mtbf, repair time.Duration
		interval                     time.Duration
		noProgress, fromCluster      bool
		whatIf                       whatIfFlags
	)
	cmd := &cobra.Command{
		Use:   "sim --format alibaba2023|gavel|skiff|synthetic --trace PATH | --from-cluster [--quota QUEUE:FLAVOR:RESOURCE=N]",
		Short: "Replay a GPU-cluster trace through the scheduler and compare policies",
		Long: `Replay a job trace through skiff's own scheduler core in simulated time and
compare scheduling policies: job completion time (average, median, p99),
queueing delay, makespan, GPU utilization, per-tenant slowdown and Jain's
fairness index, preemptions.

Formats:
  alibaba2023  Alibaba PAI GPU 2023 pod list (openb_pod_list_*.csv); nodes from
               --nodes or openb_node_list_gpu_node.csv beside it; tenant = qos
  gavel        a Gavel/Philly .trace file or a folder of them (one virtual
               cluster = one tenant); --throughputs simulation_throughputs.json
               (found beside or above the trace when not given)
  skiff        skiff's CSV (submit,duration,gpus[,id,tenant,replicas,cpu_milli,
               memory_mib,estimate,priority,models])
  synthetic    --trace "jobs=10000,nodes=100,gpus=8,load=0.9,tenants=10"

Policies: fifo, sjf-oracle (true durations: a reference), las (Tiresias-style
least attained service with preemption, one queue), drf (a queue per tenant,
fair share), default (skiff's setup: a queue per tenant in one cohort, jobs
ordered by least attained service across tenants and by arrival among
equals, preemption within a tenant and of what other tenants borrow). las
and default are the queue option spec.leastAttainedService (default with
scope Cohort); --las-thresholds sets its levels.

--placements best-fit,frag-aware packs the trace's tasks in arrival order
without departures until the cluster first rejects one and reports the share
of GPU capacity no task of the trace's size mix could still use.

--from-cluster reads the queues, flavors, nodes and jobs of the running server
(--server/--token as for every command) and projects, through the same core,
when each pending job starts: running jobs end at their start plus
runPolicy.estimatedSeconds (else activeDeadlineSeconds, else
--default-runtime, and the output names the jobs that used it). With --quota
QUEUE:FLAVOR:RESOURCE=NOMINAL (repeatable) it projects again under the
proposed quota and shows both.

Examples:
  skiff sim --from-cluster --quota team-a:a100:gpu=16 -o table
  skiff sim --format gavel --trace traces/gavel-philly/seed=0 --cluster v100=100,p100=100,k80=100 -o table
  skiff sim --format alibaba2023 --trace traces/alibaba-pai-gpu-2023/openb_pod_list_default.csv \
      --placements best-fit,frag-aware --policies "" -o json
  skiff sim --format gavel --trace traces/gavel-philly/seed=0 -o html --out report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fromCluster {
				if in.Format != "" || in.Trace != "" {
					return fmt.Errorf("--from-cluster reads the live server: drop --format and --trace")
				}
				whatIf.output = output
				return runWhatIf(cmd, whatIf)
			}
			if len(whatIf.quota) > 0 || cmd.Flags().Changed("default-runtime") {
				return fmt.Errorf("--quota and --default-runtime apply to --from-cluster: add --from-cluster")
			}
			if output != "json" && output != "table" && output != "html" {
				return fmt.Errorf("-o %q: use json, table or html", output)
			}
			las, err := parseFloats(lasThresholds)
			if err != nil {
				return fmt.Errorf("--las-thresholds: %w", err)
			}
			var pols []sim.Policy
			if strings.TrimSpace(policies) != "" {
				if pols, err = sim.ParsePolicies(policies, las); err != nil {
					return err
				}
			}
			var places []string
			for _, p := range strings.Split(placements, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if _, err := packing.ParsePolicy(p); err != nil {
					return fmt.Errorf("--placements: %w", err)
				}
				places = append(places, p)
			}
			if len(pols) == 0 && len(places) == 0 {
				return fmt.Errorf("nothing to do: give --policies and/or --placements")
			}
			if mtbf > 0 && repair <= 0 {
				return fmt.Errorf("--node-repair %s: give a positive repair time with --node-mtbf", repair)
			}
			tr, err := sim.Load(in)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			for _, s := range tr.Skipped {
				fmt.Fprintln(stderr, "skipped:", s)
			}
			rep := &report.Report{Trace: in.Trace, Format: in.Format, Jobs: len(tr.Jobs), Nodes: len(tr.Nodes),
				Cluster: map[string]int{}, Notes: tr.Notes, Command: "skiff sim " + strings.Join(os.Args[2:], " ")}
			for _, n := range tr.Nodes {
				rep.GPUs += float64(n.GPUs)
				rep.Cluster[n.Model] += n.GPUs
			}
			if len(tr.Skipped) > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%d unparsable rows skipped (listed on stderr; --strict makes them fatal)", len(tr.Skipped)))
			}
			if len(pols) > 0 {
				jobs := sim.Replayable(tr.Jobs)
				if len(jobs) == 0 {
					return fmt.Errorf("%s: no job has a duration to replay (this file suits --placements only)", in.Trace)
				}
				opt := sim.Options{Interval: interval.Seconds(), RestartPenalty: restartPenalty.Seconds(), NodeMTBF: mtbf.Seconds(), NodeRepair: repair.Seconds(), Seed: in.Seed}
				bar := newProgress(stderr, !noProgress, len(pols)*len(jobs))
				rep.Policies = map[string]*sim.Result{}
				results := make([]*sim.Result, len(pols))
				errs := make([]error, len(pols))
				var wg sync.WaitGroup
				for i, p := range pols {
					wg.Add(1)
					go func() {
						defer wg.Done()
						o := opt
						o.Progress = bar.part(i)
						results[i], errs[i] = sim.Run(jobs, tr.Nodes, p, o)
					}()
				}
				wg.Wait()
				bar.done()
				for i, p := range pols {
					if errs[i] != nil {
						return fmt.Errorf("policy %s: %w", p.Name, errs[i])
					}
					rep.Policies[p.Name] = results[i]
					rep.Order = append(rep.Order, p.Name)
					if r := results[i]; len(r.Rejected) > 0 && i == 0 {
						for k, msg := range r.Rejected {
							if k == 5 {
								fmt.Fprintf(stderr, "... and %d more jobs larger than the cluster\n", len(r.Rejected)-5)
								break
							}
							fmt.Fprintln(stderr, "never runnable:", msg)
						}
						rep.Notes = append(rep.Notes, fmt.Sprintf("%d jobs can never run on this cluster (larger than any flavor or node) and were left out", len(r.Rejected)))
					}
				}
			}
			if len(places) > 0 {
				rep.Placements = map[string]*report.Placement{}
				for _, name := range places {
					pol, _ := packing.ParsePolicy(name)
					res, err := packing.Run(tr.Jobs, tr.Nodes, pol)
					if err != nil {
						return fmt.Errorf("placement %s: %w", name, err)
					}
					rep.Placements[name] = &report.Placement{UnallocatableGPUFraction: res.UnallocatableFraction,
						Placed: res.Placed, AllocatedGPUFraction: res.AllocatedFraction, RejectedTask: res.Rejected}
					rep.PlacementOrder = append(rep.PlacementOrder, name)
				}
			}
			var w io.Writer = cmd.OutOrStdout()
			if outFile != "" {
				f, err := os.Create(outFile)
				if err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				defer f.Close()
				w = f
			}
			switch output {
			case "json":
				err = report.JSON(w, rep)
			case "table":
				err = report.Table(w, rep)
			default:
				err = report.HTML(w, rep)
			}
			if err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			if f, ok := w.(*os.File); ok && outFile != "" {
				return f.Close()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Format, "format", "", "trace format: alibaba2023, gavel, skiff or synthetic")
	f.StringVar(&in.Trace, "trace", "", "trace file (gavel: file or folder; synthetic: KEY=VALUE,...)")
	f.StringVar(&in.Nodes, "nodes", "", "node list CSV (name,gpus,model[,cpu_milli,memory_mib] or Alibaba's node list)")
	f.StringVar(&in.Cluster, "cluster", "", "cluster as MODEL=GPUS,... e.g. v100=100,p100=100,k80=100")
	f.IntVar(&in.GPUsPerNode, "gpus-per-node", 8, "GPUs per node for --cluster")
	f.StringVar(&in.Throughputs, "throughputs", "", "gavel: simulation_throughputs.json")
	f.BoolVar(&in.Strict, "strict", false, "stop at the first unparsable row instead of skipping it")
	f.Uint64Var(&in.Seed, "seed", 1, "seed for node failures and synthetic traces")
	f.StringVar(&policies, "policies", strings.Join(sim.Policies, ","), "scheduling policies to compare (empty: none)")
	f.StringVar(&placements, "placements", "", "placement policies to compare: best-fit,frag-aware")
	f.StringVarP(&output, "output", "o", "table", "json, table or html")
	f.StringVar(&outFile, "out", "", "write the report to FILE instead of stdout")
	f.StringVar(&lasThresholds, "las-thresholds", "", "las and default: attained GPU-seconds between levels (spec.leastAttainedService.thresholdsGPUSeconds; default 3600,36000,360000 for both)")
	f.DurationVar(&restartPenalty, "restart-penalty", 30*time.Second, "time a job loses at each restart after a preemption or node failure")
	f.DurationVar(&mtbf, "node-mtbf", 0, "mean time between failures per node (0: no failures)")
	f.DurationVar(&repair, "node-repair", time.Hour, "how long a failed node stays down")
	f.DurationVar(&interval, "interval", 0, "scheduling period in simulated time (0: run the scheduler at every event; e.g. 60s batches decisions like a scheduler loop)")
	f.BoolVar(&noProgress, "no-progress", false, "no progress bar on stderr")
	f.BoolVar(&fromCluster, "from-cluster", false, "project when the running server's pending jobs start (see --quota)")
	f.StringArrayVar(&whatIf.quota, "quota", nil, "with --from-cluster: proposed nominal quota QUEUE:FLAVOR:RESOURCE=NOMINAL (repeatable), e.g. team-a:a100:gpu=16")
	f.DurationVar(&whatIf.defaultRuntime, "default-runtime", time.Hour, "with --from-cluster: runtime assumed for jobs without estimatedSeconds or activeDeadlineSeconds")
	return cmd
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, v)
	}
	return out, nil
}

// progress draws one bar on stderr for all policies together, only when
// stderr is a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	total int
	parts []int
	last  time.Time
}

func newProgress(w io.Writer, want bool, total int) *progress {
	on := false
	if f, ok := w.(*os.File); ok && want {
		on = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, on: on, total: max(total, 1)}
}

func (p *progress) part(i int) func(done, total int) {
	if !p.on {
		return nil
	}
	p.mu.Lock()
	for len(p.parts) <= i {
		p.parts = append(p.parts, 0)
	}
	p.mu.Unlock()
	return func(done, _ int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.parts[i] = done
		if time.Since(p.last) < 100*time.Millisecond {
			return
		}
		p.last = time.Now()
		sum := 0
		for _, d := range p.parts {
			sum += d
		}
		const width = 40
		filled := width * sum / p.total
		fmt.Fprintf(p.w, "\r[%s%s] %3d%% %d/%d jobs", strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*sum/p.total, sum, p.total)
	}
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
