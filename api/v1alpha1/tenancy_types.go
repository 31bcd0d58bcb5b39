package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Namespace is a tenant. It is cluster-scoped; its name is the namespace
// name that namespaced objects carry. A namespace without a Namespace object
// may still hold objects (e.g. "default"); it then has no limits.
//
// The CRD claims no short name: "ns" is the core Namespace's.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=skiff
// +kubebuilder:printcolumn:name="GPUs",type=string,JSONPath=`.spec.limits.gpus`
// +kubebuilder:printcolumn:name="Running Jobs",type=integer,JSONPath=`.spec.limits.runningJobs`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
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
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="spec.limits.gpus must not be negative: use 0 or more, or remove it for no cap"
	GPUs *resource.Quantity `json:"gpus,omitempty"`
	// RunningJobs caps how many jobs of the namespace may be admitted
	// (holding resources) at once; further jobs wait Pending.
	// +kubebuilder:validation:Minimum=0
	RunningJobs *int32 `json:"runningJobs,omitempty"`
	// Services caps the namespace's InferenceServices (checked when one is created).
	// +kubebuilder:validation:Minimum=0
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
// +kubebuilder:resource:scope=Cluster,categories=skiff
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.user`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Token struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TokenSpec `json:"spec"`
	// +optional
	Status TokenStatus `json:"status,omitempty"`
}

// TokenSpec says whom a token stands for and what it may do.
type TokenSpec struct {
	// User is the name the token acts as (audit log, request.user in policies).
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$`
	// +kubebuilder:validation:XValidation:rule=`self != 'admin' && !self.startsWith('system:')`,message="spec.user is reserved for the admin token and the server: choose another user name"
	User string `json:"user"`
	// Namespace is the only namespace the token reaches.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// Role is viewer, editor or admin.
	// +kubebuilder:validation:Enum=viewer;editor;admin
	Role string `json:"role"`
	// TTL, on create, sets expiresAt to now + TTL (e.g. 720h).
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[-+]?(0|([0-9]*([.][0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$') && duration(self) > duration('0s')`,message="spec.ttl must be positive, e.g. 720h: remove it for a token that does not expire"
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
// +kubebuilder:resource:scope=Cluster,categories=skiff
// +kubebuilder:printcolumn:name="Kinds",type=string,JSONPath=`.spec.match.kinds`
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=`.spec.match.namespaces`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Policy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PolicySpec `json:"spec"`
}

// PolicySpec is what a policy matches and does.
//
// +kubebuilder:validation:XValidation:rule=`(has(self.validate) && size(self.validate) > 0) || (has(self.default) && size(self.default) > 0)`,message="spec: a policy needs at least one validate or default rule"
type PolicySpec struct {
	// +optional
	Match    PolicyMatch      `json:"match"`
	Validate []PolicyValidate `json:"validate,omitempty"`
	// Default rules, at most MaxPolicyDefaults of them.
	// +kubebuilder:validation:MaxItems=64
	Default []PolicyDefault `json:"default,omitempty"`
}

// PolicyMatch selects the objects a policy applies to. Empty lists match
// everything.
type PolicyMatch struct {
	// Kinds such as Job; empty matches every kind.
	// +kubebuilder:validation:items:Enum=Job;Experiment;Queue;Flavor;Node;Event;Namespace;Token;Policy;InferenceService
	Kinds []string `json:"kinds,omitempty"`
	// Namespaces by name; empty matches every namespace.
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector matches the labels of the object's Namespace.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// PolicyValidate is one rule: the expression must be true.
type PolicyValidate struct {
	// +kubebuilder:validation:Pattern=`\S`
	Expression string `json:"expression"`
	// Message is shown when the expression is false.
	Message string `json:"message,omitempty"`
	// Action is Deny (default: the write is refused) or Warn (the write
	// goes ahead and the client gets a warning).
	// +kubebuilder:validation:Enum="";Deny;Warn
	Action string `json:"action,omitempty"`
}

// PolicyDefault sets a field that the object leaves unset.
type PolicyDefault struct {
	// Field is a dotted path below the object, e.g. spec.priority; it may
	// not start at metadata, status, apiVersion or kind.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*([.][A-Za-z_][A-Za-z0-9_]*)*$`
	// +kubebuilder:validation:XValidation:rule=`!['metadata', 'status', 'apiVersion', 'kind'].exists(f, self == f || self.startsWith(f + '.'))`,message="defaults may set spec fields only, not metadata, status, apiVersion or kind"
	Field string `json:"field"`
	// Expression computes the value (e.g. "100" or "request.user").
	// +kubebuilder:validation:Pattern=`\S`
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
