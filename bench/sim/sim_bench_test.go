// Package simbench measures `skiff sim`'s replay speed: synthetic traces
// through the scheduler core, and the real traces when they are present.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/sim/
package simbench

import (
	"os"
	"strconv"
	"testing"

	"skiff.dev/skiff/internal/sim"
	"skiff.dev/skiff/internal/sim/trace"
)

// BenchmarkSynthetic100k replays 100,000 synthetic jobs on 1,000 nodes of 8
// GPUs at an offered load of 0.9 under each policy (SIM_POLICIES), with
// the scheduling period SIM_INTERVAL in seconds (default 0: every event).
func BenchmarkSynthetic100k(b *testing.B) {
	s := trace.DefaultSynth()
	s.Jobs, s.Nodes, s.Tenants = 100_000, 1_000, 20
	tr, err := s.Generate()
	if err != nil {
		b.Fatal(err)
	}
	interval, _ := strconv.ParseFloat(os.Getenv("SIM_INTERVAL"), 64)
	if n, err := strconv.Atoi(os.Getenv("SIM_MAXJOBS")); err == nil && n < len(tr.Jobs) {
		tr.Jobs = tr.Jobs[:n]
	}
	for _, name := range benchPolicies() {
		p, err := sim.NewPolicy(name, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := sim.Run(tr.Jobs, tr.Nodes, p, sim.Options{RestartPenalty: 30, Interval: interval})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(r.Cycles), "cycles")
				b.ReportMetric(r.AvgJCT, "avgJCT-s")
			}
		})
	}
}

func benchPolicies() []string {
	if p := os.Getenv("SIM_POLICIES"); p != "" {
		return splitComma(p)
	}
	return sim.Policies
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// tracesDir is where the real traces live (SKIFF_TRACES overrides).
func tracesDir() string {
	if d := os.Getenv("SKIFF_TRACES"); d != "" {
		return d
	}
	return "/work/shared/traces"
}

// BenchmarkGavel replays the Philly-derived Gavel trace (seed=0, 15,264
// jobs) on 150 V100, 150 P100 and 150 K80 GPUs; skipped without the trace.
func BenchmarkGavel(b *testing.B) {
	dir := tracesDir() + "/gavel-philly"
	if _, err := os.Stat(dir); err != nil {
		b.Skip("no gavel trace:", err)
	}
	tr, err := sim.Load(sim.Input{Format: sim.FormatGavel, Trace: dir + "/seed=0", Cluster: envOr("SIM_CLUSTER", "v100=150,p100=150,k80=150")})
	if err != nil {
		b.Fatal(err)
	}
	if n, err := strconv.Atoi(os.Getenv("SIM_MAXJOBS")); err == nil && n < len(tr.Jobs) {
		tr.Jobs = tr.Jobs[:n]
	}
	for _, name := range benchPolicies() {
		p, err := sim.NewPolicy(name, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := sim.Run(tr.Jobs, tr.Nodes, p, sim.Options{RestartPenalty: 30})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(r.Cycles), "cycles")
				b.ReportMetric(r.AvgJCT, "avgJCT-s")
			}
		})
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
