package kube_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff.dev/skiff/internal/kubetest"
	"skiff.dev/skiff/internal/runtime"
	podrt "skiff.dev/skiff/internal/runtime/kube"
)

func replica(name string, annotations map[string]string) runtime.Replica {
	return runtime.Replica{
		Namespace: "ml", Name: name, Owner: "train", OwnerUID: "6f1c7e0a-0000-4000-8000-000000000001",
		Image: "registry.example/train:1", Command: []string{"python3", "train.py"},
		Env: []string{"RANK=0", "MASTER_ADDR=train-master-0-0.train.ml.svc"}, Node: "gpu-0",
		GPUs: []int{0, 1}, CPUMilli: 500, MemoryBytes: 1 << 30, Subdomain: "train", Annotations: annotations,
	}
}

// waitState polls the runtime until the replica reaches state.
func waitState(t *testing.T, rt *podrt.Runtime, name string, state runtime.State) runtime.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := rt.Status(t.Context(), "ml", name)
		if err == nil && st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s: %+v %v, want %s", name, st, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPodRuntime(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{Kwok: true})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := c.AddNodes(ctx, kubetest.Node{Name: "gpu-0", GPUs: 8}); err != nil {
		t.Fatal(err)
	}
	cs := c.Clientset(t)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ml"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rt, err := podrt.New(ctx, podrt.Options{Client: cs.CoreV1()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background(), 0) })

	t.Run("a replica is a pod bound to its node", func(t *testing.T) {
		if _, err := rt.Start(ctx, replica("train-worker-0-0", nil)); err != nil {
			t.Fatal(err)
		}
		waitState(t, rt, "train-worker-0-0", runtime.Running)
		// Starting again is idempotent: the same pod.
		if _, err := rt.Start(ctx, replica("train-worker-0-0", nil)); err != nil {
			t.Fatal(err)
		}
		p, err := cs.CoreV1().Pods("ml").Get(ctx, "train-worker-0-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctr := p.Spec.Containers[0]
		gpus := ctr.Resources.Limits[podrt.GPUResource]
		if p.Spec.NodeName != "gpu-0" || p.Spec.RestartPolicy != corev1.RestartPolicyNever || gpus.Value() != 2 ||
			p.Spec.Hostname != "train-worker-0-0" || p.Spec.Subdomain != "train" || ctr.Image != "registry.example/train:1" {
			t.Errorf("pod spec: node %s restart %s gpus %s host %s.%s image %s", p.Spec.NodeName, p.Spec.RestartPolicy, gpus.String(), p.Spec.Hostname, p.Spec.Subdomain, ctr.Image)
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Job" || p.OwnerReferences[0].Name != "train" {
			t.Errorf("owner references %+v", p.OwnerReferences)
		}
		if len(ctr.Env) != 2 || ctr.Env[1].Name != "MASTER_ADDR" {
			t.Errorf("env %+v", ctr.Env)
		}
		svc, err := cs.CoreV1().Services("ml").Get(ctx, "train", metav1.GetOptions{})
		if err != nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("headless service: %+v %v", svc, err)
		}
	})

	t.Run("stop ends the pod with SIGTERM's exit code and keeps it until removed", func(t *testing.T) {
		if err := rt.Stop(ctx, "ml", "train-worker-0-0", 2*time.Second); err != nil {
			t.Fatal(err)
		}
		st := waitState(t, rt, "train-worker-0-0", runtime.Exited)
		if st.Reason != "Stopped" || st.ExitCode != 143 {
			t.Errorf("stopped replica %+v, want Reason Stopped, exit 143", st)
		}
		exit := receive(t, rt, "train-worker-0-0")
		if exit.State != runtime.Exited {
			t.Errorf("Exits delivered %+v", exit)
		}
		if err := rt.Remove(ctx, "ml", "train-worker-0-0"); err != nil {
			t.Fatal(err)
		}
		waitGone(t, cs, "train-worker-0-0")
		// The job's last pod took its headless service along.
		if _, err := cs.CoreV1().Services("ml").Get(ctx, "train", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("headless service after the last pod went: %v", err)
		}
		if _, err := rt.Status(ctx, "ml", "train-worker-0-0"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("status of a removed replica: %v, want ErrNotFound", err)
		}
	})

	t.Run("a finished container's exit code is the replica's", func(t *testing.T) {
		for name, code := range map[string]int{"ok-worker-0-0": 0, "bad-worker-0-0": 3} {
			ann := map[string]string{kubetest.CompleteAfterAnnotation: "1s", kubetest.ExitCodeAnnotation: itoa(code)}
			r := replica(name, ann)
			r.Subdomain = ""
			if _, err := rt.Start(ctx, r); err != nil {
				t.Fatal(err)
			}
			st := waitState(t, rt, name, runtime.Exited)
			if st.ExitCode != code || st.Reason != "" {
				t.Errorf("%s: %+v, want exit %d", name, st, code)
			}
		}
	})

	t.Run("a pod deleted behind Skiff's back is an exit, not a stop", func(t *testing.T) {
		r := replica("victim-worker-0-0", nil)
		r.Subdomain = ""
		if _, err := rt.Start(ctx, r); err != nil {
			t.Fatal(err)
		}
		waitState(t, rt, "victim-worker-0-0", runtime.Running)
		if err := cs.CoreV1().Pods("ml").Delete(ctx, "victim-worker-0-0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		st := waitState(t, rt, "victim-worker-0-0", runtime.Exited)
		if st.Reason == "Stopped" || st.ExitCode == 0 {
			t.Errorf("deleted replica %+v: want a failure the job's policy handles", st)
		}
	})

	t.Run("list reports every replica pod", func(t *testing.T) {
		all, err := rt.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 {
			t.Errorf("%d replicas listed, want 3: %+v", len(all), all)
		}
	})

	t.Run("a replica without an image is refused", func(t *testing.T) {
		r := replica("noimage-worker-0-0", nil)
		r.Image = ""
		if _, err := rt.Start(ctx, r); err == nil {
			t.Error("started a pod without an image")
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func receive(t *testing.T, rt *podrt.Runtime, name string) runtime.Status {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st := <-rt.Exits():
			if st.Name == name {
				return st
			}
		case <-timeout:
			t.Fatalf("no exit of %s delivered", name)
		}
	}
}

func waitGone(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.CoreV1().Pods("ml").Get(t.Context(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s still there: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
