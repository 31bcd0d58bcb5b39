// Package apiserver serves the skiff.dev/v1alpha1 REST API in the shape of
// the Kubernetes API:
//
//	/apis/skiff.dev/v1alpha1/{plural}[/{name}]                      cluster kinds (and lists across namespaces)
//	/apis/skiff.dev/v1alpha1/namespaces/{ns}/{plural}[/{name}]      namespaced kinds
//	/apis/skiff.dev/v1alpha1/namespaces/{ns}/jobs/{name}/log        replica logs
//
// plus /healthz, /readyz (unauthenticated), /version and
// /apis/skiff.dev/v1alpha1/audit (the audit log, cluster-admins only).
//
// Every other request is authenticated (Config.Auth), then authorized with
// authz.Authorize before the object is read (see tenancy.go), and recorded in
// the audit log (Config.Audit) when it ends. Tokens are created through the
// ordinary create route: the server generates the secret, stores its hash
// and returns the secret once, in status.token.
//
// Every write goes through the same steps — decode strictly, check the kind
// and namespace against the URL, default, validate, admit — and reaches the
// Store only when all of them pass, so bad input never leaves anything
// behind. Users cannot write status: a create starts from an empty status and
// an update keeps the stored one, changing only metadata labels, annotations
// and the user-owned fields (spec). Controllers write status through the
// Store directly.
//
// Lists are streamed from Store.ListRaw without decoding the stored JSON, so
// a list of 100,000 objects costs a buffer, not a slice of 100,000 structs.
// Errors are metav1.Status bodies built with k8s.io/apimachinery's apierrors,
// so any Kubernetes-aware client understands them.
package apiserver
