package main

import (
	"strings"
	"testing"
)

func runBenchScheduler(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return execute(benchSchedulerCommand(), args...)
}

// The scenario's numbers are worked out by hand in its comments.
func TestBenchSchedulerIdealJSON(t *testing.T) {
	out, err := runBenchScheduler(t, "--scenario", "../../internal/bench/testdata/ideal-fifo.yaml", "--ideal", "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `{
  "wallMs": 2100,
  "avgTimeToAdmissionMs": {
    "small": 266
  },
  "minUsagePercent": {
    "cq": 71.4
  }
}
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestBenchSchedulerIdealTable(t *testing.T) {
	out, err := runBenchScheduler(t, "--scenario", "../../internal/bench/testdata/ideal-preempt.yaml", "--ideal", "--eviction-delay", "50ms", "-o", "table")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"wall  1.9s", "1 evictions", "eviction delay 50ms, cycle latency 0s", "low ", "750ms", "94.6%"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchSchedulerIdealFlagErrors(t *testing.T) {
	scenario := "../../internal/bench/testdata/ideal-fifo.yaml"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--eviction-delay", "50ms"}, "--eviction-delay applies to replays only: add --ideal"},
		{[]string{"--cycle-latency", "50ms"}, "--cycle-latency applies to replays only: add --ideal"},
		{[]string{"--ideal", "--data-dir", t.TempDir()}, "--data-dir applies to live runs only"},
		{[]string{"--ideal", "--timeout", "1m"}, "--timeout applies to live runs only"},
		{[]string{"--ideal", "--cycle-latency", "-5ms"}, "--cycle-latency -5ms is negative"},
		{[]string{"--ideal", "--eviction-delay", "-1s"}, "--eviction-delay -1s is negative"},
	} {
		out, err := runBenchScheduler(t, append([]string{"--scenario", scenario}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one containing %q\n%s", tc.args, err, tc.want, out)
		}
	}
}
