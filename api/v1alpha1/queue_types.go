package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Queue holds quota per flavor and resource and admits jobs into it.
// It is cluster-scoped.
//
// +kubebuilder:object:root=true
type Queue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   QueueSpec   `json:"spec"`
	Status QueueStatus `json:"status,omitempty"`
}

// QueueSpec declares quota and who may submit.
type QueueSpec struct {
	// Namespaces that may submit jobs; empty or ["*"] means every namespace.
	Namespaces []string `json:"namespaces,omitempty"`
	// Cohort groups queues that lend unused quota to each other.
	Cohort string `json:"cohort,omitempty"`
	// QueueingStrategy is StrictFIFO (default) or BestEffortFIFO.
	QueueingStrategy string `json:"queueingStrategy,omitempty"`
	// Flavors lists the quota this queue holds in each flavor, in the order
	// the scheduler tries them.
	Flavors []FlavorQuota `json:"flavors"`
	// Weight is the queue's fair-share weight within its cohort (default 1):
	// queues' dominant-resource shares converge to their weights.
	Weight *resource.Quantity `json:"weight,omitempty"`
	// Preemption says whom the queue's pending jobs may preempt.
	Preemption *QueuePreemption `json:"preemption,omitempty"`
}

// QueuePreemption is a queue's preemption policy (Kueue's names).
type QueuePreemption struct {
	// WithinQueue is Never (default) or LowerPriority: a pending job may
	// preempt lower-priority jobs admitted by the same queue.
	WithinQueue string `json:"withinQueue,omitempty"`
	// ReclaimWithinCohort is Never (default), LowerPriority or Any: a queue
	// reclaims its nominal quota from cohort members that borrowed it.
	ReclaimWithinCohort string `json:"reclaimWithinCohort,omitempty"`
}

// Preemption policy values.
const (
	PreemptNever         = "Never"
	PreemptLowerPriority = "LowerPriority"
	PreemptAny           = "Any"
)

// Queueing strategies.
const (
	StrictFIFO     = "StrictFIFO"
	BestEffortFIFO = "BestEffortFIFO"
)

// FlavorQuota is a queue's quota in one flavor.
type FlavorQuota struct {
	Name      string          `json:"name"`
	Resources []ResourceQuota `json:"resources"`
}

// Resource names a queue can hold quota of.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
	ResourceGPU    = "gpu"
)

// ResourceQuota is the quota of one resource.
type ResourceQuota struct {
	// Name is cpu, memory or gpu.
	Name         string            `json:"name"`
	NominalQuota resource.Quantity `json:"nominalQuota"`
	// BorrowingLimit caps what this queue may borrow from its cohort.
	BorrowingLimit *resource.Quantity `json:"borrowingLimit,omitempty"`
	// LendingLimit caps what this queue lends to its cohort.
	LendingLimit *resource.Quantity `json:"lendingLimit,omitempty"`
}

// QueueStatus reports usage.
type QueueStatus struct {
	PendingJobs  int32              `json:"pendingJobs"`
	AdmittedJobs int32              `json:"admittedJobs"`
	Usage        []FlavorUsage      `json:"usage,omitempty"`
	Conditions   []metav1.Condition `json:"conditions,omitempty"`
}

// FlavorUsage is how much of each resource admitted jobs use in a flavor,
// and how much of that is borrowed from the cohort.
type FlavorUsage struct {
	Name      string                       `json:"name"`
	Resources map[string]resource.Quantity `json:"resources,omitempty"`
	Borrowed  map[string]resource.Quantity `json:"borrowed,omitempty"`
}

// QueueList is a list of Queues.
//
// +kubebuilder:object:root=true
type QueueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Queue `json:"items"`
}

// Flavor is a kind of capacity: the nodes that carry its labels, their GPU
// model and topology levels. It is cluster-scoped.
//
// +kubebuilder:object:root=true
type Flavor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec FlavorSpec `json:"spec"`
}

// FlavorSpec selects nodes and describes them.
type FlavorSpec struct {
	// NodeLabels select the nodes of this flavor; empty selects every node.
	NodeLabels map[string]string `json:"nodeLabels,omitempty"`
	// GPUModel is the GPU model the flavor's nodes carry, e.g. H100.
	GPUModel string `json:"gpuModel,omitempty"`
	// TopologyLevels are node label keys from the widest domain to the
	// narrowest, e.g. [skiff.dev/block, skiff.dev/rack, kubernetes.io/hostname].
	TopologyLevels []string `json:"topologyLevels,omitempty"`
}

// FlavorList is a list of Flavors.
//
// +kubebuilder:object:root=true
type FlavorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Flavor `json:"items"`
}
