// Package store keeps skiff objects with Kubernetes API semantics
// (resourceVersion, optimistic concurrency, label selectors, watch,
// finalizers, owner references with cascading deletion) over pluggable
// backends: an in-memory one for tests and an SQLite one (modernc.org/sqlite,
// WAL, fsync before acknowledging, group commit) for the embedded server.
// Every backend passes the conformance suite in storetest.
//
// The semantics live once, in objects.go, cascade.go and watch.go, over a
// small revisioned key/value seam (kv.go): single-key compare-and-swap where
// the backend picks the revision and calls back to encode the object with
// it, so stored bytes already carry metadata.resourceVersion and lists can
// stream them undecoded. Backends (memory.go, sqlite.go) only store bytes,
// count revisions, index owner uids, and report commits in order.
//
// Jobs' metric time series are kept beside the objects, not as objects
// (Metrics, metrics.go): points keyed by job, name and step, bounded per
// job, with each metric's latest point readable in one indexed read.
package store
