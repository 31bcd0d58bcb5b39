package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"skiff.dev/skiff/internal/loadgen"
)

func benchServeCommand() *cobra.Command {
	var (
		url, model, token, tokenFile, workload, output string
		requests, concurrency, promptLen, maxTokens    int
		groups, perGroup, systemLen, questionLen       int
		rate                                           float64
		seed                                           uint64
		noStream                                       bool
		sloTTFT, sloTPOT, sloE2E                       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve --url URL --model NAME",
		Short: "Load-test an OpenAI-compatible endpoint (TTFT, TPOT, ITL, throughput, goodput)",
		Long: `Send a workload of chat requests to an OpenAI-compatible endpoint (the
Skiff gateway or any other) and report what vLLM's serving benchmark
reports: time to first token, time per output token, inter-token latency and
end-to-end latency (mean, p50, p99), request and token throughput, and
goodput against the SLOs given.

Load is --concurrency clients sending back to back, or Poisson arrivals at
--rate requests per second (with --concurrency then capping requests in
flight). Workloads: "uniform" (--requests prompts of --prompt-len words)
or "shared-prefix" (inference-perf's: --groups system prompts of
--system-len words, each followed by --per-group questions of
--question-len words).

Example:
  skiff bench serve --url http://127.0.0.1:7401/v1 --model tinylm \
    --workload shared-prefix --groups 8 --per-group 16 --concurrency 16 -o table`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" || model == "" {
				return fmt.Errorf("--url and --model are required, e.g. --url http://127.0.0.1:7401/v1 --model tinylm")
			}
			if output != "json" && output != "table" {
				return fmt.Errorf("-o %q: use json or table", output)
			}
			if token == "" {
				token = os.Getenv("SKIFF_TOKEN")
			}
			if token == "" && tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fmt.Errorf("--token-file: %w", err)
				}
				token = strings.TrimSpace(string(b))
			}
			var reqs []loadgen.Request
			var err error
			switch workload {
			case "uniform":
				reqs, err = loadgen.Uniform{N: requests, PromptLen: promptLen, MaxTokens: maxTokens, Seed: seed}.Requests()
			case "shared-prefix":
				reqs, err = loadgen.SharedPrefix{Groups: groups, PromptsPerGroup: perGroup, SystemPromptLen: systemLen,
					QuestionLen: questionLen, MaxTokens: maxTokens, Seed: seed}.Requests()
			default:
				err = fmt.Errorf("--workload %q: use uniform or shared-prefix", workload)
			}
			if err != nil {
				return err
			}
			cmd.SilenceUsage = true
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			rep, _, err := loadgen.Run(ctx, loadgen.Options{BaseURL: url, APIKey: token, Model: model, Requests: reqs,
				Concurrency: concurrency, Rate: rate, Seed: seed, NoStream: noStream,
				SLO: loadgen.SLO{TTFT: sloTTFT, TPOT: sloTPOT, E2E: sloE2E}})
			if err != nil {
				return err
			}
			if output == "table" {
				return writeServeTable(cmd.OutOrStdout(), rep)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&url, "url", "", "API root of the endpoint, e.g. http://127.0.0.1:7401/v1 (required)")
	f.StringVar(&model, "model", "", "model name to request (required)")
	f.StringVar(&token, "token", "", "API key (default $SKIFF_TOKEN)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the API key, e.g. DATA/admin.token")
	f.StringVar(&workload, "workload", "uniform", "uniform or shared-prefix")
	f.IntVar(&requests, "requests", 100, "uniform: number of requests")
	f.IntVar(&promptLen, "prompt-len", 32, "uniform: words per prompt")
	f.IntVar(&groups, "groups", 8, "shared-prefix: number of system prompts")
	f.IntVar(&perGroup, "per-group", 16, "shared-prefix: questions per system prompt")
	f.IntVar(&systemLen, "system-len", 512, "shared-prefix: words per system prompt")
	f.IntVar(&questionLen, "question-len", 32, "shared-prefix: words per question")
	f.IntVar(&maxTokens, "max-tokens", 64, "max_tokens of each request")
	f.IntVar(&concurrency, "concurrency", 8, "clients sending back to back; with --rate, the cap on requests in flight (0: none)")
	f.Float64Var(&rate, "rate", 0, "Poisson arrival rate in requests per second (0: fixed concurrency)")
	f.Uint64Var(&seed, "seed", 1, "seed of the workload and arrival times")
	f.BoolVar(&noStream, "no-stream", false, "ask for whole answers (TTFT is then the whole latency)")
	f.DurationVar(&sloTTFT, "slo-ttft", 0, "goodput: time-to-first-token target, e.g. 500ms")
	f.DurationVar(&sloTPOT, "slo-tpot", 0, "goodput: time-per-output-token target, e.g. 50ms")
	f.DurationVar(&sloE2E, "slo-e2e", 0, "goodput: end-to-end latency target")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func writeServeTable(w io.Writer, r loadgen.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "requests\t%d completed, %d failed in %.2fs\n", r.Completed, r.Failed, r.Seconds)
	for _, e := range r.Errors {
		fmt.Fprintf(tw, "error\t%s\n", e)
	}
	fmt.Fprintf(tw, "throughput\t%.2f req/s, %.1f output tok/s, %.1f total tok/s\n", r.RequestThroughput, r.OutputTokenThroughput, r.TotalTokenThroughput)
	fmt.Fprintf(tw, "goodput\t%.2f req/s (%.0f%% of requests met the SLOs)\n", r.Goodput, 100*r.GoodputRequestFraction)
	fmt.Fprintf(tw, "\tmean ms\tp50 ms\tp99 ms\n")
	for _, d := range []struct {
		name string
		d    loadgen.Distribution
	}{{"TTFT", r.TTFT}, {"TPOT", r.TPOT}, {"ITL", r.ITL}, {"E2E", r.E2E}} {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\n", d.name, d.d.Mean, d.d.P50, d.d.P99)
	}
	return tw.Flush()
}
