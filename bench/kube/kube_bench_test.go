// Package kubebench measures the Kubernetes test harness (internal/kubetest)
// at the scale the Kubernetes-mode targets name: how fast 1,000 fake 8-GPU
// nodes become Ready under kwok, and how fast kwok moves 1,000 bound pods
// from creation to Succeeded — the floor under any end-to-end scheduling
// figure measured on the harness. Skipped unless SKIFF_KUBE_TEST=1.
//
//	SKIFF_KUBE_TEST=1 go test -run '^$' -bench . -benchtime 1x ./bench/kube/
package kubebench

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"skiff.dev/skiff/internal/kubetest"
)

const nodes = 1000

func addNodes(ctx context.Context, b *testing.B, c *kubetest.Cluster, prefix string) {
	b.Helper()
	ns := make([]kubetest.Node, nodes)
	for i := range ns {
		ns[i] = kubetest.Node{
			Name: fmt.Sprintf("%s-%04d", prefix, i),
			GPUs: 8,
			Labels: map[string]string{
				"topology.skiff.dev/rack":  fmt.Sprintf("rack-%02d", i/32),
				"topology.skiff.dev/block": fmt.Sprintf("block-%d", i/256),
			},
		}
	}
	if err := c.AddNodes(ctx, ns...); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAddNodes: 1,000 8-GPU nodes created and Ready, per iteration.
func BenchmarkAddNodes(b *testing.B) {
	c := kubetest.Start(b, kubetest.Options{Kwok: true})
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		addNodes(ctx, b, c, fmt.Sprintf("n%d", i))
	}
	b.ReportMetric(float64(nodes*b.N)/b.Elapsed().Seconds(), "nodes/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000nodes")
}

// BenchmarkPodLifecycle: 1,000 one-GPU pods, bound one per node with a
// zero completion delay, from the first create to the last Succeeded.
func BenchmarkPodLifecycle(b *testing.B) {
	c := kubetest.Start(b, kubetest.Options{Kwok: true})
	ctx := context.Background()
	addNodes(ctx, b, c, "node")
	cs := c.Clientset(b)
	gpu := *resource.NewQuantity(1, resource.DecimalSI)
	b.ResetTimer()
	for i := range b.N {
		ns := fmt.Sprintf("round-%d", i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		// A retrying watch: on a loaded machine the server may end a watch
		// stream, and the count must carry on from where it was.
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return cs.CoreV1().Pods(ns).Watch(ctx, opts)
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		// Eight creators, as a controller's workers would.
		const creators = 8
		errs := make(chan error, creators)
		for k := range creators {
			go func() {
				errs <- createPods(ctx, cs, ns, k, creators, gpu)
			}()
		}
		done := map[string]bool{}
		for pending := creators; len(done) < nodes; {
			select {
			case err := <-errs:
				if err != nil {
					b.Fatal(err)
				}
				if pending--; pending == 0 {
					errs = nil
				}
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatal("watch closed")
				}
				if ev.Type == watch.Error {
					b.Fatalf("watch error: %v", ev.Object)
				}
				if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodSucceeded {
					done[p.Name] = true
				}
			}
		}
		w.Stop()
		b.ReportMetric(time.Since(start).Seconds(), "s/1000pods")
	}
	b.ReportMetric(float64(nodes*b.N)/b.Elapsed().Seconds(), "pods/s")
}

// createPods creates pods k, k+step, ... bound one per node.
func createPods(ctx context.Context, cs kubernetes.Interface, ns string, k, step int, gpu resource.Quantity) error {
	for j := k; j < nodes; j += step {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:        fmt.Sprintf("p-%04d", j),
				Annotations: map[string]string{kubetest.CompleteAfterAnnotation: "0s"},
			},
			Spec: corev1.PodSpec{
				NodeName:      fmt.Sprintf("node-%04d", j),
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "c", Image: "skiff.dev/example",
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{kubetest.GPUResource: gpu}},
				}},
			},
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s/%s: %w", ns, pod.Name, err)
		}
	}
	return nil
}
