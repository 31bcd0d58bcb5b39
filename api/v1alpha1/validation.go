package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks an object after defaulting. The error lists every problem
// as "field.path: what is wrong: how to fix it"; nil means valid.
func Validate(obj Object) error {
	errs := ValidateFields(obj)
	if len(errs) == 0 {
		return nil
	}
	return NewValidationError(kindName(obj), obj.GetName(), errs)
}

// NewValidationError builds the error Validate returns, for checks made
// elsewhere (e.g. admission) that should read the same way.
func NewValidationError(kind, name string, errs field.ErrorList) *ValidationError {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		d := e.Detail
		if d == "" {
			// field.Duplicate and the like carry their message in the
			// error's type and value.
			d = e.ErrorBody()
		}
		msgs = append(msgs, e.Field+": "+d)
	}
	return &ValidationError{Kind: kind, Name: name, Errors: errs, msg: strings.Join(msgs, "; ")}
}

// ValidationError is returned by Validate.
//
// +kubebuilder:object:generate=false
type ValidationError struct {
	Kind, Name string
	Errors     field.ErrorList
	msg        string
}

func (e *ValidationError) Error() string { return e.msg }

func kindName(obj Object) string {
	if k, err := KindOf(obj); err == nil {
		return k.Kind
	}
	return fmt.Sprintf("%T", obj)
}

// ValidateFields returns the field errors of obj; Detail already says how
// to fix each.
func ValidateFields(obj Object) field.ErrorList {
	k, err := KindOf(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	errs := validateMeta(k, obj)
	switch o := obj.(type) {
	case *Job:
		errs = append(errs, validateJobSpec(&o.Spec, field.NewPath("spec"))...)
	case *Experiment:
		errs = append(errs, validateExperimentSpec(&o.Spec, field.NewPath("spec"))...)
		errs = append(errs, childNamesFit(o.Name, "-"+strconv.Itoa(int(max(o.Spec.MaxTrials, 1))-1), "trial jobs")...)
	case *Queue:
		errs = append(errs, validateQueueSpec(&o.Spec, field.NewPath("spec"))...)
	case *Flavor:
		errs = append(errs, validateFlavorSpec(&o.Spec, field.NewPath("spec"))...)
	case *Node:
		errs = append(errs, validateCapacity(o.Spec.Capacity, field.NewPath("spec", "capacity"))...)
	case *Namespace:
		errs = append(errs, validateNamespaceSpec(&o.Spec, field.NewPath("spec"))...)
	case *Token:
		errs = append(errs, validateTokenSpec(&o.Spec, field.NewPath("spec"))...)
	case *Policy:
		errs = append(errs, validatePolicySpec(&o.Spec, field.NewPath("spec"))...)
	case *InferenceService:
		errs = append(errs, validateInferenceServiceSpec(&o.Spec, field.NewPath("spec"))...)
		// Replica jobs are <name>-<i>, and <name>-canary<i> when a
		// canary percent is set.
		slot := "-"
		if o.Spec.CanaryTrafficPercent != nil {
			slot = "-canary"
		}
		errs = append(errs, childNamesFit(o.Name, slot+strconv.Itoa(max(int(o.Spec.MaxReplicas), 1)-1), "replica jobs")...)
	case *Event:
		if o.InvolvedObject.Name == "" {
			errs = append(errs, detail(field.NewPath("involvedObject", "name"), "required: name the object the event is about"))
		}
	}
	return errs
}

func detail(p *field.Path, msg string) *field.Error {
	return &field.Error{Type: field.ErrorTypeInvalid, Field: p.String(), Detail: msg}
}

func validateMeta(k Kind, obj Object) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	if obj.GetName() == "" && obj.GetGenerateName() == "" {
		errs = append(errs, detail(meta.Child("name"), "required: set metadata.name"))
	} else if obj.GetName() != "" && k.Kind == "Event" {
		// Events are named <object>.<time>, as in Kubernetes.
		if msgs := validation.IsDNS1123Subdomain(obj.GetName()); len(msgs) > 0 {
			errs = append(errs, detail(meta.Child("name"), fmt.Sprintf("%q is not a valid event name: use at most 253 lower-case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit", obj.GetName())))
		}
	} else if obj.GetName() != "" {
		errs = append(errs, dnsLabel(meta.Child("name"), obj.GetName())...)
	}
	if k.Namespaced {
		if obj.GetNamespace() != "" {
			errs = append(errs, dnsLabel(meta.Child("namespace"), obj.GetNamespace())...)
		}
	} else if obj.GetNamespace() != "" {
		errs = append(errs, detail(meta.Child("namespace"), fmt.Sprintf("%s is cluster-scoped: remove metadata.namespace", k.Kind)))
	}
	for _, e := range metav1validation.ValidateLabels(obj.GetLabels(), meta.Child("labels")) {
		errs = append(errs, detail(field.NewPath(e.Field), fmt.Sprintf("%v: %s", e.BadValue, e.Detail)))
	}
	return errs
}

// childNamesFit checks that the names a controller makes from name and
// suffix (the longest suffix it appends) are valid names too, so an
// object is refused when it is created rather than failing later.
func childNamesFit(name, suffix, children string) field.ErrorList {
	if name == "" || len(name) > maxNameLength || len(name)+len(suffix) <= maxNameLength {
		return nil
	}
	return field.ErrorList{detail(field.NewPath("metadata", "name"), fmt.Sprintf("%q is too long: its %s are named %s%s, at most %d characters: use a name of at most %d characters",
		name, children, "<name>", suffix, maxNameLength, maxNameLength-len(suffix)))}
}

// maxNameLength is the longest valid name (a DNS label).
const maxNameLength = 63

func dnsLabel(p *field.Path, v string) field.ErrorList {
	if msgs := validation.IsDNS1123Label(v); len(msgs) > 0 {
		return field.ErrorList{detail(p, fmt.Sprintf("%q is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit", v))}
	}
	return nil
}

func validateJobSpec(s *JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Queue != "" {
		errs = append(errs, dnsLabel(p.Child("queue"), s.Queue)...)
	}
	if len(s.ReplicaGroups) == 0 {
		errs = append(errs, detail(p.Child("replicaGroups"), "required: add at least one replica group with a name, replicas and a template.command"))
	}
	if len(s.ReplicaGroups) > MaxReplicaGroups {
		errs = append(errs, detail(p.Child("replicaGroups"), fmt.Sprintf("%d groups: use at most %d (replicas of one kind share a group)", len(s.ReplicaGroups), MaxReplicaGroups)))
	}
	seen := map[string]bool{}
	for i, g := range s.ReplicaGroups {
		gp := p.Child("replicaGroups").Index(i)
		if g.Name == "" {
			errs = append(errs, detail(gp.Child("name"), "required: name the group, e.g. worker"))
		} else {
			errs = append(errs, groupName(gp.Child("name"), g.Name)...)
			if seen[g.Name] {
				errs = append(errs, detail(gp.Child("name"), fmt.Sprintf("duplicate group name %q: give each group its own name", g.Name)))
			}
			seen[g.Name] = true
		}
		if g.Replicas < 1 || g.Replicas > 1024 {
			errs = append(errs, detail(gp.Child("replicas"), fmt.Sprintf("%d is out of range: use 1 to 1024", g.Replicas)))
		}
		if g.MinReplicas != nil && (*g.MinReplicas < 1 || *g.MinReplicas > g.Replicas) {
			errs = append(errs, detail(gp.Child("minReplicas"), fmt.Sprintf("%d is out of range: use 1 to replicas (%d)", *g.MinReplicas, g.Replicas)))
		}
		tp := gp.Child("template")
		if len(g.Template.Command) == 0 || g.Template.Command[0] == "" {
			errs = append(errs, detail(tp.Child("command"), "required: give the program to run, e.g. [\"python3\", \"train.py\"]"))
		}
		envAt := map[string]int{}
		for j, e := range g.Template.Env {
			ep := tp.Child("env").Index(j).Child("name")
			if len(validation.IsEnvVarName(e.Name)) > 0 || e.Name == "" {
				errs = append(errs, detail(ep, fmt.Sprintf("%q is not a valid environment variable name: use letters, digits and '_'", e.Name)))
			} else if strings.HasPrefix(e.Name, "SKIFF_") {
				errs = append(errs, detail(ep, fmt.Sprintf("%q uses the reserved SKIFF_ prefix: rename the variable", e.Name)))
			} else if first, ok := envAt[e.Name]; ok {
				errs = append(errs, detail(ep, fmt.Sprintf("%q is also set by env[%d]: set each variable once", e.Name, first)))
			} else {
				envAt[e.Name] = j
			}
		}
		errs = append(errs, validateResources(g.Template.Resources, tp.Child("resources"))...)
	}
	if t := s.Topology; t != nil {
		tp := p.Child("topology")
		switch {
		case (t.Required == "") == (t.Preferred == ""):
			errs = append(errs, detail(tp, "set exactly one of required or preferred to a topology level, e.g. {required: skiff.dev/rack}"))
		default:
			level := t.Required + t.Preferred
			for _, m := range validation.IsQualifiedName(level) {
				errs = append(errs, detail(tp, fmt.Sprintf("%q is not a node label key: %s", level, m)))
			}
		}
	}
	switch s.Framework {
	case "", FrameworkNone, FrameworkPyTorch, FrameworkJAX:
	case FrameworkMPI:
		hasLauncher, hasWorker := false, false
		for _, g := range s.ReplicaGroups {
			if g.Name == MPILauncherGroup {
				hasLauncher = true
			} else {
				hasWorker = true
			}
		}
		if !hasLauncher || !hasWorker {
			errs = append(errs, detail(p.Child("replicaGroups"), "the mpi preset needs a group named launcher (it runs mpirun) and at least one worker group"))
		}
	default:
		errs = append(errs, detail(p.Child("framework"), fmt.Sprintf("%q is not a preset: use pytorch, mpi, jax or none", s.Framework)))
	}
	switch s.PlacementPolicy {
	case "", BinPack, Spread:
	default:
		errs = append(errs, detail(p.Child("placementPolicy"), fmt.Sprintf("%q is not a policy: use BinPack or Spread", s.PlacementPolicy)))
	}
	rp := p.Child("runPolicy")
	if e := s.RunPolicy.EstimatedSeconds; e != nil && *e <= 0 {
		errs = append(errs, detail(rp.Child("estimatedSeconds"), "must be a positive number of seconds"))
	}
	if b := s.RunPolicy.BackoffLimit; b != nil && *b < 0 {
		errs = append(errs, detail(rp.Child("backoffLimit"), "must be 0 or more"))
	}
	if d := s.RunPolicy.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		errs = append(errs, detail(rp.Child("activeDeadlineSeconds"), "must be a positive number of seconds"))
	}
	if t := s.RunPolicy.TTLSecondsAfterFinished; t != nil && *t < 0 {
		errs = append(errs, detail(rp.Child("ttlSecondsAfterFinished"), "must be 0 or more"))
	}
	errs = append(errs, validateJobPolicies(s, p)...)
	return errs
}

// groupName allows no '-' so that a replica name
// <job>-<group>-<index>-<attempt> names exactly one job and group.
func groupName(p *field.Path, v string) field.ErrorList {
	ok := len(v) > 0 && len(v) <= 20 && v[0] >= 'a' && v[0] <= 'z'
	for _, r := range v {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}
	if !ok {
		return field.ErrorList{detail(p, fmt.Sprintf("%q is not a valid group name: use at most 20 lower-case letters and digits, starting with a letter (e.g. worker, launcher, ps)", v))}
	}
	return nil
}

func validateResources(r Resources, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(name string, q *resource.Quantity) {
		if q != nil && q.Sign() < 0 {
			errs = append(errs, detail(p.Child(name), "must be a non-negative number"))
		}
	}
	check("cpu", r.CPU)
	check("memory", r.Memory)
	check("gpu", r.GPU)
	if g := r.GPU; g != nil && g.Sign() > 0 {
		milli := g.MilliValue()
		switch {
		case g.Cmp(*resource.NewMilliQuantity(milli, resource.DecimalSI)) != 0:
			errs = append(errs, detail(p.Child("gpu"), fmt.Sprintf("%s is finer than a thousandth of a GPU: use a multiple of 0.001 (e.g. 0.25)", g.String())))
		case milli > 1000 && milli%1000 != 0:
			errs = append(errs, detail(p.Child("gpu"), fmt.Sprintf("%s: a request above one GPU must be a whole number; fractions are for sharing a single GPU (e.g. 0.25)", g.String())))
		}
	}
	return errs
}

// validateCapacity checks a Node's capacity: resources, and whole GPUs.
func validateCapacity(r Resources, p *field.Path) field.ErrorList {
	errs := validateResources(r, p)
	if g := r.GPU; g != nil && g.Sign() > 0 && g.MilliValue()%1000 != 0 {
		errs = append(errs, detail(p.Child("gpu"), fmt.Sprintf("%s: a node has whole GPUs; jobs share one by requesting a fraction (e.g. gpu: 0.25)", g.String())))
	}
	return errs
}

func validateQueueSpec(s *QueueSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ns := range s.Namespaces {
		if ns != "*" {
			errs = append(errs, dnsLabel(p.Child("namespaces").Index(i), ns)...)
		}
	}
	if s.Cohort != "" {
		errs = append(errs, dnsLabel(p.Child("cohort"), s.Cohort)...)
	}
	switch s.QueueingStrategy {
	case "", StrictFIFO, BestEffortFIFO:
	default:
		errs = append(errs, detail(p.Child("queueingStrategy"), fmt.Sprintf("%q is not a strategy: use StrictFIFO or BestEffortFIFO", s.QueueingStrategy)))
	}
	if s.Weight != nil && s.Weight.Sign() <= 0 {
		errs = append(errs, detail(p.Child("weight"), "must be a positive number, e.g. 1 or 2.5"))
	}
	if pr := s.Preemption; pr != nil {
		pp := p.Child("preemption")
		switch pr.WithinQueue {
		case "", PreemptNever, PreemptLowerPriority:
		default:
			errs = append(errs, detail(pp.Child("withinQueue"), fmt.Sprintf("%q is not a policy: use Never or LowerPriority", pr.WithinQueue)))
		}
		switch pr.ReclaimWithinCohort {
		case "", PreemptNever, PreemptLowerPriority, PreemptAny:
		default:
			errs = append(errs, detail(pp.Child("reclaimWithinCohort"), fmt.Sprintf("%q is not a policy: use Never, LowerPriority or Any", pr.ReclaimWithinCohort)))
		}
	}
	if las := s.LeastAttainedService; las != nil {
		tp := p.Child("leastAttainedService", "thresholdsGPUSeconds")
		switch n := len(las.ThresholdsGPUSeconds); {
		case n == 0:
			errs = append(errs, detail(tp, "required: give the attained GPU-seconds that separate levels, e.g. [36000, 3600000]"))
		case n > MaxAttainedServiceLevels:
			errs = append(errs, detail(tp, fmt.Sprintf("%d thresholds: give at most %d", n, MaxAttainedServiceLevels)))
		}
		switch las.Scope {
		case "", AttainedServiceScopeQueue:
		case AttainedServiceScopeCohort:
			if s.Cohort == "" {
				errs = append(errs, detail(p.Child("leastAttainedService", "scope"), "Cohort orders the queues of a cohort: set spec.cohort, or use scope Queue"))
			}
		default:
			errs = append(errs, detail(p.Child("leastAttainedService", "scope"), fmt.Sprintf("%q is not a scope: use Queue or Cohort", las.Scope)))
		}
		for i, t := range las.ThresholdsGPUSeconds {
			if t <= 0 {
				errs = append(errs, detail(tp.Index(i), fmt.Sprintf("%d: thresholds are positive GPU-seconds, e.g. 36000 for 10 GPU-hours", t)))
			} else if i > 0 && t <= las.ThresholdsGPUSeconds[i-1] {
				errs = append(errs, detail(tp.Index(i), fmt.Sprintf("%d is not above the previous threshold %d: list thresholds in increasing order", t, las.ThresholdsGPUSeconds[i-1])))
			}
		}
	}
	if len(s.Flavors) == 0 {
		errs = append(errs, detail(p.Child("flavors"), "required: give the quota the queue holds, e.g. [{name: default, resources: [{name: gpu, nominalQuota: 8}]}]"))
	}
	if len(s.Flavors) > MaxQueueFlavors {
		errs = append(errs, detail(p.Child("flavors"), fmt.Sprintf("%d flavors: a queue holds quota in at most %d", len(s.Flavors), MaxQueueFlavors)))
	}
	flavors := map[string]bool{}
	for i, f := range s.Flavors {
		fp := p.Child("flavors").Index(i)
		errs = append(errs, dnsLabel(fp.Child("name"), f.Name)...)
		if flavors[f.Name] {
			errs = append(errs, detail(fp.Child("name"), fmt.Sprintf("duplicate flavor %q: list each flavor once", f.Name)))
		}
		flavors[f.Name] = true
		res := map[string]bool{}
		for j, r := range f.Resources {
			rp := fp.Child("resources").Index(j)
			switch r.Name {
			case ResourceCPU, ResourceMemory, ResourceGPU:
			default:
				errs = append(errs, detail(rp.Child("name"), fmt.Sprintf("%q is not a resource: use cpu, memory or gpu", r.Name)))
			}
			if res[r.Name] {
				errs = append(errs, detail(rp.Child("name"), fmt.Sprintf("duplicate resource %q: list each resource once per flavor", r.Name)))
			}
			res[r.Name] = true
			if r.NominalQuota.Sign() < 0 {
				errs = append(errs, detail(rp.Child("nominalQuota"), "must be a non-negative number"))
			}
			if r.BorrowingLimit != nil && r.BorrowingLimit.Sign() < 0 {
				errs = append(errs, detail(rp.Child("borrowingLimit"), "must be a non-negative number"))
			} else if r.BorrowingLimit != nil && s.Cohort == "" {
				errs = append(errs, detail(rp.Child("borrowingLimit"), "a queue borrows from its cohort's other queues: set spec.cohort, or leave borrowingLimit out"))
			}
			if r.LendingLimit != nil && s.Cohort == "" {
				errs = append(errs, detail(rp.Child("lendingLimit"), "a queue lends to its cohort's other queues: set spec.cohort, or leave lendingLimit out"))
			} else if r.LendingLimit != nil && r.LendingLimit.Sign() < 0 {
				errs = append(errs, detail(rp.Child("lendingLimit"), "must be a non-negative number"))
			} else if r.LendingLimit != nil && r.LendingLimit.Cmp(r.NominalQuota) > 0 {
				errs = append(errs, detail(rp.Child("lendingLimit"), fmt.Sprintf("%s is more than nominalQuota (%s): a queue lends at most its own quota; lower lendingLimit or leave it out to lend all that is unused",
					r.LendingLimit.String(), r.NominalQuota.String())))
			}
		}
	}
	return errs
}

func validateFlavorSpec(s *FlavorSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k, v := range s.NodeLabels {
		lp := p.Child("nodeLabels").Key(k)
		for _, m := range validation.IsQualifiedName(k) {
			errs = append(errs, detail(lp, "key: "+m))
		}
		for _, m := range validation.IsValidLabelValue(v) {
			errs = append(errs, detail(lp, "value: "+m))
		}
	}
	levelAt := map[string]int{}
	for i, l := range s.TopologyLevels {
		for _, m := range validation.IsQualifiedName(l) {
			errs = append(errs, detail(p.Child("topologyLevels").Index(i), m))
		}
		if first, ok := levelAt[l]; ok {
			errs = append(errs, detail(p.Child("topologyLevels").Index(i), fmt.Sprintf("%q is also topologyLevels[%d]: list each level once, widest first", l, first)))
		} else {
			levelAt[l] = i
		}
	}
	return errs
}
