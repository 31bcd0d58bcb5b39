// Package loadgen drives an OpenAI-compatible endpoint with load and
// reports what vLLM's serving benchmark reports: time to first token
// (TTFT), time per output token (TPOT), inter-token latency (ITL) and
// end-to-end latency (mean, p50, p99), request and token throughput, and
// goodput (requests per second that met every SLO).
//
// Load is either a fixed number of concurrent clients or Poisson arrivals
// at a given rate. Workloads are data: a plain list of prompts, or the
// shared-prefix workload of inference-perf (groups × prompts per group,
// each prompt a group's system prompt followed by its own question), which
// is what prefix-cache-aware routing is for. Workload generation and the
// statistics are pure (seeded; no clock); the driver is the I/O edge.
package loadgen
