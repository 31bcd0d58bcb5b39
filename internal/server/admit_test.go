package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/apiserver"
	"skiff.dev/skiff/internal/store"
)

// TestServicesThatAlreadyShareAModelCanStillBeChanged: the one-service-
// per-model check refuses names an update adds, not names the service
// already had, so services that came to share one (written around the
// API, or created at the same moment) can still be updated.
func TestServicesThatAlreadyShareAModelCanStillBeChanged(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(time.Now)
	if err := ensureDefaults(ctx, st, Machine{Name: "vm", CPUMilli: 4000, MemoryBytes: 8 << 30}, true, discardLog()); err != nil {
		t.Fatal(err)
	}
	node := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{
		CPU: resource.NewQuantity(4, resource.DecimalSI), Memory: resource.NewQuantity(8<<30, resource.BinarySI)}}}
	v1alpha1.SetTypeMeta(node)
	if err := st.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	svc := func(name string, models ...string) *v1alpha1.InferenceService {
		s := &v1alpha1.InferenceService{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1alpha1.InferenceServiceSpec{Models: models, Template: v1alpha1.ReplicaTemplate{Command: []string{"serve"},
				Resources: v1alpha1.Resources{CPU: resource.NewMilliQuantity(100, resource.DecimalSI)}}}}
		v1alpha1.SetTypeMeta(s)
		v1alpha1.Default(s)
		return s
	}
	for _, s := range []*v1alpha1.InferenceService{svc("a", "m", "n"), svc("b", "m")} { // already sharing m
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	adm := &admitter{store: st}
	changed := svc("b", "m")
	changed.Spec.Template.Env = []v1alpha1.EnvVar{{Name: "A", Value: "1"}}
	if err := adm.Admit(ctx, apiserver.Update, changed, svc("b", "m")); err != nil {
		t.Errorf("updating a service that already shares a model: %v", err)
	}
	err := adm.Admit(ctx, apiserver.Update, svc("b", "m", "n"), svc("b", "m"))
	if err == nil || !strings.Contains(err.Error(), `spec.models[1]: model "n" is already served by inference service "a"`) {
		t.Errorf("an update adding another service's model: %v, want it refused naming spec.models[1]", err)
	}
	if err := adm.Admit(ctx, apiserver.Create, svc("c", "m"), nil); err == nil || !strings.Contains(err.Error(), `model "m" is already served`) {
		t.Errorf("a new service claiming a served model: %v, want it refused", err)
	}
}
