// Package store keeps skiff objects with Kubernetes API semantics
// (resourceVersion, optimistic concurrency, label selectors, watch,
// finalizers, owner references with cascading deletion) over pluggable
// backends: an in-memory one for tests and an SQLite one (modernc.org/sqlite,
// WAL, fsync before acknowledging, group commit) for the embedded server.
// Every backend passes the conformance suite in storetest.
package store
