package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

func growFixture(gpus int64) Snapshot {
	g := resource.NewQuantity(gpus, resource.DecimalSI)
	return Snapshot{
		Nodes:   []*v1alpha1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: v1alpha1.NodeSpec{Capacity: v1alpha1.Resources{GPU: g}}}},
		Flavors: []*v1alpha1.Flavor{{ObjectMeta: metav1.ObjectMeta{Name: "f"}}},
		Queues: []*v1alpha1.Queue{{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: v1alpha1.QueueSpec{
			QueueingStrategy: v1alpha1.BestEffortFIFO,
			Flavors:          []v1alpha1.FlavorQuota{{Name: "f", Resources: []v1alpha1.ResourceQuota{{Name: "gpu", NominalQuota: *g}}}}}}},
	}
}

// runningJob is an admitted job of one group with replicas of one GPU,
// placed on n1 with indices from first.
func runningJob(name string, replicas, min, placed int32, first int32) *v1alpha1.Job {
	one := resource.MustParse("1")
	j := &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(100, 0))},
		Spec: v1alpha1.JobSpec{Queue: "q", ReplicaGroups: []v1alpha1.ReplicaGroup{{Name: "w", Replicas: replicas, MinReplicas: &min,
			Template: v1alpha1.ReplicaTemplate{Command: []string{"x"}, Resources: v1alpha1.Resources{GPU: &one}}}}},
		Status: v1alpha1.JobStatus{Phase: v1alpha1.JobRunning, Admission: &v1alpha1.Admission{Queue: "q", Flavor: "f"}}}
	for i := int32(0); i < placed; i++ {
		j.Status.Admission.Placements = append(j.Status.Admission.Placements, v1alpha1.Placement{Group: "w", Index: i, Node: "n1", GPUs: []int32{first + i}})
	}
	return j
}

func TestGrow(t *testing.T) {
	now := time.Unix(1000, 0)
	elastic := runningJob("elastic", 4, 1, 1, 0)
	other := runningJob("other", 3, 3, 3, 1)

	// Every GPU is held: nothing to grow into.
	snap := growFixture(4)
	snap.Admitted = []*v1alpha1.Job{elastic, other}
	if got := Grow(snap, []*v1alpha1.Job{elastic}, now); len(got) != 0 {
		t.Errorf("with no GPU free: %v", got)
	}
	// The other job ended: the elastic job fits at full size.
	snap.Admitted = []*v1alpha1.Job{elastic}
	want := []Growth{{Namespace: "ns", Name: "elastic", From: 1, To: 4}}
	if d := cmp.Diff(want, Grow(snap, []*v1alpha1.Job{elastic}, now)); d != "" {
		t.Errorf("grow (-want +got):\n%s", d)
	}
	// Only part of it frees up: grown to what fits.
	small := growFixture(3)
	small.Admitted = []*v1alpha1.Job{elastic}
	want[0].To = 3
	if d := cmp.Diff(want, Grow(small, []*v1alpha1.Job{elastic}, now)); d != "" {
		t.Errorf("partial grow (-want +got):\n%s", d)
	}
	// A job at full size, or not admitted, is left alone; the input is untouched.
	full := runningJob("full", 2, 1, 2, 0)
	if got := Grow(snap, []*v1alpha1.Job{full, {}}, now); len(got) != 0 {
		t.Errorf("grew %v", got)
	}
	if elastic.Status.Admission == nil || elastic.Status.Phase != v1alpha1.JobRunning {
		t.Error("Grow changed its input")
	}
}
