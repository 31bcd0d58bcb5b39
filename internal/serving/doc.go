// Package serving runs InferenceServices: it keeps one child Job per
// replica, so replicas are admitted through the same queues and quotas as
// batch jobs, probes each running replica's port until it answers, tells
// the gateway which replicas are ready, and scales the service on the
// requests in flight that the gateway reports.
//
// Child jobs are named <service>-<index> and carry an owner reference to
// the service (deleting the service deletes them) and the label
// skiff.dev/inference-service. Each gets a free port in $PORT, chosen
// when the job is created and kept in the job's spec, so a restarted
// server adopts its replicas as they are.
//
// Scaling follows Knative's model: a stable window averages load for
// the replica count, a short panic window scales up at once when load
// doubles, a service with minReplicas 0 scales to zero after an idle
// period, and a request arriving at a service with no ready replica wakes
// it (the gateway holds the request meanwhile). Scale-down drains: a
// replica chosen to go first stops getting new requests and is deleted
// only once its requests in flight have finished. The scaling decision is
// a pure function of the load samples and the time (autoscale.go).
package serving
