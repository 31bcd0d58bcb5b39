// Package bench runs benchmarks against the real embedded control plane.
//
// The scheduler benchmark (`skiff bench scheduler --scenario FILE`) reads a
// scenario in the format of Kueue's scheduler performance generator
// (kubernetes-sigs/kueue test/performance/scheduler/configs/*/generator.yaml),
// starts a whole skiff server in-process (SQLite store, API, scheduling loop,
// job controller) whose replicas run in the simulated runtime, submits the
// scenario's workloads through the HTTP API on the scenario's schedule, and
// measures, like Kueue's recorder and checker:
//
//   - wall time: from the first submission to the last job observed finished;
//   - time to admission per workload class: from the moment a job is
//     submitted to the moment its admission is observed on the watch (the
//     last admission, if it was preempted and admitted again), averaged;
//   - usage per queue: the integral over time of the units the queue's
//     admitted jobs hold, divided by (nominal quota × wall time); a queue
//     that borrows can exceed 100%. minUsagePercent is the minimum over the
//     queues of a queue class; classUsagePercent is Kueue's checker's class
//     figure (sum of integrals / (sum of nominal quotas × wall time)). The
//     table output splits the lowest queue's integral into work (units ×
//     runtime of its finished jobs), work lost to preemption and quota held
//     beyond runtime.
//
// Times are taken on the benchmark's side when watch events arrive, because
// stored timestamps have one-second resolution.
//
// RunIdeal (`--ideal`, ideal.go) replays the same scenario through the same
// pure scheduler core in virtual time, with no server: a discrete-event
// simulation whose decisions take effect at once (or after a chosen cycle
// latency and eviction delay). Its numbers come from the same recorder, so
// they are the policy-only reference that a live run's control-plane costs
// are measured against.
package bench
