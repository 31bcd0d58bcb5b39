// Package simbench measures `skiff sim`'s replay speed: synthetic traces
// through the scheduler core, and the real traces when they are present.
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/sim/
package simbench

import (
	"os"
	"testing"

	"skiff.dev/skiff/internal/sim"
	"skiff.dev/skiff/internal/sim/trace"
)

// BenchmarkSynthetic100k replays 100,000 synthetic jobs on 1,000 nodes of 8
// GPUs at an offered load of 0.9 under each policy.
func BenchmarkSynthetic100k(b *testing.B) {
	s := trace.DefaultSynth()
	s.Jobs, s.Nodes, s.Tenants = 100_000, 1_000, 20
	tr, err := s.Generate()
	if err != nil {
		b.Fatal(err)
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

func benchPolicies() []string {
	if p := os.Getenv("SIM_POLICIES"); p != "" {
		var out []string
		for _, x := range splitComma(p) {
			out = append(out, x)
		}
		return out
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
