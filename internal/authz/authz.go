package authz

import (
	"fmt"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/auth"
)

// Verb is what a request does.
type Verb string

// The verbs. Surfaces added later use their own verbs (e.g. a gateway's
// "invoke"); Authorize denies verbs it does not know.
const (
	Get    Verb = "get"
	List   Verb = "list"
	Watch  Verb = "watch"
	Create Verb = "create"
	Update Verb = "update"
	Delete Verb = "delete"
	// Logs reads a job's replica logs.
	Logs Verb = "logs"
	// Report posts metrics of a job.
	Report Verb = "report"
	// Invoke calls a model an InferenceService serves, through the gateway;
	// every role of the service's namespace may.
	Invoke Verb = "invoke"
)

// AuditKind is the pseudo-kind of the audit log route.
const AuditKind = "Audit"

// Decision is Authorize's answer. Reason says, when denied, who may do it;
// it never mentions whether an object exists.
type Decision struct {
	Allowed bool
	Reason  string
}

func allow() Decision { return Decision{Allowed: true} }

// clusterReadable kinds are visible to every authenticated identity:
// tenants need queues and flavors to write jobs, and the policies that
// judge them.
var clusterReadable = map[string]bool{"Queue": true, "Flavor": true, "Node": true, "Policy": true}

// controllerOwned namespaced kinds are written only by the server
// (and cluster-admins); tenants read them.
var controllerOwned = map[string]bool{"Event": true}

func isRead(v Verb) bool { return v == Get || v == List || v == Watch || v == Logs }

// Authorize decides whether id may do verb on kind in namespace. For
// namespaced kinds namespace is the object's namespace; for Token it is the
// token's spec.namespace; for Namespace it is the namespace's name; for other
// cluster-scoped kinds it is "".
func Authorize(id auth.Identity, verb Verb, kind, namespace string) Decision {
	if id.Admin {
		return allow()
	}
	if id.Job != "" {
		return deny(id, verb, kind, namespace, "a job's token reaches only that job's metrics and notice")
	}
	if id.Namespace == "" || !v1alpha1.ValidRole(id.Role) {
		return deny(id, verb, kind, namespace, "ask an admin for a token")
	}
	switch {
	case kind == "Token":
		if namespace == id.Namespace && id.Role == v1alpha1.RoleAdmin && verb != Update && verb != Logs {
			return allow()
		}
		return deny(id, verb, kind, namespace, "tokens are managed by an admin of their namespace or a cluster-admin")
	case kind == "Namespace":
		if namespace == id.Namespace && (verb == Get || verb == List || verb == Watch) {
			return allow()
		}
		return deny(id, verb, kind, namespace, "namespaces and their limits are managed by a cluster-admin")
	case kind == AuditKind:
		return deny(id, verb, kind, namespace, "the audit log is for cluster-admins")
	case clusterReadable[kind]:
		if verb == Get || verb == List || verb == Watch {
			return allow()
		}
		return deny(id, verb, kind, namespace, "cluster-scoped kinds are changed by a cluster-admin")
	}
	k, ok := v1alpha1.LookupKind(kind)
	if !ok || !k.Namespaced {
		return deny(id, verb, kind, namespace, "ask a cluster-admin")
	}
	if namespace != id.Namespace {
		return deny(id, verb, kind, namespace, fmt.Sprintf("your token reaches namespace %q only; ask an admin of %q for a token", id.Namespace, namespace))
	}
	if isRead(verb) || verb == Invoke && kind == "InferenceService" {
		return allow()
	}
	if verb != Create && verb != Update && verb != Delete {
		return deny(id, verb, kind, namespace, "unknown verb")
	}
	if controllerOwned[kind] {
		return deny(id, verb, kind, namespace, k.Plural+" are written by the server")
	}
	if id.Role == v1alpha1.RoleViewer {
		return deny(id, verb, kind, namespace, "viewers may only read: ask an admin of the namespace for an editor token")
	}
	return allow()
}

// AuthorizeJobProgress decides whether id may read (Get) or post (Report)
// the metrics and read the notice of job in namespace. A job's own token
// may do both for its job only; users need Get on jobs to read and Update
// on jobs to post.
func AuthorizeJobProgress(id auth.Identity, verb Verb, namespace, job string) Decision {
	if verb != Get && verb != Report {
		return deny(id, verb, "Job", namespace, "unknown verb")
	}
	if id.Job != "" {
		if id.Namespace == namespace && id.Job == job {
			return allow()
		}
		return deny(id, verb, "Job", namespace, fmt.Sprintf("a job's token reaches only its own job (%s/%s)", id.Namespace, id.Job))
	}
	if verb == Report {
		verb = Update
	}
	return Authorize(id, verb, "Job", namespace)
}

// ListNamespace is the namespace a list or watch of a namespaced kind
// across all namespaces is narrowed to: "" (all) for a cluster-admin, the
// identity's own namespace otherwise.
func ListNamespace(id auth.Identity) string {
	if id.Admin {
		return ""
	}
	return id.Namespace
}

func deny(id auth.Identity, verb Verb, kind, namespace, hint string) Decision {
	who := fmt.Sprintf("user %q", id.Name)
	if id.Namespace != "" {
		who = fmt.Sprintf("user %q (%s in %s)", id.Name, id.Role, id.Namespace)
	}
	where := ""
	if namespace != "" {
		where = fmt.Sprintf(" in namespace %q", namespace)
	}
	what := kind
	if k, ok := v1alpha1.LookupKind(kind); ok {
		what = k.Plural
	}
	return Decision{Reason: fmt.Sprintf("%s may not %s %s%s: %s", who, verb, what, where, hint)}
}
