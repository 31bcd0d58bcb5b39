package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Namespace is a tenant. It is cluster-scoped; its name is the namespace
// name that namespaced objects carry. A namespace without a Namespace object
// may still hold objects (e.g. "default"); it then has no limits.
//
// +kubebuilder:object:root=true
type Namespace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec NamespaceSpec `json:"spec,omitempty"`
}

// NamespaceSpec holds a tenant's settings.
type NamespaceSpec struct {
	// Limits cap what the namespace may use, on top of queue quota.
	Limits NamespaceLimits `json:"limits,omitempty"`
}

// NamespaceLimits are per-namespace caps. An unset cap means no cap.
type NamespaceLimits struct {
	// GPUs caps the GPUs held by the namespace's admitted jobs.
	GPUs *resource.Quantity `json:"gpus,omitempty"`
	// RunningJobs caps how many jobs of the namespace may be admitted
	// (holding resources) at once; further jobs wait Pending.
	RunningJobs *int32 `json:"runningJobs,omitempty"`
	// Services caps the namespace's InferenceServices (checked when one is created).
	Services *int32 `json:"services,omitempty"`
}

// NamespaceList is a list of Namespaces.
//
// +kubebuilder:object:root=true
type NamespaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Namespace `json:"items"`
}

// Roles a token grants within its namespace.
const (
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// Token is an API credential: a bearer token that acts as spec.user with
// spec.role in spec.namespace. It is cluster-scoped and named by its ID.
// Only a SHA-256 hash of the secret is stored; the secret itself appears
// once, in status.token of the create response, and never again.
//
// +kubebuilder:object:root=true
type Token struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TokenSpec   `json:"spec"`
	Status TokenStatus `json:"status,omitempty"`
}

// TokenSpec says whom a token stands for and what it may do.
type TokenSpec struct {
	// User is the name the token acts as (audit log, request.user in policies).
	User string `json:"user"`
	// Namespace is the only namespace the token reaches.
	Namespace string `json:"namespace"`
	// Role is viewer, editor or admin.
	Role string `json:"role"`
	// TTL, on create, sets expiresAt to now + TTL (e.g. 720h).
	TTL *metav1.Duration `json:"ttl,omitempty"`
	// ExpiresAt is when the token stops working; unset means never.
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// SecretHash is "sha256:" and the hex SHA-256 of the token. The server
	// sets it; a hash of 256 random bits does not reveal the token.
	SecretHash string `json:"secretHash,omitempty"`
}

// TokenStatus carries the secret in the create response only.
type TokenStatus struct {
	// Token is the bearer token. It is set only in the response to the
	// create request and is never stored.
	Token string `json:"token,omitempty"`
}

// TokenList is a list of Tokens.
//
// +kubebuilder:object:root=true
type TokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Token `json:"items"`
}

// Policy actions.
const (
	PolicyDeny = "Deny"
	PolicyWarn = "Warn"
)

// Policy is a set of CEL admission rules (cluster-scoped), evaluated on
// create and update of the objects it matches. Expressions see object,
// oldObject (null on create) and request {user, namespace, operation}.
//
// +kubebuilder:object:root=true
type Policy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PolicySpec `json:"spec"`
}

// PolicySpec is what a policy matches and does.
type PolicySpec struct {
	Match    PolicyMatch      `json:"match"`
	Validate []PolicyValidate `json:"validate,omitempty"`
	Default  []PolicyDefault  `json:"default,omitempty"`
}

// PolicyMatch selects the objects a policy applies to. Empty lists match
// everything.
type PolicyMatch struct {
	// Kinds such as Job; empty matches every kind.
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces by name; empty matches every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector matches the labels of the object's Namespace.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// PolicyValidate is one rule: the expression must be true.
type PolicyValidate struct {
	Expression string `json:"expression"`
	// Message is shown when the expression is false.
	Message string `json:"message,omitempty"`
	// Action is Deny (default: the write is refused) or Warn (the write
	// goes ahead and the client gets a warning).
	Action string `json:"action,omitempty"`
}

// PolicyDefault sets a field that the object leaves unset.
type PolicyDefault struct {
	// Field is a dotted path below the object, e.g. spec.priority.
	Field string `json:"field"`
	// Expression computes the value (e.g. "100" or "request.user").
	Expression string `json:"expression"`
}

// PolicyList is a list of Policies.
//
// +kubebuilder:object:root=true
type PolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Policy `json:"items"`
}
