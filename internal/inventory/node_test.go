package inventory

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func gpuNode(mods ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{"skiff.dev/rack": "r1", LabelGPUProduct: "NVIDIA-H100-80GB-HBM3"}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("96"),
				corev1.ResourceMemory: resource.MustParse("1Ti"),
				GPUResource:           resource.MustParse("8"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func TestNodeForSubtractsForeignPodsAndKeepsLabels(t *testing.T) {
	foreign := PodRequests(&corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{
			{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{GPUResource: resource.MustParse("2"), corev1.ResourceCPU: resource.MustParse("500m")}}},
			{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}},
		},
		InitContainers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
	}})
	n := NodeFor(gpuNode(), foreign)
	if got := n.Spec.Capacity.GPU.Value(); got != 6 {
		t.Errorf("gpu capacity %d, want 8 - 2 used by a foreign pod", got)
	}
	if got := n.Spec.Capacity.CPU.MilliValue(); got != 94000 {
		t.Errorf("cpu capacity %dm, want 96 - 2 cores", got)
	}
	if len(n.Status.GPUs) != 6 || n.Spec.GPUModel != "NVIDIA-H100-80GB-HBM3" {
		t.Errorf("gpus %d of model %q", len(n.Status.GPUs), n.Spec.GPUModel)
	}
	if n.Labels["skiff.dev/rack"] != "r1" || n.Spec.Unschedulable {
		t.Errorf("labels %v, unschedulable %v", n.Labels, n.Spec.Unschedulable)
	}
	over := corev1.ResourceList{GPUResource: resource.MustParse("9")}
	if got := NodeFor(gpuNode(), over).Spec.Capacity.GPU.Value(); got != 0 {
		t.Errorf("overcommitted node has %d GPUs, want 0", got)
	}
}

func TestNodeForSchedulability(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*corev1.Node)
		want bool
	}{
		{"ready", func(*corev1.Node) {}, false},
		{"cordoned", func(n *corev1.Node) { n.Spec.Unschedulable = true }, true},
		{"not ready", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }, true},
		{"no ready condition", func(n *corev1.Node) { n.Status.Conditions = nil }, true},
		{"tainted", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoSchedule}}
		}, true},
		{"gpu taint is tolerated", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: string(GPUResource), Effect: corev1.TaintEffectNoSchedule}}
		}, false},
		{"prefer-no-schedule is a hint", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}}
		}, false},
	} {
		if got := NodeFor(gpuNode(tc.mod), nil).Spec.Unschedulable; got != tc.want {
			t.Errorf("%s: unschedulable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
