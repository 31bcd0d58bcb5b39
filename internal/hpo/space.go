package hpo

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Type is the kind of a search parameter.
type Type string

// Parameter types.
const (
	// Double is a real number in [Min, Max], optionally searched on a log scale.
	Double Type = "double"
	// Int is an integer in [Min, Max], optionally searched on a log scale.
	Int Type = "int"
	// Categorical is one of a list of unordered labels.
	Categorical Type = "categorical"
	// Discrete is one of a list of numbers; their order is used as a
	// neighbourhood (4 is closer to 8 than to 64).
	Discrete Type = "discrete"
)

// Parameter is one dimension of a search space.
type Parameter struct {
	Name string
	Type Type
	// Min and Max bound Double and Int parameters (both inclusive).
	Min, Max float64
	// Log searches Double and Int parameters uniformly in log(value).
	Log bool
	// Values are the labels of a Categorical parameter.
	Values []string
	// Numbers are the choices of a Discrete parameter, in any order.
	Numbers []float64
}

// Space is an ordered list of parameters.
type Space struct {
	Parameters []Parameter
}

// Assignment maps parameter names to values formatted as FormatValue does.
type Assignment map[string]string

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Validate returns the problems of the space, each at its field path below
// path (e.g. spec.parameters[2].max), with the fix in the detail.
func (s Space) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.Parameters) == 0 {
		return append(errs, field.Required(path, "the search space is empty: declare at least one parameter (double, int, categorical or discrete)"))
	}
	seen := map[string]int{}
	for i, p := range s.Parameters {
		pp := path.Index(i)
		switch {
		case p.Name == "":
			errs = append(errs, field.Required(pp.Child("name"), "give the parameter a name; trial templates refer to it as ${params.NAME}"))
		case !paramName.MatchString(p.Name):
			errs = append(errs, field.Invalid(pp.Child("name"), p.Name, "use letters, digits, '_' and '-', starting with a letter or '_'"))
		default:
			if j, dup := seen[p.Name]; dup {
				errs = append(errs, field.Duplicate(pp.Child("name"), fmt.Sprintf("%s (also parameters[%d]); give each parameter its own name", p.Name, j)))
			}
			seen[p.Name] = i
		}
		errs = append(errs, p.validate(pp)...)
	}
	return errs
}

func (p Parameter) validate(pp *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch p.Type {
	case Double, Int:
		if len(p.Values) > 0 || len(p.Numbers) > 0 {
			errs = append(errs, field.Invalid(pp.Child("type"), p.Type, "a range parameter takes min and max, not a list of values; use type categorical or discrete for a list"))
		}
		if !finite(p.Min) || !finite(p.Max) {
			errs = append(errs, field.Invalid(pp.Child("min"), p.Min, "min and max must be finite numbers"))
			return errs
		}
		if p.Type == Int && (p.Min != math.Trunc(p.Min) || p.Max != math.Trunc(p.Max)) {
			errs = append(errs, field.Invalid(pp.Child("min"), fmt.Sprintf("%g..%g", p.Min, p.Max), "an int parameter needs whole-number bounds"))
		}
		if p.Min >= p.Max {
			errs = append(errs, field.Invalid(pp.Child("max"), p.Max, fmt.Sprintf("max must be greater than min (%g); for a fixed value put it in the trial template instead", p.Min)))
		}
		if p.Log && p.Min <= 0 {
			errs = append(errs, field.Invalid(pp.Child("min"), p.Min, "a log-scale parameter needs min > 0 (log of a non-positive bound is undefined); raise min or drop log"))
		}
	case Categorical:
		if p.Log {
			errs = append(errs, field.Invalid(pp.Child("log"), true, "log applies to double and int parameters only"))
		}
		if len(p.Values) == 0 {
			errs = append(errs, field.Required(pp.Child("values"), "a categorical parameter needs at least one value"))
		}
		seen := map[string]bool{}
		for i, v := range p.Values {
			if strings.TrimSpace(v) == "" {
				errs = append(errs, field.Invalid(pp.Child("values").Index(i), v, "values must not be empty"))
			}
			if seen[v] {
				errs = append(errs, field.Duplicate(pp.Child("values").Index(i), v))
			}
			seen[v] = true
		}
	case Discrete:
		if p.Log {
			errs = append(errs, field.Invalid(pp.Child("log"), true, "log applies to double and int parameters only; list the discrete values themselves"))
		}
		if len(p.Numbers) == 0 {
			errs = append(errs, field.Required(pp.Child("numbers"), "a discrete parameter needs at least one number"))
		}
		seen := map[float64]bool{}
		for i, v := range p.Numbers {
			if !finite(v) {
				errs = append(errs, field.Invalid(pp.Child("numbers").Index(i), v, "values must be finite numbers"))
			}
			if seen[v] {
				errs = append(errs, field.Duplicate(pp.Child("numbers").Index(i), FormatNumber(v)))
			}
			seen[v] = true
		}
	case "":
		errs = append(errs, field.Required(pp.Child("type"), "use double, int, categorical or discrete"))
	default:
		errs = append(errs, field.NotSupported(pp.Child("type"), p.Type, []string{string(Double), string(Int), string(Categorical), string(Discrete)}))
	}
	return errs
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// FormatNumber formats a number the way assignments carry it: the shortest
// representation that parses back to the same float64.
func FormatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// dim is a parameter compiled for the algorithms. Every point is a vector
// of float64, one per parameter: the value itself for Double and Int, the
// index into choices (sorted for Discrete) for Categorical and Discrete.
type dim struct {
	Parameter
	numbers []float64 // Discrete, sorted ascending
	labels  []string  // Categorical, in declared order
}

// choices is the number of values of a Categorical or Discrete dimension,
// 0 for ranges.
func (d dim) choices() int {
	switch d.Type {
	case Categorical:
		return len(d.labels)
	case Discrete:
		return len(d.numbers)
	}
	return 0
}

// toUnit maps a range value into [0,1] (log-transformed when Log).
func (d dim) toUnit(v float64) float64 {
	lo, hi := d.Min, d.Max
	if d.Type == Int { // widen so each integer owns an equal slice
		lo, hi = lo-0.5, hi+0.5
	}
	if d.Log {
		return (math.Log(v) - math.Log(lo)) / (math.Log(hi) - math.Log(lo))
	}
	return (v - lo) / (hi - lo)
}

// fromUnit is toUnit's inverse; Int values are rounded into range.
func (d dim) fromUnit(u float64) float64 {
	u = math.Min(1, math.Max(0, u))
	lo, hi := d.Min, d.Max
	if d.Type == Int {
		lo, hi = lo-0.5, hi+0.5
	}
	var v float64
	if d.Log {
		v = math.Exp(math.Log(lo) + u*(math.Log(hi)-math.Log(lo)))
	} else {
		v = lo + u*(hi-lo)
	}
	if d.Type == Int {
		v = math.Min(d.Max, math.Max(d.Min, math.Round(v)))
	} else {
		v = math.Min(d.Max, math.Max(d.Min, v))
	}
	return v
}

// compiled is a validated space ready for the algorithms.
type compiled struct {
	dims []dim
}

// compile validates s and prepares it; path names the space in errors.
func compile(s Space, path *field.Path) (*compiled, error) {
	if errs := s.Validate(path); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	c := &compiled{}
	for _, p := range s.Parameters {
		d := dim{Parameter: p}
		switch p.Type {
		case Categorical:
			d.labels = slices.Clone(p.Values)
		case Discrete:
			d.numbers = slices.Clone(p.Numbers)
			slices.Sort(d.numbers)
		}
		c.dims = append(c.dims, d)
	}
	return c, nil
}

// decode turns a point into an assignment.
func (c *compiled) decode(x []float64) Assignment {
	a := make(Assignment, len(c.dims))
	for i, d := range c.dims {
		switch d.Type {
		case Categorical:
			a[d.Name] = d.labels[int(x[i])]
		case Discrete:
			a[d.Name] = FormatNumber(d.numbers[int(x[i])])
		case Int:
			a[d.Name] = strconv.FormatInt(int64(x[i]), 10)
		default:
			a[d.Name] = FormatNumber(x[i])
		}
	}
	return a
}

// encode parses an assignment back into a point; it fails when a value is
// missing, malformed or outside the space (e.g. a trial stored before the
// space was edited).
func (c *compiled) encode(a Assignment) ([]float64, error) {
	x := make([]float64, len(c.dims))
	for i, d := range c.dims {
		s, ok := a[d.Name]
		if !ok {
			return nil, fmt.Errorf("parameter %s has no value", d.Name)
		}
		switch d.Type {
		case Categorical:
			k := slices.Index(d.labels, s)
			if k < 0 {
				return nil, fmt.Errorf("parameter %s: %q is not one of its values", d.Name, s)
			}
			x[i] = float64(k)
		case Discrete:
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", d.Name, err)
			}
			k := slices.Index(d.numbers, v)
			if k < 0 {
				return nil, fmt.Errorf("parameter %s: %s is not one of its values", d.Name, s)
			}
			x[i] = float64(k)
		default:
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", d.Name, err)
			}
			if v < d.Min || v > d.Max || (d.Type == Int && v != math.Trunc(v)) {
				return nil, fmt.Errorf("parameter %s: %s is outside [%g, %g]", d.Name, s, d.Min, d.Max)
			}
			x[i] = v
		}
	}
	return x, nil
}

// key identifies a point, to recognise configurations already tried.
func key(x []float64) string {
	var b strings.Builder
	for _, v := range x {
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		b.WriteByte(',')
	}
	return b.String()
}

// Encode checks that a is a point of s and returns it in canonical form
// (numbers re-formatted as FormatNumber does).
func (s Space) Encode(a Assignment) (Assignment, error) {
	c, err := compile(s, field.NewPath("parameters"))
	if err != nil {
		return nil, err
	}
	x, err := c.encode(a)
	if err != nil {
		return nil, err
	}
	return c.decode(x), nil
}
