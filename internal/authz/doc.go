// Package authz decides what an authenticated identity may do. Authorize is
// the one function every surface calls — the REST API for each verb, job log
// streaming, and (as they arrive) the metrics push API, the gateway and the
// dashboard — so that the roles mean the same everywhere.
//
// Roles (a token carries one role in one namespace):
//
//	viewer         get, list, watch and read logs of namespaced objects in its namespace;
//	               read queues, flavors, nodes, policies and its own Namespace
//	editor         viewer + create, update, delete of namespaced workload kinds
//	               (jobs now; experiments, services, ... as they arrive)
//	admin          editor + tokens of its namespace (create, list, revoke)
//	cluster-admin  everything: queues, flavors, nodes, policies, namespaces and
//	               their limits, events, every namespace, the audit log
//
// A denial never depends on whether the object exists: Authorize sees only
// the verb, the kind and the namespace, so a request for another tenant's
// object gets the same 403 whether that object exists or not.
//
// Lists and watches across all namespaces (`-A`) by a namespaced identity
// are narrowed to its own namespace by the caller (see ListNamespace): the
// answer contains exactly what the identity may see.
package authz
