package v1alpha1

// Size limits that keep each object's validation bounded, the same in
// embedded mode and in the CRDs (whose CEL rules the API server refuses
// when an unbounded list could make them too costly).
const (
	MaxReplicaGroups      = 16
	MaxQueueFlavors       = 8
	MaxPolicyDefaults     = 64
	MaxPolicyFieldPathLen = 256
)

// Defaults applied when a field is left out.
const (
	DefaultNamespace    = "default"
	DefaultQueue        = "default"
	DefaultBackoffLimit = int32(3)
)

// Default fills in the fields a user may leave out. It is idempotent.
func Default(obj Object) {
	SetTypeMeta(obj)
	switch o := obj.(type) {
	case *Job:
		if o.Namespace == "" {
			o.Namespace = DefaultNamespace
		}
		if o.Spec.Queue == "" {
			o.Spec.Queue = DefaultQueue
		}
		for i := range o.Spec.ReplicaGroups {
			if o.Spec.ReplicaGroups[i].Replicas == 0 {
				o.Spec.ReplicaGroups[i].Replicas = 1
			}
		}
		if o.Spec.RunPolicy.BackoffLimit == nil {
			b := DefaultBackoffLimit
			o.Spec.RunPolicy.BackoffLimit = &b
		}
		if o.Status.Phase == "" {
			o.Status.Phase = JobPending
		}
	case *Experiment:
		defaultExperiment(o)
	case *Queue:
		if o.Spec.QueueingStrategy == "" {
			o.Spec.QueueingStrategy = StrictFIFO
		}
	case *Policy:
		for i := range o.Spec.Validate {
			if o.Spec.Validate[i].Action == "" {
				o.Spec.Validate[i].Action = PolicyDeny
			}
		}
	case *InferenceService:
		defaultInferenceService(o)
	case *Event:
		if o.Type == "" {
			o.Type = EventNormal
		}
	}
}

// MinCount is the elastic lower bound of a group (Replicas when unset).
func (g ReplicaGroup) MinCount() int32 {
	if g.MinReplicas != nil {
		return *g.MinReplicas
	}
	return g.Replicas
}

// Backoff returns the job's backoff limit with the default applied.
func (p RunPolicy) Backoff() int32 {
	if p.BackoffLimit != nil {
		return *p.BackoffLimit
	}
	return DefaultBackoffLimit
}

// Suspended reports whether runPolicy.suspend is true.
func (p RunPolicy) Suspended() bool { return p.Suspend != nil && *p.Suspend }
