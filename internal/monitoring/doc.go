// Package monitoring exposes Skiff's Prometheus metrics (prefix skiff_, base
// units, _total counters, histograms in seconds).
//
// Most metrics are read from state at scrape time (informer caches of jobs
// and queues, the store's files, the GPU sampler), so hot paths such as the
// scheduling core stay free of instrumentation. Counters of things that
// happen (admissions, preemptions, restarts, replica exits, API requests,
// store writes) are fed by small hooks at the edges: the event recorder,
// the runtime's exit stream, the API's request log and a store wrapper.
package monitoring
