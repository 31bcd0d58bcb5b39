// Package trace reads GPU-cluster job traces into one model the simulator
// replays: jobs (arrival, size, duration, tenant) and nodes (GPU model and
// capacity). Readers stream their input and report a row they cannot parse
// with its file, line and column; Options.Strict makes that fatal, else the
// row is skipped and listed in Trace.Skipped.
//
//   - alibaba.go: Alibaba PAI GPU 2023 (openb_pod_list_*.csv and
//     openb_node_list_gpu_node.csv): fractional GPUs, GPU models.
//   - gavel.go: Gavel's Philly-derived traces (*.trace, one virtual cluster
//     per file) with simulation_throughputs.json for per-GPU-type durations.
//   - native.go: skiff's own CSV format for jobs and nodes.
//   - synth.go: a seeded synthetic generator for load sweeps.
package trace
