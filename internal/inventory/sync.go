package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// ManagedLabel marks pods Skiff runs (the pod runtime's replica label):
// their requests are already Skiff's to account for.
const ManagedLabel = "skiff.dev/replica"

const byNode = "node"

// firstPassWorkers write the Nodes of the first pass concurrently.
const firstPassWorkers = 8

// Syncer mirrors the cluster's nodes into Store.
type Syncer struct {
	Client corev1client.CoreV1Interface
	Store  store.Store
	Log    *slog.Logger

	nodes cache.SharedIndexInformer
	pods  cache.SharedIndexInformer
	queue workqueue.TypedRateLimitingInterface[string]
}

// Start lists nodes and pods, writes every Node once (deleting Nodes of
// machines no longer in the cluster) and keeps them in step in the
// background until ctx ends.
func (s *Syncer) Start(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	s.nodes = cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (k8sruntime.Object, error) {
			return s.Client.Nodes().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return s.Client.Nodes().Watch(ctx, o)
		},
	}, &corev1.Node{}, 0, cache.Indexers{})
	s.pods = cache.NewSharedIndexInformer(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (k8sruntime.Object, error) {
			o.LabelSelector = "!" + ManagedLabel
			return s.Client.Pods("").List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = "!" + ManagedLabel
			return s.Client.Pods("").Watch(ctx, o)
		},
	}, &corev1.Pod{}, 0, cache.Indexers{byNode: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	// Only what capacity needs is kept of each pod: memory stays small on
	// large clusters.
	if err := s.pods.SetTransform(slimPod); err != nil {
		return fmt.Errorf("node inventory: %w", err)
	}
	enqueueNode := func(obj any) {
		if n, ok := tombstone(obj).(*corev1.Node); ok {
			s.queue.Add(n.Name)
		}
	}
	enqueuePod := func(obj any) {
		if p, ok := tombstone(obj).(*corev1.Pod); ok && p.Spec.NodeName != "" {
			s.queue.Add(p.Spec.NodeName)
		}
	}
	if _, err := s.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueNode, UpdateFunc: func(_, n any) { enqueueNode(n) }, DeleteFunc: enqueueNode,
	}); err != nil {
		return fmt.Errorf("node inventory: %w", err)
	}
	if _, err := s.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueuePod, UpdateFunc: func(_, p any) { enqueuePod(p) }, DeleteFunc: enqueuePod,
	}); err != nil {
		return fmt.Errorf("node inventory: %w", err)
	}
	go s.nodes.RunWithContext(ctx)
	go s.pods.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), s.nodes.HasSynced, s.pods.HasSynced) {
		s.queue.ShutDown()
		return fmt.Errorf("node inventory: listing nodes and pods did not finish: %w", ctx.Err())
	}
	// Nodes of machines that left while no operator ran.
	list := &v1alpha1.NodeList{}
	if err := s.Store.List(ctx, list, store.ListOptions{}); err != nil {
		return fmt.Errorf("node inventory: %w", err)
	}
	for _, n := range list.Items {
		s.queue.Add(n.Name)
	}
	// The first pass runs here, so the scheduler starts with every node;
	// on several workers, since each node is a write or two on the API
	// server and a large cluster has a thousand of them.
	// Each worker reserves one of the queued keys before taking one, so
	// that no Get waits on an empty queue; what events add meanwhile is
	// left to the loop below.
	var (
		first  sync.WaitGroup
		taken  atomic.Int64
		queued = int64(s.queue.Len())
	)
	for range firstPassWorkers {
		first.Go(func() {
			for taken.Add(1) <= queued {
				if !s.processNext(ctx) {
					return
				}
			}
		})
	}
	first.Wait()
	go func() {
		<-ctx.Done()
		s.queue.ShutDown()
	}()
	go func() {
		for s.processNext(ctx) {
		}
	}()
	return nil
}

// Nodes are the Skiff Nodes of the cluster as it is now.
func (s *Syncer) Nodes() []*v1alpha1.Node {
	var out []*v1alpha1.Node
	for _, obj := range s.nodes.GetStore().List() {
		if n, ok := obj.(*corev1.Node); ok {
			out = append(out, NodeFor(n, s.foreign(n.Name)))
		}
	}
	return out
}

func (s *Syncer) processNext(ctx context.Context) bool {
	name, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(name)
	if err := s.sync(ctx, name); err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("syncing node", "node", name, "err", err)
		}
		s.queue.AddRateLimited(name)
		return true
	}
	s.queue.Forget(name)
	return true
}

// sync makes Node name match the cluster's node of that name.
func (s *Syncer) sync(ctx context.Context, name string) error {
	obj, exists, err := s.nodes.GetStore().GetByKey(name)
	if err != nil {
		return err
	}
	if !exists {
		err := s.Store.Delete(ctx, nodeKind, "", name, store.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting node %s, gone from the cluster: %w", name, err)
		}
		return nil
	}
	want := NodeFor(obj.(*corev1.Node), s.foreign(name))
	cur := &v1alpha1.Node{}
	err = s.Store.Get(ctx, "", name, cur)
	if apierrors.IsNotFound(err) {
		return s.Store.Create(ctx, want)
	}
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(cur.Labels, want.Labels) && equality.Semantic.DeepEqual(cur.Spec, want.Spec) &&
		equality.Semantic.DeepEqual(cur.Status, want.Status) {
		return nil
	}
	cur.Labels, cur.Spec, cur.Status = want.Labels, want.Spec, want.Status
	return s.Store.Update(ctx, cur)
}

// foreign sums the requests of running pods Skiff does not manage on node.
func (s *Syncer) foreign(node string) corev1.ResourceList {
	sum := corev1.ResourceList{}
	objs, _ := s.pods.GetIndexer().ByIndex(byNode, node)
	for _, obj := range objs {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for name, q := range PodRequests(p) {
			cur := sum[name]
			cur.Add(q)
			sum[name] = cur
		}
	}
	return sum
}

var nodeKind = func() v1alpha1.Kind {
	k, _ := v1alpha1.LookupKind("Node")
	return k
}()

func tombstone(obj any) any {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return obj
}

// slimPod keeps what capacity accounting reads of a pod.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, ResourceVersion: p.ResourceVersion, UID: p.UID},
		Spec:       corev1.PodSpec{NodeName: p.Spec.NodeName},
		Status:     corev1.PodStatus{Phase: p.Status.Phase},
	}
	for _, c := range p.Spec.Containers {
		slim.Spec.Containers = append(slim.Spec.Containers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: c.Resources.Requests}})
	}
	for _, c := range p.Spec.InitContainers {
		slim.Spec.InitContainers = append(slim.Spec.InitContainers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: c.Resources.Requests}})
	}
	return slim, nil
}
