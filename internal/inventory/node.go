package inventory

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// Labels that name a node's GPU model: NVIDIA GPU feature discovery's, then
// Skiff's own for clusters without it.
const (
	LabelGPUProduct = "nvidia.com/gpu.product"
	LabelGPUModel   = "skiff.dev/gpu-model"
	// GPUResource is the extended resource NVIDIA's device plugin serves.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
)

// Tolerated are the taint keys Skiff's pods tolerate (GPU nodes are often
// tainted so that only GPU workloads land there).
var Tolerated = map[string]bool{string(GPUResource): true}

// NodeFor is the Skiff Node for Kubernetes node n, where foreign is what
// pods Skiff does not manage request on it.
func NodeFor(n *corev1.Node, foreign corev1.ResourceList) *v1alpha1.Node {
	out := &v1alpha1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: copyLabels(n.Labels)}}
	v1alpha1.SetTypeMeta(out)
	free := func(name corev1.ResourceName, milli bool) *resource.Quantity {
		a := n.Status.Allocatable[name]
		used := foreign[name]
		if milli {
			v := a.MilliValue() - used.MilliValue()
			return resource.NewMilliQuantity(max(v, 0), resource.DecimalSI)
		}
		v := a.Value() - used.Value()
		format := resource.DecimalSI
		if name == corev1.ResourceMemory {
			format = resource.BinarySI
		}
		return resource.NewQuantity(max(v, 0), format)
	}
	gpus := free(GPUResource, false)
	out.Spec.Capacity = v1alpha1.Resources{
		CPU:    free(corev1.ResourceCPU, true),
		Memory: free(corev1.ResourceMemory, false),
		GPU:    gpus,
	}
	model := n.Labels[LabelGPUProduct]
	if model == "" {
		model = n.Labels[LabelGPUModel]
	}
	out.Spec.GPUModel = model
	out.Spec.Unschedulable = !schedulable(n)
	for i := range gpus.Value() {
		out.Status.GPUs = append(out.Status.GPUs, v1alpha1.GPUDevice{Index: int32(i), Model: model})
	}
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "NotReady", Message: "the node does not report Ready"}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready.Status = metav1.ConditionStatus(c.Status)
			ready.Reason = nonEmpty(c.Reason, "KubeletReady")
			ready.Message = c.Message
			ready.LastTransitionTime = c.LastTransitionTime
		}
	}
	if ready.LastTransitionTime.IsZero() {
		ready.LastTransitionTime = n.CreationTimestamp
	}
	out.Status.Conditions = []metav1.Condition{ready}
	return out
}

// schedulable says whether new replicas may go to n.
func schedulable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !Tolerated[t.Key] {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodRequests is what a pod asks of its node: the sum over its containers,
// or its largest init container when that is more.
func PodRequests(p *corev1.Pod) corev1.ResourceList {
	sum := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		for name, q := range c.Resources.Requests {
			cur := sum[name]
			cur.Add(q)
			sum[name] = cur
		}
	}
	for _, c := range p.Spec.InitContainers {
		for name, q := range c.Resources.Requests {
			if cur := sum[name]; q.Cmp(cur) > 0 {
				sum[name] = q.DeepCopy()
			}
		}
	}
	return sum
}

// Totals sums nodes' capacity: the size of the default queue on the first
// start.
func Totals(nodes []*v1alpha1.Node) (cpuMilli, memoryBytes, gpus int64, model string) {
	for _, n := range nodes {
		if c := n.Spec.Capacity; c.CPU != nil {
			cpuMilli += c.CPU.MilliValue()
		}
		if c := n.Spec.Capacity; c.Memory != nil {
			memoryBytes += c.Memory.Value()
		}
		if c := n.Spec.Capacity; c.GPU != nil {
			gpus += c.GPU.Value()
		}
		if model == "" {
			model = n.Spec.GPUModel
		}
	}
	return cpuMilli, memoryBytes, gpus, model
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
