package policy

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

func job(ns string, priority int32, gpu string) *v1alpha1.Job {
	q := resource.MustParse(gpu)
	j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: ns}, Spec: v1alpha1.JobSpec{
		Priority: priority,
		ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "worker", Replicas: 1, Template: v1alpha1.ReplicaTemplate{
			Command: []string{"true"}, Resources: v1alpha1.Resources{GPU: &q}}}},
	}}
	v1alpha1.SetTypeMeta(j)
	return j
}

func policy(name string, spec v1alpha1.PolicySpec) *v1alpha1.Policy {
	p := &v1alpha1.Policy{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"}, Spec: spec}
	v1alpha1.Default(p)
	return p
}

var priorityCap = v1alpha1.PolicySpec{
	Match: v1alpha1.PolicyMatch{Kinds: []string{"Job"}, Namespaces: []string{"team-a"}},
	Validate: []v1alpha1.PolicyValidate{{
		Expression: "!has(object.spec.priority) || object.spec.priority <= 1000",
		Message:    "team-a jobs may not use a priority above 1000"}},
}

var gpuCap = v1alpha1.PolicySpec{
	Match: v1alpha1.PolicyMatch{Kinds: []string{"Job"}},
	Validate: []v1alpha1.PolicyValidate{{
		Expression: `object.spec.replicaGroups.all(g, !has(g.template.resources.gpu) || quantity(g.template.resources.gpu).compareTo(quantity("8")) <= 0)`,
		Message:    "at most 8 GPUs per replica"}},
}

func req(ns string) Request {
	return Request{User: "alice", Namespace: ns, Operation: "CREATE", Kind: "Job"}
}

func TestValidateDenyWarnAndMatch(t *testing.T) {
	e, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	warn := v1alpha1.PolicySpec{Match: v1alpha1.PolicyMatch{Kinds: []string{"Job"}},
		Validate: []v1alpha1.PolicyValidate{{Expression: "has(object.spec.priority)", Message: "set a priority", Action: "Warn"}}}
	e.Replace([]v1alpha1.Object{policy("priority-cap", priorityCap), policy("gpu-cap", gpuCap), policy("warn", warn)})
	tests := []struct {
		name     string
		job      *v1alpha1.Job
		deny     string
		warnings int
	}{
		{"within caps", job("team-a", 5, "8"), "", 0},
		{"priority over cap", job("team-a", 1001, "1"), "team-a jobs may not use a priority above 1000", 0},
		{"other namespace may", job("team-b", 5000, "1"), "", 0},
		{"gpu over cap", job("team-b", 1, "9"), "at most 8 GPUs per replica", 0},
		{"warn only", job("team-b", 0, "1"), "", 1},
	}
	for _, tt := range tests {
		w, err := e.Admit(req(tt.job.Namespace), tt.job, nil)
		var de *DeniedError
		switch {
		case tt.deny == "" && err != nil:
			t.Errorf("%s: denied: %v", tt.name, err)
		case tt.deny != "" && (!errors.As(err, &de) || !strings.Contains(err.Error(), tt.deny)):
			t.Errorf("%s: err = %v, want a denial with %q", tt.name, err, tt.deny)
		}
		if len(w) != tt.warnings {
			t.Errorf("%s: warnings %q, want %d", tt.name, w, tt.warnings)
		}
	}
}

func TestCompileErrorNamesFieldAndPosition(t *testing.T) {
	e, _ := NewEngine()
	p := policy("bad", v1alpha1.PolicySpec{Validate: []v1alpha1.PolicyValidate{
		{Expression: "object.spec.priority <="}, {Expression: "1 + 1"}}})
	_, errs := e.Compile(p)
	if len(errs) != 2 {
		t.Fatalf("errs = %v, want two", errs)
	}
	if errs[0].Field != "spec.validate[0].expression" || !strings.Contains(errs[0].Detail, "1:") || !strings.Contains(errs[0].Detail, "Syntax error") {
		t.Errorf("first error %q %q: want the field and the compiler's position", errs[0].Field, errs[0].Detail)
	}
	if !strings.Contains(errs[1].Detail, "true or false") {
		t.Errorf("non-bool rule: %q", errs[1].Detail)
	}
}

func TestEvaluationErrorFailsClosed(t *testing.T) {
	e, _ := NewEngine()
	e.Apply(watch.Added, policy("strict", v1alpha1.PolicySpec{Validate: []v1alpha1.PolicyValidate{
		{Expression: "object.spec.noSuchField == 1"}}}))
	_, err := e.Admit(req("team-a"), job("team-a", 1, "1"), nil)
	if err == nil || !strings.Contains(err.Error(), "fail closed") || !strings.Contains(err.Error(), "policy strict") {
		t.Fatalf("err = %v, want a fail-closed denial naming the policy", err)
	}
	// Cost budget: an expression that runs too long is denied, not waited for.
	e.Apply(watch.Deleted, policy("strict", v1alpha1.PolicySpec{}))
	e.Apply(watch.Added, policy("costly", v1alpha1.PolicySpec{Validate: []v1alpha1.PolicyValidate{
		{Expression: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))"}}}))
	_, err = e.Admit(req("team-a"), job("team-a", 1, "1"), nil)
	if err == nil || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("err = %v, want a cost limit denial", err)
	}
}

// TestDefaultThatDoesNotFitNamesItsRule: a default whose value cannot be
// stored in the field refuses the write naming the policy, the rule, the
// field and the value; the object is left as it came.
func TestDefaultThatDoesNotFitNamesItsRule(t *testing.T) {
	e, _ := NewEngine()
	e.Replace([]v1alpha1.Object{policy("tiers", v1alpha1.PolicySpec{
		Match: v1alpha1.PolicyMatch{Kinds: []string{"Job"}},
		Default: []v1alpha1.PolicyDefault{
			{Field: "spec.placementPolicy", Expression: `"Spread"`},
			{Field: "spec.priority", Expression: `"high"`},
		}})})
	j := job("team-a", 0, "1")
	_, err := e.Admit(req("team-a"), j, nil)
	var denied *DeniedError
	if !errors.As(err, &denied) || len(denied.Reasons) != 1 ||
		!strings.Contains(err.Error(), `policy tiers: spec.default[1] sets spec.priority to "high", which does not fit a Job`) {
		t.Fatalf("err = %v, want one denial naming policy tiers, spec.default[1], the field and the value", err)
	}
	if j.Spec.PlacementPolicy != "" || j.Spec.Priority != 0 {
		t.Errorf("a refused write changed the object: placement %q priority %d", j.Spec.PlacementPolicy, j.Spec.Priority)
	}
}

func TestDefaults(t *testing.T) {
	e, _ := NewEngine()
	e.Replace([]v1alpha1.Object{policy("defaults", v1alpha1.PolicySpec{
		Match: v1alpha1.PolicyMatch{Kinds: []string{"Job"}},
		Default: []v1alpha1.PolicyDefault{
			{Field: "spec.priority", Expression: "100"},
			{Field: "spec.placementPolicy", Expression: `request.namespace == "team-a" ? "Spread" : "BinPack"`},
		}})})
	j := job("team-a", 0, "1")
	if _, err := e.Admit(req("team-a"), j, nil); err != nil {
		t.Fatal(err)
	}
	if j.Spec.Priority != 100 || j.Spec.PlacementPolicy != "Spread" {
		t.Errorf("priority %d placement %q, want 100 Spread", j.Spec.Priority, j.Spec.PlacementPolicy)
	}
	j = job("team-a", 7, "1")
	_, _ = e.Admit(req("team-a"), j, nil)
	if j.Spec.Priority != 7 {
		t.Errorf("a default overwrote a set field: priority %d", j.Spec.Priority)
	}
}
