package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime"
)

// Labels and annotations Skiff puts on pods and services.
const (
	LabelReplica = "skiff.dev/replica"
	LabelJob     = "skiff.dev/job"
	// AnnotationStopRequested marks a pod Skiff deleted on purpose.
	AnnotationStopRequested = "skiff.dev/stop-requested"
	// Finalizer keeps a finished pod until its replica is removed.
	Finalizer = "skiff.dev/replica"
	// GPUResource is the extended resource NVIDIA's device plugin serves.
	GPUResource corev1.ResourceName = "nvidia.com/gpu"
	// ContainerName is the name of the replica's container.
	ContainerName = "replica"
)

// Options configure the pod runtime.
type Options struct {
	Client corev1client.CoreV1Interface
	// DefaultImage runs replicas whose template names no image.
	DefaultImage string
	// ResyncPeriod of the pod informer; 0 means none.
	ResyncPeriod time.Duration
	Logf         func(format string, args ...any)
}

// Runtime runs replicas as pods.
type Runtime struct {
	opts     Options
	client   corev1client.CoreV1Interface
	informer cache.SharedIndexInformer
	exits    chan runtime.Status
	stop     chan struct{}
	stopOnce sync.Once

	svcMu    sync.Mutex
	services map[string]bool // namespace/name of headless services known to exist
}

var (
	_ runtime.Runtime   = (*Runtime)(nil)
	_ runtime.LogOpener = (*Runtime)(nil)
)

// New starts the pod informer and waits until it has synced.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Client == nil {
		return nil, errors.New("pod runtime: no Kubernetes client")
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (k8sruntime.Object, error) {
			o.LabelSelector = LabelReplica
			return opts.Client.Pods("").List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = LabelReplica
			return opts.Client.Pods("").Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, opts.ResyncPeriod, cache.Indexers{
		"job": func(obj any) ([]string, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, nil
			}
			return []string{p.Namespace + "/" + p.Labels[LabelJob]}, nil
		},
	})
	rt := &Runtime{opts: opts, client: opts.Client, informer: inf, exits: make(chan runtime.Status, 1024),
		stop: make(chan struct{}), services: map[string]bool{}}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { rt.notify(nil, obj) },
		UpdateFunc: func(old, obj any) { rt.notify(old, obj) },
	}); err != nil {
		return nil, fmt.Errorf("pod runtime: %w", err)
	}
	go inf.Run(rt.stop)
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), inf.HasSynced) {
		rt.close()
		return nil, fmt.Errorf("pod runtime: listing pods did not finish: check the API server and that the operator may list pods")
	}
	return rt, nil
}

// notify sends a replica's status on Exits when its pod has just
// terminated.
func (rt *Runtime) notify(old, obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	st := podStatus(p)
	if st.State == runtime.Running {
		return
	}
	if o, ok := old.(*corev1.Pod); ok && podStatus(o).State != runtime.Running {
		return // already reported
	}
	select {
	case rt.exits <- st:
	default: // a slow reader reconciles with List
	}
}

// Start creates the replica's pod unless it exists.
func (rt *Runtime) Start(ctx context.Context, r runtime.Replica) (runtime.Status, error) {
	if st, err := rt.Status(ctx, r.Namespace, r.Name); err == nil {
		return st, nil
	}
	if r.Subdomain != "" {
		if err := rt.ensureService(ctx, r); err != nil {
			return runtime.Status{}, err
		}
	}
	pod, err := rt.podFor(r)
	if err != nil {
		return runtime.Status{}, err
	}
	created, err := rt.client.Pods(r.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = rt.client.Pods(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
	}
	if err != nil {
		return runtime.Status{}, fmt.Errorf("creating pod %s/%s: %w", r.Namespace, r.Name, err)
	}
	return podStatus(created), nil
}

// podFor is the pod of replica r.
func (rt *Runtime) podFor(r runtime.Replica) (*corev1.Pod, error) {
	image := r.Image
	if image == "" {
		image = rt.opts.DefaultImage
	}
	if image == "" {
		return nil, fmt.Errorf("replica %s has no image: set spec.replicaGroups[].template.image (Kubernetes mode runs containers)", r.Name)
	}
	env := make([]corev1.EnvVar, 0, len(r.Env))
	for _, kv := range r.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	limits := corev1.ResourceList{}
	if r.CPUMilli > 0 {
		limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(r.CPUMilli, resource.DecimalSI)
	}
	if r.MemoryBytes > 0 {
		limits[corev1.ResourceMemory] = *resource.NewQuantity(r.MemoryBytes, resource.BinarySI)
	}
	if len(r.GPUs) > 0 {
		limits[GPUResource] = *resource.NewQuantity(int64(len(r.GPUs)), resource.DecimalSI)
	}
	labels := map[string]string{LabelReplica: r.Name}
	if r.Owner != "" {
		labels[LabelJob] = r.Owner
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Name, Namespace: r.Namespace, Labels: labels,
			Annotations: copyMap(r.Annotations),
			Finalizers:  []string{Finalizer},
		},
		Spec: corev1.PodSpec{
			NodeName:      r.Node,
			RestartPolicy: corev1.RestartPolicyNever,
			Hostname:      hostname(r.Name),
			Subdomain:     r.Subdomain,
			Containers: []corev1.Container{{
				Name: ContainerName, Image: image, Command: r.Command, Args: r.Args, Env: env,
				WorkingDir: r.WorkingDir,
				Resources:  corev1.ResourceRequirements{Limits: limits, Requests: limits},
			}},
			// Tolerate the taint clusters put on GPU nodes.
			Tolerations: []corev1.Toleration{{Key: string(GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	if r.Owner != "" && r.OwnerUID != "" {
		pod.OwnerReferences = []metav1.OwnerReference{ownerRef(r)}
	}
	return pod, nil
}

func ownerRef(r runtime.Replica) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: v1alpha1.APIVersion, Kind: "Job", Name: r.Owner, UID: types.UID(r.OwnerUID), Controller: &yes}
}

// hostname is the pod's host name: its name, which fits a DNS label
// (63 characters) for any valid replica name Skiff makes.
func hostname(name string) string {
	if len(name) > 63 {
		return strings.TrimRight(name[:63], "-")
	}
	return name
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ensureService creates the job's headless service, which gives each of
// its pods a DNS name.
func (rt *Runtime) ensureService(ctx context.Context, r runtime.Replica) error {
	key := r.Namespace + "/" + r.Subdomain
	rt.svcMu.Lock()
	known := rt.services[key]
	rt.svcMu.Unlock()
	if known {
		return nil
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: r.Subdomain, Namespace: r.Namespace, Labels: map[string]string{LabelJob: r.Owner}},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 map[string]string{LabelJob: r.Owner},
			PublishNotReadyAddresses: true,
			// A headless service needs no port, but some DNS setups only
			// publish records of services with one.
			Ports: []corev1.ServicePort{{Name: "rendezvous", Port: 29500, TargetPort: intstr.FromInt32(29500)}},
		},
	}
	if r.OwnerUID != "" {
		svc.OwnerReferences = []metav1.OwnerReference{ownerRef(r)}
	}
	_, err := rt.client.Services(r.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the headless service %s: %w", key, err)
	}
	rt.svcMu.Lock()
	rt.services[key] = true
	rt.svcMu.Unlock()
	return nil
}

// pod finds a replica's pod in the informer cache, or asks the API server
// (a pod just created may not be cached yet).
func (rt *Runtime) pod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	obj, ok, err := rt.informer.GetStore().GetByKey(namespace + "/" + name)
	if err == nil && ok {
		if p, isPod := obj.(*corev1.Pod); isPod {
			return p, nil
		}
	}
	p, err := rt.client.Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, runtime.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading pod %s/%s: %w", namespace, name, err)
	}
	if _, managed := p.Labels[LabelReplica]; !managed {
		return nil, runtime.ErrNotFound
	}
	return p, nil
}

// Status reports a replica from its pod.
func (rt *Runtime) Status(ctx context.Context, namespace, name string) (runtime.Status, error) {
	p, err := rt.pod(ctx, namespace, name)
	if err != nil {
		return runtime.Status{}, err
	}
	return podStatus(p), nil
}

// podStatus translates a pod into a replica status.
func podStatus(p *corev1.Pod) runtime.Status {
	st := runtime.Status{Namespace: p.Namespace, Name: p.Name, State: runtime.Running, StartedAt: p.CreationTimestamp.Time}
	if p.Status.StartTime != nil {
		st.StartedAt = p.Status.StartTime.Time
	}
	var term *corev1.ContainerStateTerminated
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == ContainerName && cs.State.Terminated != nil {
			term = cs.State.Terminated
		}
	}
	switch {
	case term != nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil):
		st.State = runtime.Exited
		st.ExitCode = int(term.ExitCode)
		st.FinishedAt = term.FinishedAt.Time
		st.Message = term.Message
		if term.Reason != "" && term.Reason != "Completed" && term.Reason != "Error" {
			st.Message = strings.TrimSpace(term.Reason + " " + term.Message)
		}
		if term.Signal != 0 {
			st.Signal = fmt.Sprintf("signal %d", term.Signal)
		}
	case p.Status.Phase == corev1.PodSucceeded:
		st.State, st.ExitCode = runtime.Exited, 0
	case p.Status.Phase == corev1.PodFailed:
		st.State, st.ExitCode = runtime.Exited, 1
		st.Message = strings.TrimSpace(p.Status.Reason + " " + p.Status.Message)
	case p.Status.Phase == corev1.PodUnknown:
		st.State = runtime.Lost
		st.Message = "the pod's node stopped reporting"
	default:
		return st
	}
	if st.FinishedAt.IsZero() {
		st.FinishedAt = time.Now()
	}
	if p.DeletionTimestamp != nil {
		if p.Annotations[AnnotationStopRequested] != "" {
			st.Reason = "Stopped"
		} else if st.ExitCode == 0 {
			// Deleted behind Skiff's back: not a success, whatever the
			// container returned.
			st.Reason, st.Message = "Deleted", "the pod was deleted outside Skiff"
		}
	}
	return st
}

// Stop deletes the replica's pod with a grace period: the container gets
// SIGTERM, then SIGKILL after grace. The finalizer keeps the pod, and its
// exit code, until Remove.
func (rt *Runtime) Stop(ctx context.Context, namespace, name string, grace time.Duration) error {
	p, err := rt.pod(ctx, namespace, name)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Annotations[AnnotationStopRequested] == "" {
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"}}}`, AnnotationStopRequested)
		if _, err := rt.client.Pods(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("stopping pod %s/%s: %w", namespace, name, err)
		}
	}
	secs := int64(grace / time.Second)
	err = rt.client.Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &secs})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("stopping pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

// Remove lets the pod of an exited replica go, and the job's headless
// service with its last pod.
func (rt *Runtime) Remove(ctx context.Context, namespace, name string) error {
	p, err := rt.pod(ctx, namespace, name)
	if err != nil {
		return err
	}
	if hasFinalizer(p) {
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := rt.client.Pods(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing pod %s/%s: %w", namespace, name, err)
		}
	}
	if p.DeletionTimestamp == nil {
		zero := int64(0)
		if err := rt.client.Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing pod %s/%s: %w", namespace, name, err)
		}
	}
	job := p.Labels[LabelJob]
	if job == "" {
		return nil
	}
	others, _ := rt.informer.GetIndexer().ByIndex("job", namespace+"/"+job)
	for _, o := range others {
		if op, ok := o.(*corev1.Pod); ok && op.Name != name {
			return nil
		}
	}
	if err := rt.client.Services(namespace).Delete(ctx, job, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the headless service %s/%s: %w", namespace, job, err)
	}
	rt.svcMu.Lock()
	delete(rt.services, namespace+"/"+job)
	rt.svcMu.Unlock()
	return nil
}

func hasFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == Finalizer {
			return true
		}
	}
	return false
}

// List reports every replica pod.
func (rt *Runtime) List(context.Context) ([]runtime.Status, error) {
	var out []runtime.Status
	for _, obj := range rt.informer.GetStore().List() {
		if p, ok := obj.(*corev1.Pod); ok {
			out = append(out, podStatus(p))
		}
	}
	return out, nil
}

// LogPath fails: pod logs are read through the API (OpenLog).
func (rt *Runtime) LogPath(namespace, name string) (string, error) {
	return "", fmt.Errorf("replica %s/%s runs in a pod: its log is read through the Kubernetes API", namespace, name)
}

// OpenLog streams the pod's log from the API server.
func (rt *Runtime) OpenLog(ctx context.Context, namespace, name string, follow bool) (io.ReadCloser, error) {
	rc, err := rt.client.Pods(namespace).GetLogs(name, &corev1.PodLogOptions{Container: ContainerName, Follow: follow}).Stream(ctx)
	if apierrors.IsNotFound(err) {
		return nil, runtime.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading the log of pod %s/%s: %w", namespace, name, err)
	}
	return rc, nil
}

// Exits delivers replicas as their pods terminate.
func (rt *Runtime) Exits() <-chan runtime.Status { return rt.exits }

// Shutdown stops watching pods and leaves them running: replicas outlive
// the operator, and the next leader adopts them.
func (rt *Runtime) Shutdown(context.Context, time.Duration) error {
	rt.close()
	return nil
}

func (rt *Runtime) close() { rt.stopOnce.Do(func() { close(rt.stop) }) }
