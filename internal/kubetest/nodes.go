package kubetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Annotations that drive kwok's handling of nodes and pods (see kwok.yaml).
const (
	// KwokNodeAnnotation (value "fake") marks a node kwok manages; AddNodes
	// sets it.
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
	// CompleteAfterAnnotation on a pod makes it terminate that long (a Go
	// duration such as "2s", or an RFC 3339 time) after it went Running.
	// A pod without it runs until it is deleted.
	CompleteAfterAnnotation = "pod-complete.stage.kwok.x-k8s.io/delay"
	// ExitCodeAnnotation is the exit code (an integer, default 0) of every
	// container of a pod that terminates by CompleteAfterAnnotation: 0
	// makes the pod Succeeded, anything else Failed.
	ExitCodeAnnotation = "pod-complete.stage.kwok.x-k8s.io/exit-code"
	// DeleteDelayAnnotation is how long a deleted pod lingers (Terminating)
	// before kwok removes it; by default it goes at once.
	DeleteDelayAnnotation = "pod-delete.stage.kwok.x-k8s.io/delay"

	// GPUResource is the extended resource the NVIDIA device plugin
	// advertises, which AddNodes gives each node Node.GPUs of.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"

	kwokNodeValue = "fake"

	// notReadyAnnotation on a kwok node makes kwok report it Ready=False
	// (see SetNodeReady).
	notReadyAnnotation = "kubetest.skiff.dev/not-ready"
)

// Node describes a fake node for AddNodes.
type Node struct {
	Name   string
	Labels map[string]string // e.g. topology labels; kubernetes.io/hostname is added
	GPUs   int               // nvidia.com/gpu capacity; 0 leaves the resource off
	CPU    string            // quantity, default "32"
	Memory string            // quantity, default "256Gi"
	Pods   int               // pod capacity, default 110
	Taints []corev1.Taint
}

// object returns the Node object for n, capacity and allocatable alike, or
// an error naming the field that does not parse.
func (n Node) object() (*corev1.Node, error) {
	if n.Name == "" {
		return nil, errors.New("kubetest: Node.Name is empty; give each node a name")
	}
	cpu, mem, pods := n.CPU, n.Memory, n.Pods
	if cpu == "" {
		cpu = "32"
	}
	if mem == "" {
		mem = "256Gi"
	}
	if pods == 0 {
		pods = 110
	}
	if n.GPUs < 0 || pods < 0 {
		return nil, fmt.Errorf("kubetest: node %q: GPUs and Pods must not be negative (got %d, %d)", n.Name, n.GPUs, pods)
	}
	cpuQ, err := resource.ParseQuantity(cpu)
	if err != nil {
		return nil, fmt.Errorf("kubetest: node %q: CPU %q is not a quantity (e.g. \"32\" or \"500m\"): %w", n.Name, cpu, err)
	}
	memQ, err := resource.ParseQuantity(mem)
	if err != nil {
		return nil, fmt.Errorf("kubetest: node %q: Memory %q is not a quantity (e.g. \"256Gi\"): %w", n.Name, mem, err)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    cpuQ,
		corev1.ResourceMemory: memQ,
		corev1.ResourcePods:   *resource.NewQuantity(int64(pods), resource.DecimalSI),
	}
	if n.GPUs > 0 {
		capacity[GPUResource] = *resource.NewQuantity(int64(n.GPUs), resource.DecimalSI)
	}
	labels := map[string]string{
		"kubernetes.io/hostname": n.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
	}
	for k, v := range n.Labels {
		labels[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Labels:      labels,
			Annotations: map[string]string{KwokNodeAnnotation: kwokNodeValue},
		},
		Spec: corev1.NodeSpec{Taints: n.Taints},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
		},
	}, nil
}

// AddNodes creates fake nodes managed by kwok, with the given labels,
// capacity and allocatable, and returns once kwok has made every one of
// them Ready. It needs Options.Kwok.
func (c *Cluster) AddNodes(ctx context.Context, nodes ...Node) error {
	if c.procs[binKwok] == nil {
		return errors.New("kubetest: AddNodes needs kwok: start the cluster with Options{Kwok: true}")
	}
	objs := make([]*corev1.Node, len(nodes))
	for i, n := range nodes {
		obj, err := n.object()
		if err != nil {
			return err
		}
		objs[i] = obj
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("kubetest: client: %w", err)
	}
	if err := parallel(ctx, len(objs), 16, func(i int) error { return createNode(ctx, cs, objs[i]) }); err != nil {
		return err
	}
	want := make(map[string]bool, len(objs))
	for _, o := range objs {
		want[o.Name] = true
	}
	return waitFor(ctx, fmt.Sprintf("kwok to make %d nodes Ready", len(want)), func() (bool, error) {
		if err := c.checkAlive(binKwok); err != nil {
			return false, c.withLogs(err)
		}
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("listing nodes: %w", err)
		}
		ready := 0
		for i := range list.Items {
			if want[list.Items[i].Name] && NodeReady(&list.Items[i]) {
				ready++
			}
		}
		return ready == len(want), nil
	})
}

// createNode creates obj with its status. The API server keeps the status
// of a created node; should a version drop it, it is written separately,
// since kwok keeps whatever capacity it finds and makes up the rest.
func createNode(ctx context.Context, cs kubernetes.Interface, obj *corev1.Node) error {
	got, err := cs.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("kubetest: creating node %q: %w", obj.Name, err)
	}
	if len(got.Status.Capacity) > 0 {
		return nil
	}
	got.Status.Capacity = obj.Status.Capacity
	got.Status.Allocatable = obj.Status.Allocatable
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kubetest: setting capacity of node %q: %w", obj.Name, err)
	}
	return nil
}

// NodeReady reports whether node has condition Ready=True.
func NodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error; after one, the indices not yet started are skipped.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idx := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range idx {
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return fmt.Errorf("kubetest: %w", ctx.Err())
	}
	return first
}

// SetNodeReady makes kwok report node name Ready=False (ready false: its
// kubelet is lost; its pods keep their last status, as on a partitioned
// node) or Ready again, and returns once the node's Ready condition says
// so.
func (c *Cluster) SetNodeReady(ctx context.Context, name string, ready bool) error {
	if c.procs[binKwok] == nil {
		return errors.New("kubetest: SetNodeReady needs kwok: start the cluster with Options{Kwok: true}")
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("kubetest: client: %w", err)
	}
	value := `"true"`
	if ready {
		value = "null"
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%s}}}`, notReadyAnnotation, value)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("kubetest: marking node %q ready=%v: %w", name, ready, err)
	}
	return waitFor(ctx, fmt.Sprintf("node %s to be Ready=%v", name, ready), func() (bool, error) {
		if err := c.checkAlive(binKwok); err != nil {
			return false, c.withLogs(err)
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return NodeReady(node) == ready, nil
	})
}
