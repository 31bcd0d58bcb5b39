package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"skiff.dev/skiff/internal/bench"
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
  },
  "classUsagePercent": {
    "cq": 71.4
  }
}
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

// The same scenario second by second: a and b start at 100 and 200 ms, c
// waits until a ends at 1100 ms and ends at 2100 ms; of the queue's 2 cpu,
// 1.7 cpu·s are held in the first second, 1.2 in the second and 0.1 in the
// last 0.1 s.
func TestBenchSchedulerTimeline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "timeline.json")
	out, err := runBenchScheduler(t, "--scenario", "../../internal/bench/testdata/ideal-fifo.yaml", "--ideal", "--timeline", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"lostUnitSeconds":0,"heldBeyondRuntimeMs":{"small":0},"seconds":[
  {"t":0,"admitted":{"small":2},"heldPercent":85,"pending":1},
  {"t":1,"admitted":{"small":1},"finished":{"small":2},"heldPercent":60,"pending":0},
  {"t":2,"finished":{"small":1},"heldPercent":50,"pending":0}
]}
`
	if string(raw) != want {
		t.Errorf("timeline:\n%s\nwant:\n%s", raw, want)
	}
	var tl bench.Timeline
	if err := json.Unmarshal(raw, &tl); err != nil || len(tl.Seconds) != 3 {
		t.Errorf("the timeline does not read back as a bench.Timeline: %v, %+v", err, tl)
	}

	_, err = runBenchScheduler(t, "--scenario", "../../internal/bench/testdata/ideal-fifo.yaml", "--ideal",
		"--timeline", filepath.Join(t.TempDir(), "missing", "timeline.json"))
	if err == nil || !strings.Contains(err.Error(), "--timeline") {
		t.Errorf("a timeline in a missing directory: err = %v, want one naming --timeline", err)
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
