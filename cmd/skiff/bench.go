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
		scenario, output, dataDir, cpuProfile, logLevel string
		timeout                                         time.Duration
		progress                                        bool
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

Example:
  skiff bench scheduler --scenario bench/scheduler/kueue-baseline.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scenario == "" {
				return fmt.Errorf("--scenario is required: give a generator.yaml such as bench/scheduler/kueue-baseline.yaml")
			}
			if output != "json" && output != "table" {
				return fmt.Errorf("-o %q: use json or table", output)
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
			if output == "table" {
				return bench.WriteTable(cmd.OutOrStdout(), res)
			}
			return bench.WriteJSON(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "", "Kueue generator-format scenario file (required)")
	f.StringVarP(&output, "output", "o", "json", "output format: json or table")
	f.StringVar(&dataDir, "data-dir", "", "empty directory for the embedded server's store (default: a temporary directory, removed afterwards)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up when the run takes longer than this")
	f.BoolVar(&progress, "progress", false, "print a progress line to stderr every 10 seconds")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (server and load generator) to this file")
	f.StringVar(&logLevel, "log-level", "warn", "server log level: debug, info, warn, error")
	_ = cmd.MarkFlagFilename("scenario", "yaml", "yml")
	return cmd
}
