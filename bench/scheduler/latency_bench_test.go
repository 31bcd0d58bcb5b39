package schedbench

import (
	"fmt"
	"testing"
	"time"

	"skiff.dev/skiff/internal/bench"
)

// BenchmarkKueueBaselineLatency replays kueue-baseline.yaml through the
// scheduler core in virtual time (what `skiff bench scheduler --ideal`
// does) for a grid of control-plane latencies: how long a cycle's
// decisions take to land and how long a preempted job takes to stop. It
// reports what the policy yields at each: wall time, the usage of the
// lowest queue and of the class (Kueue's checker's figure), and the work
// the lowest queue lost to preemption. The numbers are virtual time, so
// they do not depend on the machine; ns/op is the replay's own cost.
//
//	go test -run '^$' -bench KueueBaselineLatency -benchtime 1x ./bench/scheduler/
func BenchmarkKueueBaselineLatency(b *testing.B) {
	sc, err := bench.LoadScenario("kueue-baseline.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, evict := range []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond} {
		for _, ms := range []int{0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60} {
			lat := time.Duration(ms) * time.Millisecond
			b.Run(fmt.Sprintf("evict=%s/latency=%s", evict, lat), func(b *testing.B) {
				var res *bench.Result
				for range b.N {
					setup, err := bench.Build(sc)
					if err != nil {
						b.Fatal(err)
					}
					if res, err = bench.RunIdeal(setup, bench.IdealOptions{EvictionDelay: evict, CycleLatency: lat}); err != nil {
						b.Fatal(err)
					}
				}
				q := res.Detail.QueueClasses["cq"]
				b.ReportMetric(float64(res.WallMs)/1000, "wall-s")
				b.ReportMetric(q.MinUsagePercent, "min-usage-%")
				b.ReportMetric(q.ClassUsagePercent, "class-usage-%")
				b.ReportMetric(q.Lowest.Lost, "lowest-lost-unit-s")
			})
		}
	}
}
