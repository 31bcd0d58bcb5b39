package crds_test

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/randfill"

	"skiff.dev/skiff/api/v1alpha1"
)

// TestNothingIsPruned fills every field of every kind, status included,
// with random values and sends each object through its CRD: the server
// must keep all of it. A Go field the schema does not declare (a new
// field without `make crds`, a free-form map without
// x-kubernetes-preserve-unknown-fields) would be dropped silently on a
// cluster; this test names it.
func TestNothingIsPruned(t *testing.T) {
	servers := loadAll(t)
	f := randfill.NewWithSeed(10).NilChance(0).NumElements(1, 3).Funcs(
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			// The server owns metadata; the schema's business is the rest.
			m.Name = "obj"
			m.Labels = map[string]string{"skiff.dev/rack": c.String(8)}
		},
		func(*metav1.TypeMeta, randfill.Continue) {},
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(c.Int63n(1<<40), resource.DecimalSI)
		},
		func(tm *metav1.Time, c randfill.Continue) {
			*tm = metav1.NewTime(time.Unix(c.Int63n(4e9), 0).UTC())
		},
		func(d *metav1.Duration, c randfill.Continue) {
			d.Duration = time.Duration(c.Int63n(1e13))
		},
		func(s *metav1.LabelSelector, c randfill.Continue) {
			s.MatchLabels = map[string]string{c.String(5): c.String(5)}
			s.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: c.String(5), Operator: metav1.LabelSelectorOpIn, Values: []string{c.String(5)}}}
		},
	)
	for _, k := range v1alpha1.Kinds() {
		s := servers[k.Plural]
		for i := range 25 {
			obj := k.New()
			f.Fill(obj)
			if k.Namespaced {
				obj.SetNamespace("team-a")
			}
			roundTrip(t, fmt.Sprintf("%s #%d", k.Kind, i), s, obj, false)
		}
	}
}

// TestPruningIsDetected makes sure the check above can fail: a field the
// schema lacks is reported and its value is gone from what is stored.
func TestPruningIsDetected(t *testing.T) {
	servers := loadAll(t)
	s := servers["jobs"]
	spec := s.structural.Properties["spec"]
	delete(spec.Properties, "checkpointDir")
	a := s.admit(t, []byte(`{"apiVersion":"skiff.dev/v1alpha1","kind":"Job","metadata":{"name":"j","namespace":"a"},
		"spec":{"checkpointDir":"run","replicaGroups":[{"name":"w","template":{"command":["x"]}}]}}`))
	if len(a.pruned) != 1 || a.pruned[0] != "spec.checkpointDir" {
		t.Errorf("pruned %v, want [spec.checkpointDir]", a.pruned)
	}
	if _, kept := a.stored["spec"].(map[string]any)["checkpointDir"]; kept {
		t.Error("the pruned field is still stored")
	}
}
