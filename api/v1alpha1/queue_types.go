package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Queue holds quota per flavor and resource and admits jobs into it.
// It is cluster-scoped.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=q,categories=skiff
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cohort",type=string,JSONPath=`.spec.cohort`
// +kubebuilder:printcolumn:name="Pending",type=integer,JSONPath=`.status.pendingJobs`
// +kubebuilder:printcolumn:name="Admitted",type=integer,JSONPath=`.status.admittedJobs`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.queueingStrategy`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Queue struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec QueueSpec `json:"spec"`
	// +optional
	Status QueueStatus `json:"status,omitempty"`
}

// QueueSpec declares quota and who may submit.
// +kubebuilder:validation:XValidation:rule=`(has(self.cohort) && size(self.cohort) > 0) || self.flavors.all(f, !has(f.resources) || f.resources.all(r, !has(r.borrowingLimit) && !has(r.lendingLimit)))`,message="borrowingLimit and lendingLimit need spec.cohort: a queue borrows from and lends to its cohort's other queues; set spec.cohort or leave them out"
type QueueSpec struct {
	// Namespaces that may submit jobs; empty or ["*"] means every namespace.
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	Namespaces []string `json:"namespaces,omitempty"`
	// Cohort groups queues that lend unused quota to each other.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$`
	Cohort string `json:"cohort,omitempty"`
	// QueueingStrategy is StrictFIFO (default) or BestEffortFIFO.
	// +kubebuilder:validation:Enum="";StrictFIFO;BestEffortFIFO
	QueueingStrategy string `json:"queueingStrategy,omitempty"`
	// Flavors lists the quota this queue holds in each flavor, in the order
	// the scheduler tries them. Flavor names are unique; a queue lists at
	// most MaxQueueFlavors flavors.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	Flavors []FlavorQuota `json:"flavors"`
	// Weight is the queue's fair-share weight within its cohort (default 1):
	// queues' dominant-resource shares converge to their weights.
	// +kubebuilder:validation:XValidation:rule=`quantity(string(self)).isGreaterThan(quantity('0'))`,message="spec.weight must be a positive number, e.g. 1 or 2.5"
	Weight *resource.Quantity `json:"weight,omitempty"`
	// Preemption says whom the queue's pending jobs may preempt.
	Preemption *QueuePreemption `json:"preemption,omitempty"`
	// LeastAttainedService, when set, orders the queue's jobs of equal
	// priority by the service they have already received (discretised
	// two-dimensional least attained service: GPUs x time held): a job
	// that has held fewer GPU-seconds goes first, so a short job is not
	// stuck behind long ones, without anyone declaring durations. With
	// preemption.withinQueue LowerPriority a job also preempts the
	// queue's jobs of equal priority at a higher level, and with
	// reclaimWithinCohort LowerPriority it takes lent quota back from
	// borrowers' jobs of equal priority at a higher level (levels compare
	// as numbers across queues: give a cohort's queues the same
	// thresholds). With scope Cohort, levels and arrival order the
	// cohort's queues too (see LeastAttainedService.Scope).
	// +optional
	LeastAttainedService *LeastAttainedService `json:"leastAttainedService,omitempty"`
}

// LeastAttainedService splits a queue's jobs into levels by attained
// service: GPU-seconds held by the job's earlier admissions
// (status.attainedGPUSeconds) plus GPUs x time since its current
// admission (status.admission.time). A job is at level k when it has
// attained at least k of the thresholds; lower levels go first. Levels
// order jobs only among equal spec.priority.
type LeastAttainedService struct {
	// ThresholdsGPUSeconds are the attained GPU-seconds at which a job
	// drops one level: increasing positive numbers, e.g. [36000, 3600000]
	// for 10 and 1,000 GPU-hours. Few, widely spaced levels keep
	// preemptions rare: a job can only be preempted by a job of a lower
	// level.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Minimum=1
	ThresholdsGPUSeconds []int64 `json:"thresholdsGPUSeconds"`
	// Scope is Queue (default) or Cohort. Queue: levels order the queue's
	// own jobs, and the cohort's queues take turns by fair share alone.
	// Cohort: the cohort's queues with scope Cohort take turns by their
	// head job's priority and level, then by its arrival (fair share only
	// breaks ties), so that any tenant's fresh job goes before every
	// tenant's long-running one, first come first served within a level
	// (Tiresias across tenants; a queue of the cohort without scope Cohort
	// compares as priority 0, level 0, ahead of any arrival, so give all of
	// a cohort's queues the same setting); and with reclaimWithinCohort
	// set, a job that would borrow may still preempt a job it outranks
	// (equal priority, a higher level) that another such queue runs in a
	// flavor where that queue borrows. Jobs of a queue that does not borrow in a flavor are
	// never preempted by other queues' jobs there; a queue within its
	// nominal quota may, though, wait for lower-level jobs of borrowers,
	// which reclaimWithinCohort Any lets it take back. Needs spec.cohort.
	// +kubebuilder:validation:Enum="";Queue;Cohort
	// +optional
	Scope string `json:"scope,omitempty"`
}

// LeastAttainedService scopes.
const (
	AttainedServiceScopeQueue  = "Queue"
	AttainedServiceScopeCohort = "Cohort"
)

// MaxAttainedServiceLevels bounds spec.leastAttainedService.thresholdsGPUSeconds.
const MaxAttainedServiceLevels = 8

// QueuePreemption is a queue's preemption policy (Kueue's names).
type QueuePreemption struct {
	// WithinQueue is Never (default) or LowerPriority: a pending job may
	// preempt lower-priority jobs admitted by the same queue.
	// +kubebuilder:validation:Enum="";Never;LowerPriority
	WithinQueue string `json:"withinQueue,omitempty"`
	// ReclaimWithinCohort is Never (default), LowerPriority or Any: a queue
	// reclaims its nominal quota from cohort members that borrowed it.
	// +kubebuilder:validation:Enum="";Never;LowerPriority;Any
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
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`
	// Resources are listed once each (so at most cpu, memory and gpu).
	// +optional
	// +kubebuilder:validation:MaxItems=3
	// +listType=map
	// +listMapKey=name
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
	// +kubebuilder:validation:Enum=cpu;memory;gpu
	Name string `json:"name"`
	// +optional
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="nominalQuota must be a non-negative number"
	NominalQuota resource.Quantity `json:"nominalQuota"`
	// BorrowingLimit caps what this queue may borrow from its cohort.
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="borrowingLimit must be a non-negative number"
	BorrowingLimit *resource.Quantity `json:"borrowingLimit,omitempty"`
	// LendingLimit caps what this queue lends to its cohort.
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="lendingLimit must be a non-negative number"
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
// +kubebuilder:resource:scope=Cluster,categories=skiff
// +kubebuilder:printcolumn:name="GPU Model",type=string,JSONPath=`.spec.gpuModel`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Topology",type=string,JSONPath=`.spec.topologyLevels`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Flavor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
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
	// +kubebuilder:validation:items:MaxLength=317
	// +kubebuilder:validation:items:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`
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
