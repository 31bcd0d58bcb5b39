package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/bench"
)

func benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark the control plane",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(benchSchedulerCommand())
	cmd.AddCommand(benchTuningCommand())
	cmd.AddCommand(benchServeCommand())
	return cmd
}

func benchSchedulerCommand() *cobra.Command {
	var (
		scenario, output, dataDir, cpuProfile, logLevel, timelinePath string
		timeout, evictionDelay, cycleLatency                          time.Duration
		progress, ideal                                               bool
	)
	cmd := &cobra.Command{
		Use:   "scheduler --scenario FILE",
		Short: "Run a Kueue-format scheduler scenario through an embedded server",
		Long: `Run a scheduler performance scenario written in the format of Kueue's
performance generator (test/performance/scheduler/configs/*/generator.yaml)
through a complete embedded server: API, SQLite store, scheduling loop and
job controller, with replicas that "run" by sleeping their runtimeMs.

Workloads are submitted through the HTTP API on the scenario's schedule, in
real time. The result is the wall time (first submission to last finish),
the mean time to admission per workload class and, per queue class, the
lowest usage of any of its queues (quota in use over time, relative to the
queue's nominal quota).

With --ideal the scenario is not run but replayed through the same pure
scheduler core in virtual time: no server, no store, no watch, decisions
take effect the instant they are made, and the same numbers come out in a
few seconds. That is what the scheduling policy alone yields, the reference
a live run's control-plane costs are measured against. --eviction-delay
(how long a preempted job keeps its resources) and --cycle-latency (how
long a cycle's decisions take to land) add control-plane latencies back.

--timeline FILE also writes the run second by second as JSON (live or
--ideal): per workload class the jobs admitted, finished and evicted in
each second, the quota held and the jobs pending, the work evictions threw
away, and how long jobs held their quota beyond their runtime.

Examples:
  skiff bench scheduler --scenario bench/scheduler/kueue-baseline.yaml -o json
  skiff bench scheduler --scenario bench/scheduler/kueue-baseline.yaml --ideal -o table
  skiff bench scheduler --scenario bench/scheduler/kueue-baseline.yaml --ideal --cycle-latency 50ms -o table
  skiff bench scheduler --scenario bench/scheduler/kueue-baseline.yaml --timeline live.json -o table`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scenario == "" {
				return fmt.Errorf("--scenario is required: give a generator.yaml such as bench/scheduler/kueue-baseline.yaml")
			}
			if output != "json" && output != "table" {
				return fmt.Errorf("-o %q: use json or table", output)
			}
			if err := checkIdealFlags(cmd, ideal, evictionDelay, cycleLatency); err != nil {
				return err
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: give a positive duration such as 10m", timeout)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			sc, err := bench.LoadScenario(scenario)
			if err != nil {
				return err
			}
			if dataDir != "" {
				abs, err := filepath.Abs(dataDir)
				if err != nil {
					return fmt.Errorf("--data-dir: %w", err)
				}
				if bench.DataDirInUse(abs) {
					return fmt.Errorf("--data-dir %s already holds a skiff store: give an empty directory (the benchmark fills it with thousands of jobs)", abs)
				}
				dataDir = abs
			}
			var tlFile *os.File
			if timelinePath != "" {
				// Created now: a path that cannot be written fails before
				// the run, not after it.
				if tlFile, err = os.Create(timelinePath); err != nil {
					return fmt.Errorf("--timeline: %w", err)
				}
				defer tlFile.Close()
			}
			cmd.SilenceUsage = true
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			if ideal {
				setup, err := bench.Build(sc)
				if err != nil {
					return err
				}
				res, err := bench.RunIdeal(setup, bench.IdealOptions{EvictionDelay: evictionDelay, CycleLatency: cycleLatency})
				if err != nil {
					return err
				}
				return writeBenchResult(cmd, output, res, tlFile)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			opts := bench.Options{
				Scenario: sc, DataDir: dataDir, Timeout: timeout, Version: version,
				Log: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})),
			}
			if progress {
				opts.Progress = cmd.ErrOrStderr()
			}
			res, err := bench.RunScheduler(ctx, opts)
			if err != nil {
				return err
			}
			return writeBenchResult(cmd, output, res, tlFile)
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "", "Kueue generator-format scenario file (required)")
	f.StringVarP(&output, "output", "o", "json", "output format: json or table")
	f.StringVar(&dataDir, "data-dir", "", "empty directory for the embedded server's store (default: a temporary directory, removed afterwards)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up when the run takes longer than this")
	f.BoolVar(&progress, "progress", false, "print a progress line to stderr every 10 seconds")
	f.StringVar(&timelinePath, "timeline", "", "also write the run second by second (admissions, finishes, evictions per class; quota held; jobs pending) to this file as JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (server and load generator) to this file")
	f.StringVar(&logLevel, "log-level", "warn", "server log level: debug, info, warn, error")
	f.BoolVar(&ideal, "ideal", false, "replay the scenario through the scheduler core in virtual time instead of running it (the policy-only reference)")
	f.DurationVar(&evictionDelay, "eviction-delay", 0, "with --ideal: how long a preempted job keeps its resources before it is requeued")
	f.DurationVar(&cycleLatency, "cycle-latency", 0, "with --ideal: how long after a scheduling cycle its admissions and preemptions take effect")
	_ = cmd.MarkFlagFilename("scenario", "yaml", "yml")
	return cmd
}

// checkIdealFlags refuses flags that do not apply to the chosen mode: the
// live run's server flags with --ideal, the replay's latencies without it.
func checkIdealFlags(cmd *cobra.Command, ideal bool, evictionDelay, cycleLatency time.Duration) error {
	f := cmd.Flags()
	if !ideal {
		for _, name := range []string{"eviction-delay", "cycle-latency"} {
			if f.Changed(name) {
				return fmt.Errorf("--%s applies to replays only: add --ideal, or leave it out for a live run", name)
			}
		}
		return nil
	}
	for _, name := range []string{"data-dir", "timeout", "progress", "log-level"} {
		if f.Changed(name) {
			return fmt.Errorf("--%s applies to live runs only: the --ideal replay starts no server; leave it out", name)
		}
	}
	if evictionDelay < 0 {
		return fmt.Errorf("--eviction-delay %s is negative: give 0 or more, such as 50ms", evictionDelay)
	}
	if cycleLatency < 0 {
		return fmt.Errorf("--cycle-latency %s is negative: give 0 or more, such as 50ms", cycleLatency)
	}
	return nil
}

// writeBenchResult prints res, and writes its timeline to tl when tl is
// not nil.
func writeBenchResult(cmd *cobra.Command, output string, res *bench.Result, tl *os.File) error {
	if tl != nil {
		if err := bench.WriteTimeline(tl, res); err != nil {
			return fmt.Errorf("--timeline: %w", err)
		}
	}
	if output == "table" {
		return bench.WriteTable(cmd.OutOrStdout(), res)
	}
	return bench.WriteJSON(cmd.OutOrStdout(), res)
}
