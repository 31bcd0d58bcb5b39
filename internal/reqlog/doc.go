// Package reqlog is the LLM request log: one row per gateway request
// (time, namespace, API key id, model, service, replica, tokens in and
// out, time to first token, latency, status, streamed or not, and the
// prompt for services that opt in with spec.logPrompts) in an SQLite file
// of its own, <data-dir>/requests.db.
//
// Recording never slows a request down: Observe hands the record to a
// bounded buffer and returns; one writer goroutine drains the buffer in
// batches, one transaction per batch (WAL, synchronous=NORMAL: a power
// loss may take the last batch, a killed server loses only what was still
// buffered). When the buffer is full the record is dropped and counted
// (Dropped) rather than blocking the gateway. After each batch the writer
// applies the retention: rows beyond MaxEntries and rows older than MaxAge
// are deleted, oldest first.
//
// Query and Summarize read the log with their filters (namespaces, model,
// service, since) passed in; Series buckets one service's requests over a
// window (requests, errors, tokens, replicas answering, p50/p99 latency
// and time to first token per bucket) for the dashboard's charts; who may read which namespace is decided by the
// caller (the API route), not here.
package reqlog
