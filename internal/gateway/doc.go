// Package gateway is Skiff's OpenAI-compatible gateway: one HTTP endpoint
// (/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models) in
// front of the replicas of every InferenceService.
//
// A request is authenticated with a Skiff bearer token, routed by its
// "model" field to the service that serves that model in the caller's
// namespace, checked against the service's per-key and per-namespace
// request and token limits, and proxied to one ready replica chosen by the
// service's routing policy (round-robin, least-request, prefix-affinity:
// consistent hashing with bounded load over the prompt's leading
// characters, or least-load: scores from the queue depth and KV-cache use
// each replica's vLLM-style /metrics report, read by ScrapeLoads, load.go).
// When a service's replicas run two revisions (a canary), a revision is
// first chosen by its traffic weight (smooth weighted round-robin,
// traffic.go) and the policy applies among its replicas. Streams are forwarded event by event and flushed at once;
// client cancellation cancels the upstream request; a request that never
// reached a replica (the dial failed) is tried on another one. Token usage is
// read from the replicas' answers — the usage object of a JSON response, or
// the final usage chunk of a stream, which the gateway asks for with
// stream_options.include_usage and hides from clients that did not ask.
//
// The gateway holds no controller logic. The serving controller tells it
// which services exist (SetService) and which replicas are ready or draining
// (SetEndpoints); the gateway tells the controller about demand: Stats for
// the autoscaler, and Config.OnDemand when a request arrives for a service
// with no ready replica. Such a request waits in a bounded queue until a
// replica is ready, so scaling from zero fails no request.
//
// Routing and limit decisions are pure functions of their inputs with the
// time passed in (routing.go, limits.go); HTTP lives in handler.go and
// proxy.go.
package gateway
