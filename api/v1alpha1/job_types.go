package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Job is a batch workload: one or more replica groups that are admitted,
// started and restarted together as a gang.
//
// +kubebuilder:object:root=true
type Job struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   JobSpec   `json:"spec"`
	Status JobStatus `json:"status,omitempty"`
}

// JobSpec is what the user asks for.
type JobSpec struct {
	// Queue names the Queue the job is submitted to; "default" when empty.
	Queue string `json:"queue,omitempty"`
	// Priority orders jobs within a queue; higher runs first.
	Priority int32 `json:"priority,omitempty"`
	// ReplicaGroups are the kinds of processes the job runs (e.g. launcher, worker).
	ReplicaGroups []ReplicaGroup `json:"replicaGroups"`
	// RunPolicy says how long the job may run, how often it is retried and
	// whether it is suspended.
	RunPolicy RunPolicy `json:"runPolicy,omitempty"`
	// Topology asks for the gang to be placed within one domain of a
	// topology level (a node label key such as skiff.dev/rack).
	Topology *TopologyRequest `json:"topology,omitempty"`
	// PlacementPolicy is BinPack (default: fill nodes and GPUs to limit
	// fragmentation) or Spread.
	PlacementPolicy string `json:"placementPolicy,omitempty"`
	// Framework injects what a distributed framework expects into every
	// replica: pytorch (MASTER_ADDR, WORLD_SIZE, RANK... and the PET_ forms
	// torchrun reads), mpi (a hostfile for the launcher group), jax
	// (JAX_COORDINATOR_ADDRESS...), or none (default: SKIFF_* identity only).
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
	RestartScope string `json:"restartScope,omitempty"`
	// RestartPolicy is OnFailure (default: any failure is retried), ExitCode
	// (exit codes 1-127 are permanent and fail the job at once; 128 and up,
	// killed by a signal, are retried) or Never (the first failure fails the
	// job).
	RestartPolicy string `json:"restartPolicy,omitempty"`
	// MaxRestarts is how many restarts are allowed before the job fails;
	// it replaces runPolicy.backoffLimit when set. In Replica scope it
	// counts per replica.
	MaxRestarts *int32 `json:"maxRestarts,omitempty"`
	// BackoffSeconds is the delay before the first restart; it doubles
	// with every restart up to MaxBackoffSeconds. Unset: the server's
	// default (1s, doubling up to 5 minutes).
	BackoffSeconds    *int32 `json:"backoffSeconds,omitempty"`
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
type TopologyRequest struct {
	Required  string `json:"required,omitempty"`
	Preferred string `json:"preferred,omitempty"`
}

// Placement policies.
const (
	BinPack = "BinPack"
	Spread  = "Spread"
)

// ReplicaGroup is a set of identical replicas.
type ReplicaGroup struct {
	Name string `json:"name"`
	// Replicas is how many processes of this group run.
	Replicas int32 `json:"replicas,omitempty"`
	// MinReplicas is the elastic lower bound; when unset it equals Replicas.
	MinReplicas *int32          `json:"minReplicas,omitempty"`
	Template    ReplicaTemplate `json:"template"`
}

// ReplicaTemplate describes one replica's process.
type ReplicaTemplate struct {
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
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Resources is what one replica requests.
type Resources struct {
	CPU    *resource.Quantity `json:"cpu,omitempty"`
	Memory *resource.Quantity `json:"memory,omitempty"`
	GPU    *resource.Quantity `json:"gpu,omitempty"`
}

// RunPolicy bounds a job's execution.
type RunPolicy struct {
	// BackoffLimit is how many times the job is restarted after a failure
	// before it is marked Failed.
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// ActiveDeadlineSeconds fails the job when it has been running longer.
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// Suspend stops the job's replicas and keeps it from being admitted.
	Suspend *bool `json:"suspend,omitempty"`
	// TTLSecondsAfterFinished deletes the job this long after it finished.
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// EstimatedSeconds is the user's runtime estimate; backfill uses it (or
	// activeDeadlineSeconds) to tell whether a job delays a reserved start.
	EstimatedSeconds *int64 `json:"estimatedSeconds,omitempty"`
	// TerminationGracePeriodSeconds is how long replicas get between
	// SIGTERM and SIGKILL when they are stopped (preemption, suspend, a
	// gang restart, the deadline): time to write a checkpoint. Unset: the
	// server's default (stopGraceSeconds, 10s).
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
	// By is the namespace/name of the job the resources go to.
	By      string      `json:"by"`
	Message string      `json:"message,omitempty"`
	Time    metav1.Time `json:"time"`
}

// Admission records the scheduler's decision for a job.
type Admission struct {
	Queue      string      `json:"queue"`
	Flavor     string      `json:"flavor,omitempty"`
	Placements []Placement `json:"placements,omitempty"`
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
