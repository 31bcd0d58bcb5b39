package kubetest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// waitCtx bounds each test's waits; a healthy run takes seconds.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// gpuPod is a one-container pod bound to node, asking for gpus GPUs.
func gpuPod(name, node string, gpus int64, annotations map[string]string) *corev1.Pod {
	q := *resource.NewQuantity(gpus, resource.DecimalSI)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:    "trainer",
				Image:   "skiff.dev/example:latest",
				Command: []string{"python3", "train.py"},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{GPUResource: q},
					Limits:   corev1.ResourceList{GPUResource: q},
				},
			}},
		},
	}
}

// watchPod follows pod name until until(pod) is true, returning the phases
// it saw on the way (each change once) and the last state.
func watchPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string, until func(*corev1.Pod) bool) ([]corev1.PodPhase, *corev1.Pod) {
	t.Helper()
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
	if err != nil {
		t.Fatalf("watch pod %s: %v", name, err)
	}
	defer w.Stop()
	var phases []corev1.PodPhase
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s: phases seen %v, then %v", name, phases, ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("pod %s: watch closed after phases %v", name, phases)
			}
			if ev.Type == watch.Error {
				t.Fatalf("pod %s: watch error %v", name, apierrors.FromObject(ev.Object))
			}
			pod := ev.Object.(*corev1.Pod)
			if len(phases) == 0 || phases[len(phases)-1] != pod.Status.Phase {
				phases = append(phases, pod.Status.Phase)
			}
			if until(pod) {
				return phases, pod
			}
		}
	}
}

func TestKwokPodLifecycle(t *testing.T) {
	c := Start(t, Options{Kwok: true})
	ctx := waitCtx(t)
	cs := c.Clientset(t)

	began := time.Now()
	err := c.AddNodes(ctx,
		Node{Name: "gpu-a", GPUs: 8, Labels: map[string]string{"topology.skiff.dev/rack": "r1"}},
		Node{Name: "gpu-b", GPUs: 8, CPU: "64", Memory: "512Gi", Labels: map[string]string{"topology.skiff.dev/rack": "r2"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 nodes Ready in %v", time.Since(began).Round(time.Millisecond))

	node, err := cs.CoreV1().Nodes().Get(ctx, "gpu-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := node.Status.Allocatable[GPUResource]; got.Value() != 8 {
		t.Errorf("gpu-b allocatable %s = %s, want 8", GPUResource, got.String())
	}
	if got := node.Status.Capacity[corev1.ResourceMemory]; got.String() != "512Gi" {
		t.Errorf("gpu-b capacity memory = %s, want 512Gi", got.String())
	}
	if node.Labels["topology.skiff.dev/rack"] != "r2" || node.Labels["kubernetes.io/hostname"] != "gpu-b" {
		t.Errorf("gpu-b labels = %v", node.Labels)
	}

	t.Run("node not ready and back", func(t *testing.T) {
		if err := c.SetNodeReady(ctx, "gpu-b", false); err != nil {
			t.Fatal(err)
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, "gpu-b", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if NodeReady(node) {
			t.Fatalf("gpu-b still Ready: %+v", node.Status.Conditions)
		}
		if got := node.Status.Allocatable[GPUResource]; got.Value() != 8 {
			t.Errorf("a not-ready node lost its capacity: %v", node.Status.Allocatable)
		}
		if err := c.SetNodeReady(ctx, "gpu-b", true); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("completes", func(t *testing.T) {
		pod := gpuPod("done", "gpu-a", 2, map[string]string{CompleteAfterAnnotation: "2s"})
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var running *corev1.Pod
		phases, final := watchPod(ctx, t, cs, "done", func(p *corev1.Pod) bool {
			if p.Status.Phase == corev1.PodRunning && running == nil {
				running = p.DeepCopy()
			}
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		if running == nil {
			t.Fatalf("pod never Running; phases %v", phases)
		}
		if running.Status.PodIP == "" || len(running.Status.ContainerStatuses) != 1 || running.Status.ContainerStatuses[0].State.Running == nil {
			t.Errorf("running pod status = %+v", running.Status)
		}
		if final.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("final phase %s, want Succeeded; phases %v", final.Status.Phase, phases)
		}
		cst := final.Status.ContainerStatuses
		if len(cst) != 1 || cst[0].State.Terminated == nil || cst[0].State.Terminated.ExitCode != 0 {
			t.Fatalf("container statuses = %+v, want one terminated with exit code 0", cst)
		}
		// The delay is counted from Running; the API server's timestamps
		// have second precision, so only a lower bound is checked.
		ran := cst[0].State.Terminated.FinishedAt.Sub(running.Status.StartTime.Time)
		if ran < time.Second {
			t.Errorf("pod ran %v between start and finish, want about 2s", ran)
		}
	})

	t.Run("gated then bound", func(t *testing.T) {
		// The other way to place a pod: create it gated (nothing starts it),
		// lift the gate, bind it with the Binding subresource.
		pod := gpuPod("gated", "", 1, map[string]string{CompleteAfterAnnotation: "0s"})
		pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "skiff.dev/gang"}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != corev1.PodPending {
			t.Fatalf("gated pod phase %s, want Pending", got.Status.Phase)
		}
		got.Spec.SchedulingGates = nil
		if _, err := cs.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: "gated"},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "gpu-b"},
		}
		if err := cs.CoreV1().Pods("default").Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		phases, final := watchPod(ctx, t, cs, "gated", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
		if final.Spec.NodeName != "gpu-b" {
			t.Errorf("pod ran on %q, want gpu-b (phases %v)", final.Spec.NodeName, phases)
		}
	})

	t.Run("fails with exit code", func(t *testing.T) {
		pod := gpuPod("broken", "gpu-b", 8, map[string]string{CompleteAfterAnnotation: "1s", ExitCodeAnnotation: "3"})
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		phases, final := watchPod(ctx, t, cs, "broken", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		if final.Status.Phase != corev1.PodFailed {
			t.Fatalf("final phase %s, want Failed; phases %v", final.Status.Phase, phases)
		}
		cst := final.Status.ContainerStatuses
		if len(cst) != 1 || cst[0].State.Terminated == nil || cst[0].State.Terminated.ExitCode != 3 {
			t.Fatalf("container statuses = %+v, want one terminated with exit code 3", cst)
		}
	})

	t.Run("deleted pod goes away", func(t *testing.T) {
		// No completion annotation: it runs like a server until deleted.
		pod := gpuPod("server", "gpu-b", 1, nil)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		watchPod(ctx, t, cs, "server", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		// A running pod is deleted gracefully, as Skiff preempts: the API
		// server only marks it, and kwok must finish the deletion.
		grace := int64(30)
		if err := cs.CoreV1().Pods("default").Delete(ctx, "server", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
			t.Fatal(err)
		}
		waitGone(ctx, t, cs, "server")
	})

	t.Run("deleted pod with a finalizer stops and waits", func(t *testing.T) {
		pod := gpuPod("held", "gpu-a", 1, nil)
		pod.Finalizers = []string{"skiff.dev/test"}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		watchPod(ctx, t, cs, "held", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		if err := cs.CoreV1().Pods("default").Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		phases, final := watchPod(ctx, t, cs, "held", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
		cst := final.Status.ContainerStatuses
		if len(cst) != 1 || cst[0].State.Terminated == nil || cst[0].State.Terminated.ExitCode != 143 {
			t.Fatalf("container statuses = %+v, want one terminated with exit code 143 (phases %v)", cst, phases)
		}
		if final.DeletionTimestamp == nil {
			t.Fatal("pod Failed but not being deleted")
		}
		final.Finalizers = nil
		if _, err := cs.CoreV1().Pods("default").Update(ctx, final, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitGone(ctx, t, cs, "held")
	})
}

// waitGone waits until pod name no longer exists.
func waitGone(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	err := waitFor(ctx, "pod "+name+" to be gone", func() (bool, error) {
		_, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAPIServer checks the server authorizes with RBAC (a token-less
// client is refused, the admin is allowed what system:masters is, a
// service account only what its role binding grants), admits
// pods in a namespace without service accounts, and keeps its objects
// across a restart.
func TestAPIServer(t *testing.T) {
	c := Start(t, Options{})
	ctx := waitCtx(t)
	anon := *c.Config
	anon.BearerToken = ""
	cs, err := kubernetes.NewForConfig(&anon)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
		t.Errorf("anonymous list pods: err = %v, want forbidden or unauthorized", err)
	}
	admin := c.Clientset(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	if _, err := admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("admin create namespace: %v", err)
	}
	// Pods need no service account when the admission plugin is off.
	pod := gpuPod("p", "", 1, nil)
	pod.Namespace = "team-a"
	if _, err := admin.CoreV1().Pods("team-a").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod in a fresh namespace: %v", err)
	}

	// A service account has only what RBAC grants it.
	saCfg, err := c.ServiceAccountConfig(ctx, "team-a", "operator")
	if err != nil {
		t.Fatal(err)
	}
	sa := kubernetes.NewForConfigOrDie(saCfg)
	if _, err := sa.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("service account lists pods before any binding: err = %v, want forbidden", err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "pod-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}
	if _, err := admin.RbacV1().Roles("team-a").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "operator-reads-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "team-a", Name: "operator"}},
	}
	if _, err := admin.RbacV1().RoleBindings("team-a").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, "the role binding to apply", func() (bool, error) {
		_, err := sa.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.CoreV1().Pods("team-a").Delete(ctx, "p", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("service account deletes a pod it may only read: err = %v, want forbidden", err)
	}

	host := c.Config.Host
	c.RestartAPIServer(t)
	if c.Config.Host != host {
		t.Errorf("restarted API server at %s, want the same address %s", c.Config.Host, host)
	}
	// The same client carries on once the server is back.
	got, err := admin.CoreV1().Pods("team-a").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod after restart: %v", err)
	}
	if gpus := got.Spec.Containers[0].Resources.Limits[GPUResource]; gpus.Value() != 1 {
		t.Errorf("pod after restart = %+v", got.Spec)
	}
}

// TestControllerManagerGarbageCollects checks owner references are acted
// on: deleting an owner deletes its dependents.
func TestControllerManagerGarbageCollects(t *testing.T) {
	c := Start(t, Options{ControllerManager: true})
	ctx := waitCtx(t)
	cs := c.Clientset(t)
	owner, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "owner"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		dep := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("dependent-%d", i),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
			}},
		}}
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, "the dependents to be collected", func() (bool, error) {
		list, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, cm := range list.Items {
			if len(cm.OwnerReferences) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNewAndStop checks the TestMain form: New starts a cluster, Stop
// takes every component down and removes its directory.
func TestNewAndStop(t *testing.T) {
	if !Enabled() {
		t.Skip("needs a real Kubernetes control plane: set " + EnvVar + "=1 or run make test-kube")
	}
	c, err := New(Options{Profiling: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := c.Clientset(t)
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.Minor != "34" {
		t.Errorf("server version %s.%s, want 1.34 (the k8s.io/kubernetes the harness builds)", v.Major, v.Minor)
	}
	// A pprof profile is gzip-compressed protobuf.
	prof, err := c.APIServerProfile(waitCtx(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(prof) < 2 || prof[0] != 0x1f || prof[1] != 0x8b {
		t.Errorf("API server profile is not a gzip-compressed pprof profile: %d bytes starting %.8q", len(prof), prof)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) && os.Getenv("SKIFF_KUBE_KEEP") != "1" {
		t.Errorf("Stop left %s behind (stat: %v)", c.Dir, err)
	}
	for name, p := range c.procs {
		if done, _ := p.exited(); !done {
			t.Errorf("%s still running after Stop", name)
		}
	}
	if _, err := cs.Discovery().ServerVersion(); err == nil {
		t.Error("the API server still answers after Stop")
	}
}
