package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node is a machine replicas run on. In embedded mode the server registers
// the machine it runs on. It is cluster-scoped; topology labels live in
// metadata.labels.
//
// +kubebuilder:object:root=true
type Node struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeSpec   `json:"spec"`
	Status NodeStatus `json:"status,omitempty"`
}

// NodeSpec declares a node's capacity.
type NodeSpec struct {
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
// +kubebuilder:object:root=true
type Event struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	InvolvedObject ObjectReference `json:"involvedObject"`
	Reason         string          `json:"reason"`
	Message        string          `json:"message,omitempty"`
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
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// EventList is a list of Events.
//
// +kubebuilder:object:root=true
type EventList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Event `json:"items"`
}
