package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// InferenceService is a model server: replicas of one command that listen
// on $PORT and speak the OpenAI API, reached through the gateway by the
// model names in spec.models. Each replica runs as a child Job, so it is
// admitted through the same queues and quotas as batch work.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=isvc,categories=skiff
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Models",type=string,JSONPath=`.spec.models`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.status.desiredReplicas`
// +kubebuilder:printcolumn:name="Min",type=integer,JSONPath=`.spec.minReplicas`
// +kubebuilder:printcolumn:name="Max",type=integer,JSONPath=`.spec.maxReplicas`
// +kubebuilder:printcolumn:name="Routing",type=string,JSONPath=`.spec.routing`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Queue",type=string,JSONPath=`.spec.queue`,priority=1
// +kubebuilder:printcolumn:name="Target",type=integer,JSONPath=`.spec.autoscaling.targetInFlight`,priority=1
// +kubebuilder:printcolumn:name="Last Request",type=date,JSONPath=`.status.lastRequestTime`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type InferenceService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec InferenceServiceSpec `json:"spec"`
	// +optional
	Status InferenceServiceStatus `json:"status,omitempty"`
}

// InferenceServiceSpec is what the user asks for.
//
// +kubebuilder:validation:XValidation:rule=`!has(self.maxReplicas) || self.maxReplicas == 0 || self.maxReplicas >= (has(self.minReplicas) ? self.minReplicas : 1)`,message="spec.maxReplicas is below minReplicas: raise maxReplicas or lower minReplicas"
// +kubebuilder:validation:XValidation:rule=`!has(self.template.env) || self.template.env.all(e, e.name != 'PORT')`,message="spec.template.env: PORT is set by skiff for each replica: remove it"
type InferenceServiceSpec struct {
	// Models are the names clients put in a request's "model" field, each
	// listed once.
	// +kubebuilder:validation:MinItems=1
	// +listType=set
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9._:-]+$`
	Models []string `json:"models"`
	// Queue admits the replicas; "default" when empty.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$`
	Queue string `json:"queue,omitempty"`
	// Priority of the replicas' jobs within their queue; serving goes
	// before batch by default (DefaultServingPriority).
	Priority *int32 `json:"priority,omitempty"`
	// Template is one replica's process. It must listen on $PORT.
	Template ReplicaTemplate `json:"template"`
	// MinReplicas is kept running even without traffic; 0 allows scale to
	// zero. Default 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=256
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// MaxReplicas bounds autoscaling. Default: minReplicas, or 1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=256
	MaxReplicas int32 `json:"maxReplicas,omitempty"`
	// Routing is how the gateway picks a replica: round-robin,
	// least-request (default), prefix-affinity, or least-load (scores
	// replicas by the queue depth and KV-cache use their vLLM-style
	// /metrics report, falling back to requests in flight).
	// +kubebuilder:validation:Enum="";round-robin;least-request;prefix-affinity;least-load
	Routing string `json:"routing,omitempty"`
	// Autoscaling sets the in-flight target and the scaling windows.
	Autoscaling *Autoscaling `json:"autoscaling,omitempty"`
	// ReadinessProbe says when a replica may take requests.
	ReadinessProbe *ReadinessProbe `json:"readinessProbe,omitempty"`
	// Limits cap the requests and tokens per minute of each API key and of
	// each calling namespace on this service.
	Limits *ServingLimits `json:"limits,omitempty"`
	// CanaryTrafficPercent, when set below 100, makes a change of the
	// replica template (or queue or priority) a canary: the new revision
	// gets this percent of the requests and the previous rolled-out
	// revision keeps serving the rest. Setting it to 100 or removing it
	// promotes the new revision and retires the previous one. Unset: a
	// template change rolls out at once (replicas replaced one at a time).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	CanaryTrafficPercent *int32 `json:"canaryTrafficPercent,omitempty"`
	// LogPrompts keeps each request's body (the prompt) in the request log
	// beside its tokens and latency. Off by default: prompts may hold
	// personal or secret data.
	LogPrompts bool `json:"logPrompts,omitempty"`
}

// Routing policies of an InferenceService.
const (
	RoutingRoundRobin     = "round-robin"
	RoutingLeastRequest   = "least-request"
	RoutingPrefixAffinity = "prefix-affinity"
	RoutingLeastLoad      = "least-load"
)

// Serving defaults.
const (
	DefaultServingPriority = int32(100)
	DefaultTargetInFlight  = int32(8)
	DefaultProbePath       = "/v1/models"
)

// Autoscaling scales replicas on requests in flight (including those the
// gateway holds while no replica is ready).
//
// +kubebuilder:validation:XValidation:rule=`!has(self.stableWindow) || !has(self.panicWindow) || duration(self.panicWindow) <= duration(self.stableWindow)`,message="spec.autoscaling.panicWindow must not be longer than stableWindow"
type Autoscaling struct {
	// TargetInFlight is the requests in flight one replica should carry.
	// +kubebuilder:validation:Minimum=0
	TargetInFlight int32 `json:"targetInFlight,omitempty"`
	// ScaleToZeroAfter is the idle time after which a service with
	// minReplicas 0 stops its last replica. Default 5m.
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[-+]?(0|([0-9]*([.][0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$') && duration(self) > duration('0s')`,message="scaleToZeroAfter must be a positive duration such as 30s or 5m"
	ScaleToZeroAfter *metav1.Duration `json:"scaleToZeroAfter,omitempty"`
	// StableWindow is the period whose average load sets the replica count.
	// Default 60s.
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[-+]?(0|([0-9]*([.][0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$') && duration(self) > duration('0s')`,message="stableWindow must be a positive duration such as 30s or 5m"
	StableWindow *metav1.Duration `json:"stableWindow,omitempty"`
	// PanicWindow is the short period that scales up at once when its
	// load reaches twice the target. Default 6s.
	// +kubebuilder:validation:XValidation:rule=`self.matches('^[-+]?(0|([0-9]*([.][0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$') && duration(self) > duration('0s')`,message="panicWindow must be a positive duration such as 30s or 5m"
	PanicWindow *metav1.Duration `json:"panicWindow,omitempty"`
}

// ReadinessProbe is an HTTP GET on the replica's port.
type ReadinessProbe struct {
	// Path is requested on the replica; 2xx means ready. Default /v1/models.
	// +kubebuilder:validation:Pattern=`^(/.*)?$`
	Path string `json:"path,omitempty"`
	// PeriodSeconds between probes. Default 1.
	// +kubebuilder:validation:Minimum=0
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
}

// ServingLimits are rate limits enforced by the gateway. Unset means none.
type ServingLimits struct {
	// PerKey limits each API key.
	PerKey *RateLimit `json:"perKey,omitempty"`
	// PerNamespace limits all keys of one calling namespace together.
	PerNamespace *RateLimit `json:"perNamespace,omitempty"`
}

// RateLimit is a per-minute budget; 0 means unlimited.
type RateLimit struct {
	// +kubebuilder:validation:Minimum=0
	RequestsPerMinute int64 `json:"requestsPerMinute,omitempty"`
	// TokensPerMinute counts prompt and completion tokens as the replicas
	// report them.
	// +kubebuilder:validation:Minimum=0
	TokensPerMinute int64 `json:"tokensPerMinute,omitempty"`
}

// Condition types of an InferenceService.
const (
	// ServiceConditionReady is true while at least one replica takes
	// requests (or the service is scaled to zero and wakes on demand).
	ServiceConditionReady = "Ready"
)

// InferenceServiceStatus is what the controller observed.
type InferenceServiceStatus struct {
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// DesiredReplicas is the autoscaler's current decision.
	DesiredReplicas int32 `json:"desiredReplicas"`
	// ReadyReplicas take requests.
	ReadyReplicas int32 `json:"readyReplicas"`
	// Replicas are the replica jobs that exist.
	Replicas []ServingReplica `json:"replicas,omitempty"`
	// LastScaleTime is when DesiredReplicas last changed.
	LastScaleTime *metav1.Time `json:"lastScaleTime,omitempty"`
	// LastRequestTime is when the gateway last saw a request for it.
	LastRequestTime *metav1.Time `json:"lastRequestTime,omitempty"`
	// ObservedGeneration is the spec generation last acted on.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Revisions are the templates that run replicas now: one, or two
	// while a canary is in progress (the rolled-out one first).
	Revisions []ServingRevision `json:"revisions,omitempty"`
	// RolledOut is the revision that takes the traffic a canary does not:
	// the last template that was promoted. It is kept so that its replicas
	// can be started again (after a scale to zero, or a failed replica)
	// while the spec already holds the canary's template.
	RolledOut *RolledOutRevision `json:"rolledOut,omitempty"`
}

// ServingRevision is one template of a service and the share of requests
// the gateway sends to it.
type ServingRevision struct {
	// Name is <service>-<templateHash>.
	Name string `json:"name"`
	// TemplateHash names what the revision's replicas run (the
	// skiff.dev/template-hash label of their jobs).
	TemplateHash string `json:"templateHash"`
	// Canary is true for the revision not yet promoted.
	Canary bool `json:"canary,omitempty"`
	// DesiredReplicas is the revision's part of the service's replicas.
	DesiredReplicas int32 `json:"desiredReplicas"`
	// ReadyReplicas take requests.
	ReadyReplicas int32 `json:"readyReplicas"`
	// TrafficPercent is the share of requests sent to this revision.
	TrafficPercent int32 `json:"trafficPercent"`
}

// RolledOutRevision is a promoted template, as its replicas run it.
type RolledOutRevision struct {
	TemplateHash string          `json:"templateHash"`
	Template     ReplicaTemplate `json:"template"`
	Queue        string          `json:"queue,omitempty"`
	Priority     *int32          `json:"priority,omitempty"`
}

// ServingReplica is one replica of a service.
type ServingReplica struct {
	// Job is the child Job that runs the replica (<service>-<index>, or
	// <service>-canary<index> for a canary revision's replica).
	Job string `json:"job"`
	// Revision is the template hash the replica runs.
	Revision string `json:"revision,omitempty"`
	Index    int32  `json:"index"`
	Port     int32  `json:"port"`
	// State is Pending (queued or starting), Ready, Draining or Failed.
	State string `json:"state"`
}

// Serving replica states.
const (
	ServingPending  = "Pending"
	ServingReady    = "Ready"
	ServingDraining = "Draining"
	ServingFailed   = "Failed"
)

// InferenceServiceList is a list of InferenceServices.
//
// +kubebuilder:object:root=true
type InferenceServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []InferenceService `json:"items"`
}

// Min returns spec.minReplicas with its default.
func (s *InferenceServiceSpec) Min() int32 {
	if s.MinReplicas != nil {
		return *s.MinReplicas
	}
	return 1
}

// Target returns the in-flight target per replica with its default.
func (s *InferenceServiceSpec) Target() int32 {
	if s.Autoscaling != nil && s.Autoscaling.TargetInFlight > 0 {
		return s.Autoscaling.TargetInFlight
	}
	return DefaultTargetInFlight
}
