package v1alpha1

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"skiff.dev/skiff/internal/hpo"
)

// Experiment defaults.
const (
	DefaultAlgorithm       = hpo.AlgorithmTPE
	DefaultParallelTrials  = int32(1)
	DefaultMaxFailedTrials = int32(3)
)

func defaultExperiment(o *Experiment) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Spec.Algorithm.Name == "" {
		o.Spec.Algorithm.Name = DefaultAlgorithm
	}
	if o.Spec.ParallelTrials == 0 {
		o.Spec.ParallelTrials = DefaultParallelTrials
	}
	if o.Spec.MaxFailedTrials == nil {
		n := DefaultMaxFailedTrials
		o.Spec.MaxFailedTrials = &n
	}
	// The template gets a Job's defaults, so that it validates as the Jobs
	// made from it will.
	j := &Job{Spec: o.Spec.TrialTemplate}
	Default(j)
	o.Spec.TrialTemplate = j.Spec
}

// SearchSpace converts the spec's parameters for the search algorithms;
// path names spec.parameters in the errors.
func (s *ExperimentSpec) SearchSpace(path *field.Path) (hpo.Space, field.ErrorList) {
	var space hpo.Space
	var errs field.ErrorList
	for i, p := range s.Parameters {
		pp := path.Index(i)
		hp := hpo.Parameter{Name: p.Name, Type: hpo.Type(p.Type), Log: p.Log, Values: p.Values, Numbers: p.Numbers}
		switch p.Type {
		case ParameterDouble, ParameterInt:
			if p.Min == nil {
				errs = append(errs, field.Required(pp.Child("min"), "a "+p.Type+" parameter needs min and max"))
			} else {
				hp.Min = *p.Min
			}
			if p.Max == nil {
				errs = append(errs, field.Required(pp.Child("max"), "a "+p.Type+" parameter needs min and max"))
			} else {
				hp.Max = *p.Max
			}
			if p.Min == nil || p.Max == nil {
				hp.Min, hp.Max = 0, 1 // reported above; keep the rest of the checks quiet
			}
		default:
			if p.Min != nil || p.Max != nil {
				errs = append(errs, field.Invalid(pp.Child("min"), p.Type, "min and max apply to double and int parameters; list the choices in values (categorical) or numbers (discrete)"))
			}
		}
		space.Parameters = append(space.Parameters, hp)
	}
	return space, append(errs, space.Validate(path)...)
}

// HPOGoal is the objective's direction for the search algorithms.
func (o ObjectiveSpec) HPOGoal() hpo.Goal {
	if o.Type == Maximize {
		return hpo.Maximize
	}
	return hpo.Minimize
}

var metricName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:/-]*$`)

func validateExperimentSpec(s *ExperimentSpec, p *field.Path) field.ErrorList {
	space, errs := s.SearchSpace(p.Child("parameters"))

	obj := p.Child("objective")
	switch {
	case s.Objective.MetricName == "":
		errs = append(errs, field.Required(obj.Child("metricName"), "name the metric trials report, e.g. val_loss (printed as skiff:metric val_loss=0.42 step=3)"))
	case !metricName.MatchString(s.Objective.MetricName):
		errs = append(errs, field.Invalid(obj.Child("metricName"), s.Objective.MetricName, "use letters, digits and _ . : / -, starting with a letter or _"))
	}
	switch s.Objective.Type {
	case Minimize, Maximize:
	case "":
		errs = append(errs, field.Required(obj.Child("type"), "set minimize or maximize"))
	default:
		errs = append(errs, field.NotSupported(obj.Child("type"), s.Objective.Type, []string{Minimize, Maximize}))
	}
	if g := s.Objective.Goal; g != nil && (math.IsNaN(*g) || math.IsInf(*g, 0)) {
		errs = append(errs, field.Invalid(obj.Child("goal"), *g, "give a finite number, or leave goal out"))
	}

	errs = append(errs, hpo.ValidateAlgorithm(hpo.Algorithm{Name: s.Algorithm.Name, Settings: s.Algorithm.Settings}, p.Child("algorithm"))...)
	if s.EarlyStopping != nil {
		errs = append(errs, hpo.ValidateEarlyStopping(hpo.EarlyStopping{Name: s.EarlyStopping.Name, Settings: s.EarlyStopping.Settings}, p.Child("earlyStopping"))...)
	}

	if s.MaxTrials < 1 {
		errs = append(errs, field.Invalid(p.Child("maxTrials"), s.MaxTrials, "required: set how many trials to run at most (1 or more)"))
	}
	if s.ParallelTrials < 1 {
		errs = append(errs, field.Invalid(p.Child("parallelTrials"), s.ParallelTrials, "run at least 1 trial at a time (default 1)"))
	} else if s.MaxTrials >= 1 && s.ParallelTrials > s.MaxTrials {
		errs = append(errs, field.Invalid(p.Child("parallelTrials"), s.ParallelTrials, fmt.Sprintf("more than maxTrials (%d): lower parallelTrials or raise maxTrials", s.MaxTrials)))
	}
	if m := s.MaxFailedTrials; m != nil && *m < 0 {
		errs = append(errs, field.Invalid(p.Child("maxFailedTrials"), *m, "give 0 or more (default 3)"))
	}

	tp := p.Child("trialTemplate")
	errs = append(errs, validateJobSpec(&s.TrialTemplate, tp)...)
	names := map[string]bool{}
	for _, prm := range space.Parameters {
		names[prm.Name] = true
	}
	for i, g := range s.TrialTemplate.ReplicaGroups {
		tmpl := tp.Child("replicaGroups").Index(i).Child("template")
		for j, c := range g.Template.Command {
			if strings.Contains(c, "${") {
				errs = append(errs, field.Invalid(tmpl.Child("command").Index(j), c, "placeholders are filled in args and env values only: move the value into args"))
			}
		}
		for j, a := range g.Template.Args {
			errs = append(errs, checkPlaceholders(a, tmpl.Child("args").Index(j), names)...)
		}
		for j, e := range g.Template.Env {
			errs = append(errs, checkPlaceholders(e.Value, tmpl.Child("env").Index(j).Child("value"), names)...)
		}
	}
	return errs
}

var placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkPlaceholders verifies that every ${...} in s is ${params.NAME} for a
// declared parameter.
func checkPlaceholders(s string, p *field.Path, names map[string]bool) field.ErrorList {
	var errs field.ErrorList
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		name, ok := strings.CutPrefix(m[1], "params.")
		switch {
		case !ok || name == "":
			errs = append(errs, field.Invalid(p, s, fmt.Sprintf("%s is not a placeholder: write ${params.NAME} with NAME one of %s", m[0], listNames(names))))
		case !names[name]:
			errs = append(errs, field.Invalid(p, s, fmt.Sprintf("%s names no parameter: declare %q in spec.parameters or use one of %s", m[0], name, listNames(names))))
		}
	}
	if strings.Count(s, "${") > len(placeholder.FindAllString(s, -1)) {
		errs = append(errs, field.Invalid(p, s, "unclosed ${: write ${params.NAME}"))
	}
	return errs
}

func listNames(names map[string]bool) string {
	var out []string
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "(no parameters declared)"
	}
	return strings.Join(out, ", ")
}

// TrialJobSpec returns the trial template with ${params.NAME} replaced by
// params[NAME] in every replica's args and env values. The template is not
// modified.
func (s *ExperimentSpec) TrialJobSpec(params map[string]string) JobSpec {
	out := *s.TrialTemplate.DeepCopy()
	fill := func(v string) string {
		return placeholder.ReplaceAllStringFunc(v, func(m string) string {
			name := strings.TrimPrefix(m[2:len(m)-1], "params.")
			if val, ok := params[name]; ok {
				return val
			}
			return m
		})
	}
	for i := range out.ReplicaGroups {
		t := &out.ReplicaGroups[i].Template
		for j := range t.Args {
			t.Args[j] = fill(t.Args[j])
		}
		for j := range t.Env {
			t.Env[j].Value = fill(t.Env[j].Value)
		}
	}
	return out
}
