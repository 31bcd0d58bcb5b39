package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// DefaultCostLimit is the runtime cost budget of one expression evaluation,
// the per-call limit Kubernetes uses for admission CEL.
const DefaultCostLimit = 1_000_000

// MaxExpressionLength bounds one expression's source.
const MaxExpressionLength = 5000

// Request describes the write being admitted.
type Request struct {
	User      string
	Namespace string
	// Operation is CREATE or UPDATE.
	Operation string
	Kind      string
	// NamespaceLabels are the labels of the object's Namespace, for
	// match.namespaceSelector.
	NamespaceLabels map[string]string
}

// Engine holds the compiled policies. It is a watchcache.Handler; it is
// safe for concurrent use.
type Engine struct {
	env       *cel.Env
	costLimit uint64

	mu       sync.RWMutex
	policies map[string]*Compiled
}

// NewEngine returns an engine with no policies.
func NewEngine() (*Engine, error) {
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
		quantityLib(),
	)
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	return &Engine{env: env, costLimit: DefaultCostLimit, policies: map[string]*Compiled{}}, nil
}

// Compiled is a policy ready to evaluate.
type Compiled struct {
	Name, ResourceVersion string
	kinds, namespaces     map[string]bool
	selector              labels.Selector
	validate              []rule
	defaults              []defaultRule
}

type rule struct {
	index   int
	prog    cel.Program
	message string
	warn    bool
}

type defaultRule struct {
	index int
	path  []string
	prog  cel.Program
}

// Compile compiles every expression of p. The errors name the field
// (spec.validate[0].expression) and carry the compiler's message with the
// line and column.
func (e *Engine) Compile(p *v1alpha1.Policy) (*Compiled, field.ErrorList) {
	c := &Compiled{Name: p.Name, ResourceVersion: p.ResourceVersion,
		kinds: set(p.Spec.Match.Kinds), namespaces: set(p.Spec.Match.Namespaces)}
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if ls := p.Spec.Match.NamespaceSelector; ls != nil {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			errs = append(errs, field.Invalid(sp.Child("match", "namespaceSelector"), "", err.Error()+": fix the selector"))
		}
		c.selector = sel
	}
	for i, v := range p.Spec.Validate {
		fp := sp.Child("validate").Index(i).Child("expression")
		prog, err := e.program(v.Expression, true)
		if err != nil {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: fp.String(), Detail: err.Error()})
			continue
		}
		msg := v.Message
		if msg == "" {
			msg = "failed rule: " + v.Expression
		}
		c.validate = append(c.validate, rule{index: i, prog: prog, message: msg, warn: v.Action == v1alpha1.PolicyWarn})
	}
	for i, d := range p.Spec.Default {
		fp := sp.Child("default").Index(i).Child("expression")
		prog, err := e.program(d.Expression, false)
		if err != nil {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: fp.String(), Detail: err.Error()})
			continue
		}
		c.defaults = append(c.defaults, defaultRule{index: i, path: strings.Split(d.Field, "."), prog: prog})
	}
	return c, errs
}

func (e *Engine) program(expr string, wantBool bool) (cel.Program, error) {
	if len(expr) > MaxExpressionLength {
		return nil, fmt.Errorf("the expression is %d characters long: keep it under %d", len(expr), MaxExpressionLength)
	}
	ast, iss := e.env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL: %s", strings.TrimSpace(iss.Err().Error()))
	}
	if wantBool && ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("invalid CEL: the expression is of type %s: a validate rule must be true or false", ast.OutputType())
	}
	prog, err := e.env.Program(ast, cel.CostLimit(e.costLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("invalid CEL: %w", err)
	}
	return prog, nil
}

func set(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// Replace implements watchcache.Handler.
func (e *Engine) Replace(objs []v1alpha1.Object) {
	next := map[string]*Compiled{}
	e.mu.RLock()
	old := e.policies
	e.mu.RUnlock()
	for _, o := range objs {
		if p, ok := o.(*v1alpha1.Policy); ok {
			next[p.Name] = e.reuseOrCompile(old[p.Name], p)
		}
	}
	e.mu.Lock()
	e.policies = next
	e.mu.Unlock()
}

// Apply implements watchcache.Handler; the API server also calls it for
// its own writes so that a new policy holds for the next request.
func (e *Engine) Apply(typ watch.EventType, obj v1alpha1.Object) {
	p, ok := obj.(*v1alpha1.Policy)
	if !ok {
		return
	}
	e.mu.RLock()
	old := e.policies[p.Name]
	e.mu.RUnlock()
	var c *Compiled
	if typ != watch.Deleted && p.DeletionTimestamp == nil {
		c = e.reuseOrCompile(old, p)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c == nil {
		delete(e.policies, p.Name)
		return
	}
	// Never replace a newer version with an older one (a watch event
	// arriving after the API server's own Apply).
	if cur := e.policies[p.Name]; cur != nil && v1alpha1.Revision(c.ResourceVersion) < v1alpha1.Revision(cur.ResourceVersion) {
		return
	}
	e.policies[p.Name] = c
}

// reuseOrCompile keeps the compiled programs of an unchanged
// resourceVersion. A stored policy that no longer compiles (it was stored
// by an older version) is kept with a rule that always fails, so its
// objects are denied rather than let through.
func (e *Engine) reuseOrCompile(old *Compiled, p *v1alpha1.Policy) *Compiled {
	if old != nil && old.ResourceVersion == p.ResourceVersion && p.ResourceVersion != "" {
		return old
	}
	c, errs := e.Compile(p)
	if len(errs) > 0 {
		prog, _ := e.program("false", true)
		c.validate = append(c.validate, rule{index: -1, prog: prog,
			message: "the policy does not compile (" + errs.ToAggregate().Error() + "): fix or delete it"})
	}
	return c
}

func (c *Compiled) matches(req Request) bool {
	if c.kinds != nil && !c.kinds[req.Kind] {
		return false
	}
	if c.namespaces != nil && !c.namespaces[req.Namespace] {
		return false
	}
	if c.selector != nil && (req.Namespace == "" || !c.selector.Matches(labels.Set(req.NamespaceLabels))) {
		return false
	}
	return true
}

// matching returns the policies that apply to req, by name.
func (e *Engine) matching(req Request) []*Compiled {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []*Compiled
	for _, c := range e.policies {
		if c.matches(req) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeniedError lists the rules that refused a write.
type DeniedError struct{ Reasons []string }

func (e *DeniedError) Error() string { return strings.Join(e.Reasons, "; ") }

// Admit applies the matching policies to obj: defaults first (in policy
// name order; a default sets a field only when it is absent), then every
// validate rule. It returns the warnings of Warn rules. A denial is a
// *DeniedError; a default that makes the object invalid returns the
// validation error.
func (e *Engine) Admit(req Request, obj, old v1alpha1.Object) (warnings []string, err error) {
	pols := e.matching(req)
	if len(pols) == 0 {
		return nil, nil
	}
	objMap, err := toMap(obj)
	if err != nil {
		return nil, err
	}
	var oldMap any = types.NullValue
	if old != nil && !reflect.ValueOf(old).IsNil() {
		if oldMap, err = toMap(old); err != nil {
			return nil, err
		}
	}
	reqMap := map[string]any{"user": req.User, "namespace": req.Namespace, "operation": req.Operation, "kind": req.Kind}
	vars := map[string]any{"object": objMap, "oldObject": oldMap, "request": reqMap}
	var denied []string
	type appliedDefault struct {
		policy string
		index  int
		path   []string
		value  any
	}
	var applied []appliedDefault
	for _, p := range pols {
		for _, d := range p.defaults {
			if has(objMap, d.path) {
				continue
			}
			out, _, err := d.prog.Eval(vars)
			if err != nil {
				denied = append(denied, fmt.Sprintf("policy %s: spec.default[%d] could not be evaluated (%v): the write is refused because policies fail closed; fix the policy", p.Name, d.index, err))
				continue
			}
			v, err := toJSONValue(out)
			if err != nil {
				denied = append(denied, fmt.Sprintf("policy %s: spec.default[%d] gave a value that cannot be stored (%v): fix the policy", p.Name, d.index, err))
				continue
			}
			setPath(objMap, d.path, v)
			applied = append(applied, appliedDefault{p.Name, d.index, d.path, v})
		}
	}
	for _, p := range pols {
		for _, r := range p.validate {
			out, _, err := r.prog.Eval(vars)
			var ok, isBool bool
			if err == nil {
				var b types.Bool
				b, isBool = out.(types.Bool)
				ok = bool(b)
			}
			switch {
			case err != nil:
				denied = append(denied, fmt.Sprintf("policy %s: spec.validate[%d] could not be evaluated (%v): the write is refused because policies fail closed; fix the policy or the object", p.Name, r.index, err))
			case !isBool:
				denied = append(denied, fmt.Sprintf("policy %s: spec.validate[%d] gave %v, not true or false: the write is refused; fix the policy", p.Name, r.index, out))
			case ok:
			case r.warn:
				warnings = append(warnings, fmt.Sprintf("policy %s: %s", p.Name, r.message))
			default:
				denied = append(denied, fmt.Sprintf("policy %s: %s", p.Name, r.message))
			}
		}
	}
	if len(denied) > 0 {
		return warnings, &DeniedError{Reasons: denied}
	}
	if len(applied) > 0 {
		if err := fromMap(objMap, obj); err != nil {
			// Say which defaults do not fit: each is tried alone on the
			// object as it came.
			var misfits []string
			for _, a := range applied {
				m, merr := toMap(obj)
				if merr != nil {
					return warnings, merr
				}
				setPath(m, a.path, a.value)
				probe := obj.DeepCopyObject().(v1alpha1.Object)
				if ferr := fromMap(m, probe); ferr != nil {
					misfits = append(misfits, fmt.Sprintf("policy %s: spec.default[%d] sets %s to %s, which does not fit a %s (%v): the write is refused; fix the policy's field or expression",
						a.policy, a.index, strings.Join(a.path, "."), formatValue(a.value), req.Kind, errors.Unwrap(ferr)))
				}
			}
			if len(misfits) == 0 {
				return warnings, err
			}
			return warnings, &DeniedError{Reasons: misfits}
		}
	}
	return warnings, nil
}

// formatValue prints a default's value as JSON, shortened.
func formatValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// toMap turns an object into the JSON-shaped value CEL sees. Integer
// fields stay int64 so that `priority <= 1000` compares integers.
func toMap(obj v1alpha1.Object) (map[string]any, error) {
	// The apimachinery converter walks the struct with cached reflection
	// (ints stay int64), about twice as fast as a JSON round trip.
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting the object for policies: %w", err)
	}
	return m, nil
}

// fromMap decodes the defaulted map back into obj, strictly.
func fromMap(m map[string]any, obj v1alpha1.Object) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the defaulted object: %w", err)
	}
	fresh := reflect.New(reflect.TypeOf(obj).Elem()).Interface()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fresh); err != nil {
		return fmt.Errorf("a policy default does not fit the object (%w): fix the default's field or expression", err)
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	return nil
}

func has(m map[string]any, path []string) bool {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = mm[p]; !ok || cur == nil {
			return false
		}
	}
	return true
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// toJSONValue converts a CEL result into a JSON value.
func toJSONValue(v ref.Val) (any, error) {
	switch v := v.(type) {
	case types.Int, types.Uint, types.Double, types.String, types.Bool:
		return v.Value(), nil
	case types.Null:
		return nil, nil
	case quantityVal:
		return v.q.String(), nil
	}
	if native, err := v.ConvertToNative(reflect.TypeOf([]any{})); err == nil {
		return native, nil
	}
	if native, err := v.ConvertToNative(reflect.TypeOf(map[string]any{})); err == nil {
		return native, nil
	}
	return nil, fmt.Errorf("a %s cannot be stored in a field", v.Type().TypeName())
}
