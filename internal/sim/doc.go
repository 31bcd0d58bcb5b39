// Package sim is skiff's discrete-event trace simulator. It replays a
// trace (package trace) through the very same pure scheduler core as the
// live server (scheduler.Schedule), under several policies that are
// expressed through the core's own knobs (queues, cohorts, priorities,
// queueing strategy, preemption), and measures job completion times,
// queueing, utilization and fairness. Time is simulated only: the clock is
// the event time passed to the core.
//
//   - policy.go: the policies (fifo, sjf-oracle, las, drf, default) as
//     queue and priority settings.
//   - cluster.go: nodes, flavors and queues from a trace.
//   - engine.go: the event loop: arrivals, admissions, completions,
//     preemptions (with a restart penalty), node failures.
//   - metrics.go: the per-policy result.
//   - whatif.go: the what-if projection of `skiff sim --from-cluster`:
//     a live server's objects run forward through the core from now, with
//     proposed nominal quotas applied to copies of the queues.
//
// The placement study (best-fit versus fragmentation-aware packing of
// fractional GPUs) lives in package packing, the reports in package report.
package sim
