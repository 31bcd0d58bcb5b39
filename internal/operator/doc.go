// Package operator runs Skiff on a Kubernetes cluster: `skiff operator`.
//
// It is the embedded control plane of `skiff up` (API, scheduler,
// controllers, gateway, dashboard) over three Kubernetes seams: objects are
// custom resources on the API server (store/kube), replicas are pods
// (runtime/kube) and nodes are the cluster's (inventory). Several replicas
// of the operator may run; a Lease elects the one that works, and the
// others wait to take over. The leader answers the API; a replica that
// loses the lease stops at once and exits, so its Deployment restarts it as
// a follower.
//
// Credentials live in the cluster, not in a replica's disk: the admin token
// and the key that signs replicas' job tokens are a Secret in the
// operator's namespace, created by the first replica, so a new leader
// accepts the tokens the old one issued.
package operator
