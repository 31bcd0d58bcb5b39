package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Experiment is a hyperparameter search: it runs trials, each an ordinary
// Job made from spec.trialTemplate with the trial's parameters filled in,
// and keeps the best one.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=exp,categories=skiff
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Algorithm",type=string,JSONPath=`.spec.algorithm.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Max Trials",type=integer,JSONPath=`.spec.maxTrials`
// +kubebuilder:printcolumn:name="Best",type=string,JSONPath=`.status.bestTrial`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Objective",type=string,JSONPath=`.spec.objective.metricName`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`,priority=1
// +kubebuilder:validation:XValidation:rule=`self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 63`,message="metadata.name is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
type Experiment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ExperimentSpec `json:"spec"`
	// +optional
	Status ExperimentStatus `json:"status,omitempty"`
}

// ExperimentSpec is the search a user asks for.
//
// +kubebuilder:validation:XValidation:rule=`!has(self.parallelTrials) || self.parallelTrials <= self.maxTrials`,message="spec.parallelTrials is more than maxTrials: lower parallelTrials or raise maxTrials"
type ExperimentSpec struct {
	// Parameters is the search space, one entry per hyperparameter, each
	// with its own name.
	// +kubebuilder:validation:MinItems=1
	// +listType=map
	// +listMapKey=name
	Parameters []ParameterSpec `json:"parameters"`
	// Objective names the metric trials report and which way is better.
	Objective ObjectiveSpec `json:"objective"`
	// Algorithm proposes each trial's parameters; tpe when unset.
	Algorithm AlgorithmSpec `json:"algorithm,omitempty"`
	// EarlyStopping, when set, ends unpromising trials before they finish.
	EarlyStopping *EarlyStoppingSpec `json:"earlyStopping,omitempty"`
	// ParallelTrials is how many trials run at once (default 1).
	// +kubebuilder:validation:Minimum=0
	ParallelTrials int32 `json:"parallelTrials,omitempty"`
	// MaxTrials is how many trials the experiment runs at most.
	// +kubebuilder:validation:Minimum=1
	MaxTrials int32 `json:"maxTrials"`
	// MaxFailedTrials fails the experiment once more trials than this have
	// failed (default 3).
	// +kubebuilder:validation:Minimum=0
	MaxFailedTrials *int32 `json:"maxFailedTrials,omitempty"`
	// TrialTemplate is the Job every trial runs. ${params.NAME} in a
	// replica's args and env values is replaced by the trial's value of
	// parameter NAME.
	TrialTemplate JobSpec `json:"trialTemplate"`
}

// Parameter types of an Experiment's search space.
const (
	ParameterDouble      = "double"
	ParameterInt         = "int"
	ParameterCategorical = "categorical"
	ParameterDiscrete    = "discrete"
)

// ParameterSpec is one dimension of the search space.
//
// +kubebuilder:validation:XValidation:rule=`!(self.type in ['double', 'int']) || (has(self.min) && has(self.max))`,message="a double or int parameter needs min and max"
// +kubebuilder:validation:XValidation:rule=`self.type in ['double', 'int'] || (!has(self.min) && !has(self.max))`,message="min and max apply to double and int parameters; list the choices in values (categorical) or numbers (discrete)"
// +kubebuilder:validation:XValidation:rule=`!has(self.min) || !has(self.max) || self.min < self.max`,message="max must be greater than min; for a fixed value put it in the trial template instead"
// +kubebuilder:validation:XValidation:rule=`!has(self.log) || !self.log || (self.type in ['double', 'int'] && (!has(self.min) || self.min > 0.0))`,message="log applies to double and int parameters with min > 0"
// +kubebuilder:validation:XValidation:rule=`!(self.type in ['double', 'int']) || ((!has(self.values) || size(self.values) == 0) && (!has(self.numbers) || size(self.numbers) == 0))`,message="a range parameter takes min and max, not a list of values; use type categorical or discrete for a list"
// +kubebuilder:validation:XValidation:rule=`self.type != 'categorical' || (has(self.values) && size(self.values) > 0)`,message="a categorical parameter needs at least one value"
// +kubebuilder:validation:XValidation:rule=`self.type != 'discrete' || (has(self.numbers) && size(self.numbers) > 0)`,message="a discrete parameter needs at least one number"
type ParameterSpec struct {
	// Name is how the trial template refers to it: ${params.NAME}.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_-]*$`
	Name string `json:"name"`
	// Type is double, int, categorical or discrete.
	// +kubebuilder:validation:Enum=double;int;categorical;discrete
	Type string `json:"type"`
	// Min and Max bound a double or int parameter (both inclusive).
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Log searches a double or int parameter uniformly in log(value).
	Log bool `json:"log,omitempty"`
	// Values are the labels of a categorical parameter, each listed once.
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`\S`
	Values []string `json:"values,omitempty"`
	// Numbers are the choices of a discrete parameter; their order is used
	// as a neighbourhood by model-based algorithms. Each is listed once.
	// +listType=set
	Numbers []float64 `json:"numbers,omitempty"`
}

// Objective types.
const (
	Minimize = "minimize"
	Maximize = "maximize"
)

// ObjectiveSpec says what a trial is judged by.
type ObjectiveSpec struct {
	// MetricName is the metric trials report (skiff:metric NAME=VALUE, or
	// the metrics API); a trial's objective is its last reported value.
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_.:/-]*$`
	MetricName string `json:"metricName"`
	// Type is minimize or maximize.
	// +kubebuilder:validation:Enum=minimize;maximize
	Type string `json:"type"`
	// Goal ends the experiment early once a trial's objective reaches it.
	Goal *float64 `json:"goal,omitempty"`
}

// AlgorithmSpec names a search algorithm (random, grid, tpe) and its
// settings.
type AlgorithmSpec struct {
	// Name is random, grid or tpe (default).
	// +kubebuilder:validation:Enum="";random;grid;tpe
	Name string `json:"name,omitempty"`
	// Settings are the algorithm's options as strings, e.g. gamma: "0.25"
	// for tpe, points: "5" for grid.
	Settings map[string]string `json:"settings,omitempty"`
	// Seed fixes the algorithm's random choices; derived from the
	// experiment's UID when unset.
	Seed *int64 `json:"seed,omitempty"`
}

// EarlyStoppingSpec names an early-stopping rule (asha, hyperband, median)
// and its settings, e.g. maxResource: "81" for asha. Trials must report
// the objective metric with a step for it to act.
type EarlyStoppingSpec struct {
	// +kubebuilder:validation:Enum=asha;hyperband;median
	Name     string            `json:"name"`
	Settings map[string]string `json:"settings,omitempty"`
}

// ExperimentPhase is the coarse state of an experiment.
type ExperimentPhase string

// Experiment phases.
const (
	ExperimentRunning   ExperimentPhase = "Running"
	ExperimentSucceeded ExperimentPhase = "Succeeded"
	ExperimentFailed    ExperimentPhase = "Failed"
)

// Condition types of an Experiment.
const (
	ExperimentConditionRunning   = "Running"
	ExperimentConditionSucceeded = "Succeeded"
	ExperimentConditionFailed    = "Failed"
)

// Reasons an experiment ends.
const (
	ReasonMaxTrialsReached       = "MaxTrialsReached"
	ReasonGoalReached            = "GoalReached"
	ReasonSearchSpaceExhausted   = "SearchSpaceExhausted"
	ReasonMaxFailedTrialsReached = "MaxFailedTrialsReached"
	ReasonMetricNeverReported    = "MetricNeverReported"
)

// TrialState is the state of one trial.
type TrialState string

// Trial states.
const (
	TrialPending      TrialState = "Pending"
	TrialRunning      TrialState = "Running"
	TrialSucceeded    TrialState = "Succeeded"
	TrialFailed       TrialState = "Failed"
	TrialEarlyStopped TrialState = "EarlyStopped"
)

// ExperimentStatus is what the controller observed.
type ExperimentStatus struct {
	Phase      ExperimentPhase    `json:"phase,omitempty"`
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Trials are in the order they were suggested; a trial is recorded
	// here, with its parameters, before its Job is created.
	Trials []TrialStatus `json:"trials,omitempty"`
	// BestTrial names the trial with the best objective so far.
	BestTrial string `json:"bestTrial,omitempty"`
	// Reason and Message say why the experiment ended.
	Reason         string       `json:"reason,omitempty"`
	Message        string       `json:"message,omitempty"`
	StartTime      *metav1.Time `json:"startTime,omitempty"`
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// TrialStatus is one trial of an experiment.
type TrialStatus struct {
	// Name is the trial's Job name: <experiment>-<index>.
	Name string `json:"name"`
	// Parameters are the trial's values, as substituted into its template.
	// +optional
	Parameters map[string]string `json:"parameters"`
	State      TrialState        `json:"state"`
	// Objective is the last reported value of the objective metric.
	Objective *float64 `json:"objective,omitempty"`
	// Step is the step of that report.
	Step    int64  `json:"step,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ExperimentList is a list of Experiments.
//
// +kubebuilder:object:root=true
type ExperimentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Experiment `json:"items"`
}
