package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node is a machine replicas run on. In embedded mode the server registers
// the machine it runs on. It is cluster-scoped; topology labels live in
// metadata.labels.
//
// The CRD claims no short name: "no" is the core Node's.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=skiff
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="CPU",type=string,JSONPath=`.spec.capacity.cpu`
// +kubebuilder:printcolumn:name="Memory",type=string,JSONPath=`.spec.capacity.memory`
// +kubebuilder:printcolumn:name="GPU",type=string,JSONPath=`.spec.capacity.gpu`
// +kubebuilder:printcolumn:name="Model",type=string,JSONPath=`.spec.gpuModel`
// +kubebuilder:printcolumn:name="Unschedulable",type=boolean,JSONPath=`.spec.unschedulable`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Node struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec NodeSpec `json:"spec"`
	// +optional
	Status NodeStatus `json:"status,omitempty"`
}

// NodeSpec declares a node's capacity.
type NodeSpec struct {
	// +optional
	Capacity Resources `json:"capacity"`
	GPUModel string    `json:"gpuModel,omitempty"`
	// Unschedulable keeps new replicas off the node.
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// NodeStatus is what was detected on the node.
type NodeStatus struct {
	GPUs       []GPUDevice        `json:"gpus,omitempty"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// GPUDevice is one GPU found on (or declared for) a node.
type GPUDevice struct {
	Index     int32  `json:"index"`
	UUID      string `json:"uuid,omitempty"`
	Model     string `json:"model,omitempty"`
	MemoryMiB int64  `json:"memoryMiB,omitempty"`
	// Declared is true when the GPU was declared with --gpus rather than detected.
	Declared bool `json:"declared,omitempty"`
}

// NodeList is a list of Nodes.
//
// +kubebuilder:object:root=true
type NodeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Node `json:"items"`
}

// Event reports something that happened to an object, e.g. Admitted,
// Started, Failed, Restarted, Succeeded.
//
// The CRD claims no short name: "ev" is the core Event's.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,categories=skiff
// +kubebuilder:printcolumn:name="Last Seen",type=date,JSONPath=`.lastTimestamp`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.type`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.reason`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.involvedObject.kind`
// +kubebuilder:printcolumn:name="Object",type=string,JSONPath=`.involvedObject.name`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.message`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.source`,priority=1
// +kubebuilder:printcolumn:name="Count",type=integer,JSONPath=`.count`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$') && size(self.metadata.name) <= 253`,message="metadata.name is not a valid event name: use at most 253 lower-case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit"
type Event struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	InvolvedObject ObjectReference `json:"involvedObject"`
	// +optional
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
	// Type is Normal or Warning.
	Type           string      `json:"type,omitempty"`
	Count          int32       `json:"count,omitempty"`
	FirstTimestamp metav1.Time `json:"firstTimestamp,omitempty"`
	LastTimestamp  metav1.Time `json:"lastTimestamp,omitempty"`
	// Source is the component that reported the event.
	Source string `json:"source,omitempty"`
}

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// ObjectReference points at another object.
type ObjectReference struct {
	// +optional
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
}

// EventList is a list of Events.
//
// +kubebuilder:object:root=true
type EventList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Event `json:"items"`
}
