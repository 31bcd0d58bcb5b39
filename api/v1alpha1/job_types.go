package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Job is a batch workload: one or more replica groups that are admitted,
// started and restarted together as a gang.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,categories=skiff
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Queue",type=string,JSONPath=`.spec.queue`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Restarts",type=integer,JSONPath=`.status.restarts`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`,priority=1
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.admission.placements[0].node`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Job struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec JobSpec `json:"spec"`
	// +optional
	Status JobStatus `json:"status,omitempty"`
}

// JobSpec is what the user asks for.
//
// +kubebuilder:validation:XValidation:rule=`!has(self.framework) || self.framework != 'mpi' || (self.replicaGroups.exists(g, g.name == 'launcher') && self.replicaGroups.exists(g, g.name != 'launcher'))`,message="spec.replicaGroups: the mpi preset needs a group named launcher (it runs mpirun) and at least one worker group"
// +kubebuilder:validation:XValidation:rule=`!has(self.successPolicy) || !has(self.successPolicy.group) || size(self.successPolicy.group) == 0 || self.replicaGroups.exists(g, g.name == self.successPolicy.group)`,message="spec.successPolicy.group is not a replica group of this job: name one of spec.replicaGroups"
// +kubebuilder:validation:XValidation:rule=`!has(self.failurePolicy) || !has(self.failurePolicy.restartScope) || self.failurePolicy.restartScope != 'Replica' || !has(self.framework) || size(self.framework) == 0 || self.framework == 'none'`,message="spec.failurePolicy.restartScope: Replica restarts do not work with a framework preset, whose ranks rendezvous once per attempt: use Gang or framework none"
type JobSpec struct {
	// Queue names the Queue the job is submitted to; "default" when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$`
	Queue string `json:"queue,omitempty"`
	// Priority orders jobs within a queue; higher runs first.
	Priority int32 `json:"priority,omitempty"`
	// ReplicaGroups are the kinds of processes the job runs (e.g. launcher, worker).
	// Group names are unique; a job has at most MaxReplicaGroups groups.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	ReplicaGroups []ReplicaGroup `json:"replicaGroups"`
	// RunPolicy says how long the job may run, how often it is retried and
	// whether it is suspended.
	RunPolicy RunPolicy `json:"runPolicy,omitempty"`
	// Topology asks for the gang to be placed within one domain of a
	// topology level (a node label key such as skiff.dev/rack).
	Topology *TopologyRequest `json:"topology,omitempty"`
	// PlacementPolicy is BinPack (default: fill nodes and GPUs to limit
	// fragmentation) or Spread.
	// +kubebuilder:validation:Enum="";BinPack;Spread
	PlacementPolicy string `json:"placementPolicy,omitempty"`
	// Framework injects what a distributed framework expects into every
	// replica: pytorch (MASTER_ADDR, WORLD_SIZE, RANK... and the PET_ forms
	// torchrun reads), mpi (a hostfile for the launcher group), jax
	// (JAX_COORDINATOR_ADDRESS...), or none (default: SKIFF_* identity only).
	// +kubebuilder:validation:Enum="";none;pytorch;mpi;jax
	Framework string `json:"framework,omitempty"`
	// SuccessPolicy says when the job has succeeded; nil means when every
	// replica exited with code 0.
	SuccessPolicy *SuccessPolicy `json:"successPolicy,omitempty"`
	// FailurePolicy says what a failed replica leads to; nil means the whole
	// gang is restarted after any failure, up to runPolicy.backoffLimit times.
	FailurePolicy *FailurePolicy `json:"failurePolicy,omitempty"`
	// CheckpointDir is where replicas keep checkpoints ($SKIFF_CHECKPOINT_DIR),
	// kept across restarts, preemptions and suspends. A relative path is
	// resolved under <data-dir>/checkpoints/<namespace>/; an absolute one
	// must lie there too. Empty means a directory of the job's own, which
	// is removed with the job.
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule=`!self.contains('\u0000')`,message="spec.checkpointDir contains a NUL byte: use a plain path"
	// +kubebuilder:validation:XValidation:rule=`size(self) == 0 || self.startsWith('/') || !self.split('/').exists(s, s == '..')`,message="spec.checkpointDir leaves the namespace's checkpoint directory: use a path without '..', e.g. my-run"
	// +kubebuilder:validation:XValidation:rule=`size(self) == 0 || self.startsWith('/') || self.split('/').exists(s, s != '' && s != '.')`,message="spec.checkpointDir names the namespace's checkpoint directory itself: use a subdirectory, e.g. my-run"
	// +kubebuilder:validation:XValidation:rule=`size(self) == 0 || self.startsWith('/') || self.split('/').exists(s, s == '..') || self.split('/').filter(s, s != '' && s != '.')[0] != '_jobs'`,message="spec.checkpointDir is inside _jobs/, which holds the directories of jobs without a checkpointDir: choose another path"
	CheckpointDir string `json:"checkpointDir,omitempty"`
}

// SuccessPolicy names what must succeed for the job to succeed.
type SuccessPolicy struct {
	// Group, when set, makes the job succeed as soon as every replica of
	// this group exited with code 0 (e.g. an MPI launcher); the other
	// replicas are then stopped.
	Group string `json:"group,omitempty"`
}

// FailurePolicy says how replica failures are handled.
type FailurePolicy struct {
	// RestartScope is Gang (default: every replica of the attempt is
	// stopped and the gang starts again) or Replica (only the failed
	// replica starts again; the others keep running).
	// +kubebuilder:validation:Enum="";Gang;Replica
	RestartScope string `json:"restartScope,omitempty"`
	// RestartPolicy is OnFailure (default: any failure is retried), ExitCode
	// (exit codes 1-127 are permanent and fail the job at once; 128 and up,
	// killed by a signal, are retried) or Never (the first failure fails the
	// job).
	// +kubebuilder:validation:Enum="";OnFailure;ExitCode;Never
	RestartPolicy string `json:"restartPolicy,omitempty"`
	// MaxRestarts is how many restarts are allowed before the job fails;
	// it replaces runPolicy.backoffLimit when set. In Replica scope it
	// counts per replica.
	// +kubebuilder:validation:Minimum=0
	MaxRestarts *int32 `json:"maxRestarts,omitempty"`
	// BackoffSeconds is the delay before the first restart; it doubles
	// with every restart up to MaxBackoffSeconds. Unset: the server's
	// default (1s, doubling up to 5 minutes).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	BackoffSeconds *int32 `json:"backoffSeconds,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	MaxBackoffSeconds *int32 `json:"maxBackoffSeconds,omitempty"`
}

// Restart scopes and policies of a FailurePolicy.
const (
	RestartGang            = "Gang"
	RestartReplica         = "Replica"
	RestartOnFailure       = "OnFailure"
	RestartOnExitCode      = "ExitCode"
	RestartNever           = "Never"
	MaxBackoffSecondsLimit = 86400
)

// Framework presets.
const (
	FrameworkNone    = "none"
	FrameworkPyTorch = "pytorch"
	FrameworkMPI     = "mpi"
	FrameworkJAX     = "jax"
)

// MPILauncherGroup is the replica group that runs mpirun under the mpi preset.
const MPILauncherGroup = "launcher"

// TopologyRequest names the topology level a gang must (Required) or
// should (Preferred) fit in. Exactly one is set.
//
// +kubebuilder:validation:XValidation:rule=`(has(self.required) && size(self.required) > 0) != (has(self.preferred) && size(self.preferred) > 0)`,message="spec.topology: set exactly one of required or preferred to a topology level, e.g. {required: skiff.dev/rack}"
type TopologyRequest struct {
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^(([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`
	Required string `json:"required,omitempty"`
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^(([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`
	Preferred string `json:"preferred,omitempty"`
}

// Placement policies.
const (
	BinPack = "BinPack"
	Spread  = "Spread"
)

// ReplicaGroup is a set of identical replicas.
//
// +kubebuilder:validation:XValidation:rule=`!has(self.minReplicas) || self.minReplicas <= (has(self.replicas) ? self.replicas : 1)`,message="minReplicas is out of range: use 1 to replicas"
type ReplicaGroup struct {
	// Name is at most 20 lower-case letters and digits, starting with a
	// letter (no '-', so that a replica name <job>-<group>-<index>-<attempt>
	// names exactly one job and group).
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:Pattern=`^[a-z][a-z0-9]*$`
	Name string `json:"name"`
	// Replicas is how many processes of this group run (1 when unset).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	Replicas int32 `json:"replicas,omitempty"`
	// MinReplicas is the elastic lower bound; when unset it equals Replicas.
	// +kubebuilder:validation:Minimum=1
	MinReplicas *int32          `json:"minReplicas,omitempty"`
	Template    ReplicaTemplate `json:"template"`
}

// ReplicaTemplate describes one replica's process.
type ReplicaTemplate struct {
	// Command is the program and its first arguments; the program is required.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:XValidation:rule=`size(self[0]) > 0`,message="template.command: required: give the program to run, e.g. [\"python3\", \"train.py\"]"
	Command    []string `json:"command"`
	Args       []string `json:"args,omitempty"`
	Env        []EnvVar `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	// Image is used in Kubernetes mode; the local runtime runs Command on the host.
	Image     string    `json:"image,omitempty"`
	Resources Resources `json:"resources,omitempty"`
}

// EnvVar is one environment variable of a replica.
type EnvVar struct {
	// Name is letters, digits, '_', '-' and '.', not starting with a digit
	// or '..'; it may not use the SKIFF_ prefix, which skiff sets itself.
	// +kubebuilder:validation:Pattern=`^([-_a-zA-Z][-._a-zA-Z0-9]*|[.][-_a-zA-Z0-9][-._a-zA-Z0-9]*)$`
	// +kubebuilder:validation:XValidation:rule=`!self.startsWith('SKIFF_')`,message="env name uses the reserved SKIFF_ prefix: rename the variable"
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Resources is what one replica requests.
type Resources struct {
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="cpu must be a non-negative number"
	CPU *resource.Quantity `json:"cpu,omitempty"`
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="memory must be a non-negative number"
	Memory *resource.Quantity `json:"memory,omitempty"`
	// +kubebuilder:validation:XValidation:rule=`type(self) == string ? !self.startsWith('-') : self >= 0`,message="gpu must be a non-negative number"
	GPU *resource.Quantity `json:"gpu,omitempty"`
}

// RunPolicy bounds a job's execution.
type RunPolicy struct {
	// BackoffLimit is how many times the job is restarted after a failure
	// before it is marked Failed.
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// ActiveDeadlineSeconds fails the job when it has been running longer.
	// +kubebuilder:validation:Minimum=1
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// Suspend stops the job's replicas and keeps it from being admitted.
	Suspend *bool `json:"suspend,omitempty"`
	// TTLSecondsAfterFinished deletes the job this long after it finished.
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// EstimatedSeconds is the user's runtime estimate; backfill uses it (or
	// activeDeadlineSeconds) to tell whether a job delays a reserved start.
	// +kubebuilder:validation:Minimum=1
	EstimatedSeconds *int64 `json:"estimatedSeconds,omitempty"`
	// TerminationGracePeriodSeconds is how long replicas get between
	// SIGTERM and SIGKILL when they are stopped (preemption, suspend, a
	// gang restart, the deadline): time to write a checkpoint. Unset: the
	// server's default (stopGraceSeconds, 10s).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// JobPhase is the coarse state of a job.
type JobPhase string

// The phases a Job moves through.
const (
	JobPending   JobPhase = "Pending"
	JobAdmitted  JobPhase = "Admitted"
	JobRunning   JobPhase = "Running"
	JobSucceeded JobPhase = "Succeeded"
	JobFailed    JobPhase = "Failed"
	JobSuspended JobPhase = "Suspended"
)

// Condition types of a Job.
const (
	JobConditionAdmitted  = "Admitted"
	JobConditionRunning   = "Running"
	JobConditionSucceeded = "Succeeded"
	JobConditionFailed    = "Failed"
)

// JobStatus is what the system observed.
type JobStatus struct {
	Phase      JobPhase           `json:"phase,omitempty"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Restarts counts how many times the gang was restarted after a failure.
	Restarts int32 `json:"restarts,omitempty"`
	// Attempt is the current gang attempt; replica names end with it.
	Attempt int32 `json:"attempt,omitempty"`
	// Admission is where the scheduler placed the job; nil until admitted.
	Admission *Admission `json:"admission,omitempty"`
	// NominatedFlavor is set by the scheduler on a pending job that
	// preempted others to make room for it in this flavor: once they have
	// stopped, its queue is considered before the others, so that the room
	// goes to it and not to whichever queue comes first. Cleared when the
	// job is admitted.
	// +optional
	NominatedFlavor string `json:"nominatedFlavor,omitempty"`
	// Replicas are the replicas of the current attempt.
	Replicas []ReplicaStatus `json:"replicas,omitempty"`
	// NextAttemptTime is when a restarting job starts its next attempt.
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`
	StartTime       *metav1.Time `json:"startTime,omitempty"`
	CompletionTime  *metav1.Time `json:"completionTime,omitempty"`
	// ObservedGeneration is the spec generation the controller last acted on.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// CoordinatorPort is the rendezvous port of the current attempt under
	// the pytorch and jax presets (MASTER_PORT), chosen free and stored
	// before any replica starts.
	CoordinatorPort int32 `json:"coordinatorPort,omitempty"`
	// Preemptions counts how often the job was preempted and requeued.
	Preemptions int32 `json:"preemptions,omitempty"`
	// Preemption, while set, says the scheduler evicted the current attempt:
	// the controller stops its replicas and requeues the job.
	Preemption *PreemptionNotice `json:"preemption,omitempty"`
	// CheckpointDir is the resolved $SKIFF_CHECKPOINT_DIR of the job's
	// replicas, the same for every attempt.
	CheckpointDir string `json:"checkpointDir,omitempty"`
	// AttainedGPUSeconds is the service the job's earlier admissions
	// received: GPUs held x time from admission to release, summed. The
	// job controller adds an admission's share when it releases it; a
	// queue with leastAttainedService orders jobs by it (plus the current
	// admission's share).
	AttainedGPUSeconds int64 `json:"attainedGPUSeconds,omitempty"`
}

// PreemptionResize is the PreemptionNotice reason of an elastic job that is
// restarted at a larger size because capacity freed up; it is no
// preemption and is not counted as one.
const PreemptionResize = "Resize"

// PreemptionNotice records why and for whom a job was preempted.
type PreemptionNotice struct {
	// Reason is InQueue (a higher-priority job of the same queue) or
	// Reclaim (the lending queue takes its quota back).
	Reason string `json:"reason"`
	// By is the namespace/name of the job the resources go to, or "a job
	// of another namespace" when it is not in the victim's.
	By      string `json:"by"`
	Message string `json:"message,omitempty"`
	// PreemptorUID is the uid of the job the resources go to, by which
	// the scheduler recognises its own preemptions in flight (it reveals
	// nothing about a job of another namespace).
	// +optional
	PreemptorUID types.UID `json:"preemptorUID,omitempty"`
	// +optional
	Time metav1.Time `json:"time"`
}

// Admission records the scheduler's decision for a job.
type Admission struct {
	Queue      string      `json:"queue"`
	Flavor     string      `json:"flavor,omitempty"`
	Placements []Placement `json:"placements,omitempty"`
	// Time is when the scheduler admitted the job: the admission holds
	// its resources from then on (attained service counts from it).
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}

// Placement binds one replica to a node and, for GPU replicas, to GPU indices.
type Placement struct {
	Group string  `json:"group"`
	Index int32   `json:"index"`
	Node  string  `json:"node"`
	GPUs  []int32 `json:"gpus,omitempty"`
	// GPUMilli, when between 1 and 999, is the share of the single GPU in
	// GPUs this replica may use (fractional GPU sharing).
	GPUMilli int64 `json:"gpuMilli,omitempty"`
}

// ReplicaState is the state of one replica process.
type ReplicaState string

// Replica states.
const (
	ReplicaPending   ReplicaState = "Pending"
	ReplicaRunning   ReplicaState = "Running"
	ReplicaSucceeded ReplicaState = "Succeeded"
	ReplicaFailed    ReplicaState = "Failed"
)

// ReplicaStatus is one replica of the current attempt.
type ReplicaStatus struct {
	// Name is <job>-<group>-<index>-<attempt>.
	Name       string       `json:"name"`
	Group      string       `json:"group"`
	Index      int32        `json:"index"`
	Attempt    int32        `json:"attempt"`
	State      ReplicaState `json:"state"`
	ExitCode   *int32       `json:"exitCode,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	Message    string       `json:"message,omitempty"`
	StartedAt  *metav1.Time `json:"startedAt,omitempty"`
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Restarts counts how often this replica alone was restarted
	// (failurePolicy.restartScope: Replica).
	Restarts int32 `json:"restarts,omitempty"`
	// NotBefore delays the start of a restarted replica (its backoff).
	NotBefore *metav1.Time `json:"notBefore,omitempty"`
}

// JobList is a list of Jobs.
//
// +kubebuilder:object:root=true
type JobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Job `json:"items"`
}
