// Package kube is the Store backend of Kubernetes mode: skiff.dev/v1alpha1
// objects live as custom resources (the CRDs under deploy/crds) on a
// Kubernetes API server, and every Store call is a call to that server.
//
// The API server already has the semantics the Store promises — etcd's
// global revision as resourceVersion, optimistic concurrency, finalizers,
// label and field selectors, watch with 410 Expired — so this backend mostly
// translates. What it adds:
//
//   - Update writes spec and metadata, then the status subresource when the
//     status changed (custom resources with a status subresource ignore
//     status in a main-resource write). An empty resourceVersion means an
//     unconditional update, which custom resources do not allow, so it is
//     a read-modify-write retried on conflict.
//   - Watch with an empty resourceVersion starts at the current revision
//     without replaying existing objects.
//   - Deleting an object deletes its skiff dependents (owner references)
//     inline, as the embedded stores do; on a cluster the garbage collector
//     would do the same later, and both racing is harmless.
//   - Namespaced objects get their Kubernetes namespace created on first
//     use, labelled as managed by Skiff.
//   - Objects are defaulted (v1alpha1.Default) when written and when read,
//     as an API server applies a CRD's schema defaults: one made with
//     kubectl, which skips Skiff's API, reads as if `skiff apply` had made
//     it (its queue, backoff limit, phase), and a write keeps the defaults.
//
// Differences a caller can see, covered by the conformance suite's options:
// timestamps come from the API server's clock, revisions are shared with
// every other object in the cluster (they increase but are not dense), and
// how long a watch can resume is decided by the API server's watch cache
// and etcd compaction, not by a history length.
package kube
