// Package metrics turns what training workloads report into the job metric
// time series kept by store.Metrics: it parses the line format a workload
// may print on stdout,
//
//	skiff:metric NAME=VALUE [NAME=VALUE...] step=N
//
// and tails the logs of running replicas for such lines (Collector). The
// other way in, a POST to the API with the job's token, is served by the
// apiserver; both end in the same store.
package metrics
