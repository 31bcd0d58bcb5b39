package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/kubetest"
)

// The cluster of the test: 16 fake nodes of 8 GPUs in 2 racks of 8.
func clusterNodes() []kubetest.Node {
	var nodes []kubetest.Node
	for r := 1; r <= 2; r++ {
		for i := range 8 {
			nodes = append(nodes, kubetest.Node{
				Name: fmt.Sprintf("gpu-r%d-%d", r, i), GPUs: 8, CPU: "64", Memory: "512Gi",
				Labels: map[string]string{"skiff.dev/block": "b1", "skiff.dev/rack": fmt.Sprintf("r%d", r), "nvidia.com/gpu.product": "H100"},
			})
		}
	}
	return nodes
}

// kubectlApply creates objects from YAML through the Kubernetes API, as
// `kubectl apply` of a new object does: no Skiff in between.
func kubectlApply(t *testing.T, dyn dynamic.Interface, manifests string) {
	t.Helper()
	for _, doc := range strings.Split(manifests, "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		k, ok := v1alpha1.LookupKind(obj.GetKind())
		if !ok {
			t.Fatalf("unknown kind %s", obj.GetKind())
		}
		gvr := schema.GroupVersionResource{Group: v1alpha1.Group, Version: v1alpha1.Version, Resource: k.Plural}
		var err error
		if k.Namespaced {
			_, err = dyn.Resource(gvr).Namespace(obj.GetNamespace()).Create(t.Context(), obj, metav1.CreateOptions{})
		} else {
			_, err = dyn.Resource(gvr).Create(t.Context(), obj, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("kubectl apply of %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

const queueManifests = `apiVersion: skiff.dev/v1alpha1
kind: Flavor
metadata: {name: h100}
spec:
  gpuModel: H100
  topologyLevels: [skiff.dev/block, skiff.dev/rack, kubernetes.io/hostname]
---
apiVersion: skiff.dev/v1alpha1
kind: Queue
metadata: {name: gpu}
spec:
  namespaces: ["ml"]
  preemption: {withinQueue: LowerPriority}
  flavors:
  - name: h100
    resources:
    - {name: gpu, nominalQuota: 128}
    - {name: cpu, nominalQuota: "1024"}
    - {name: memory, nominalQuota: 8Ti}`

// gangJob is a two-group pytorch job placed within one rack; its pods
// complete after completeAfter under kwok ("" runs until stopped).
func gangJob(name string, priority, workers int, completeAfter string) string {
	annotations := ""
	if completeAfter != "" {
		annotations = fmt.Sprintf("\n  annotations: {%s: %q}", kubetest.CompleteAfterAnnotation, completeAfter)
	}
	return fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata:
  name: %s
  namespace: ml%s
spec:
  queue: gpu
  priority: %d
  framework: pytorch
  topology: {required: skiff.dev/rack}
  replicaGroups:
  - name: master
    replicas: 1
    template:
      image: registry.example/train:1
      command: ["python3", "train.py"]
      resources: {gpu: 8, cpu: "4", memory: 16Gi}
  - name: worker
    replicas: %d
    template:
      image: registry.example/train:1
      command: ["python3", "train.py"]
      resources: {gpu: 8, cpu: "4", memory: 16Gi}
`, name, annotations, priority, workers)
}

func envOf(p *corev1.Pod) map[string]string {
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	return env
}

func jobPods(t *testing.T, cs kubernetes.Interface, job string) []corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods("ml").List(t.Context(), metav1.ListOptions{LabelSelector: "skiff.dev/job=" + job})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func TestOperatorGangPlacementFailoverAndPreemption(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{Kwok: true, ControllerManager: true, Logs: true})
	cs := c.Clientset(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	if err := c.AddNodes(ctx, clusterNodes()...); err != nil {
		t.Fatal(err)
	}
	// Installed from deploy/, the operator runs as its ServiceAccount with
	// the least-privilege RBAC there: anything it needs and the manifests
	// forgot fails here. The tenant namespace ml it creates itself.
	kubeconfig := install(t, c)
	a := startOperator(t, kubeconfig, "op-a")
	a.waitLeading(2 * time.Minute)
	b := startOperator(t, kubeconfig, "op-b")

	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	kubectlApply(t, dyn, queueManifests)
	// The skiff CLI sees what kubectl created, and every cluster node.
	if out := a.skiff("", "get", "queues"); !strings.Contains(out, "gpu") {
		t.Fatalf("skiff get queues:\n%s", out)
	}
	a.waitNodes(16)
	node := &v1alpha1.Node{}
	if err := json.Unmarshal([]byte(a.skiff("", "get", "node", "gpu-r2-3", "-o", "json")), node); err != nil {
		t.Fatal(err)
	}
	if c := node.Spec.Capacity; c.GPU == nil || c.GPU.Value() != 8 || node.Spec.Unschedulable || node.Labels["skiff.dev/rack"] != "r2" || node.Spec.GPUModel != "H100" {
		t.Fatalf("node gpu-r2-3 as Skiff sees it: %+v %+v", node.Labels, node.Spec)
	}

	// A pod Skiff does not manage takes GPUs of a node: Skiff sees them gone.
	foreign := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "someone-else", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "gpu-r2-7", Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("6")}, Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("6")}},
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.waitNode("gpu-r2-7", func(n *v1alpha1.Node) bool { return n.Spec.Capacity.GPU != nil && n.Spec.Capacity.GPU.Value() == 2 })
	if err := cs.CoreV1().Pods("default").Delete(ctx, "someone-else", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	a.waitNode("gpu-r2-7", func(n *v1alpha1.Node) bool { return n.Spec.Capacity.GPU != nil && n.Spec.Capacity.GPU.Value() == 8 })

	// A gang of 4 x 8 GPUs that must fit in one rack.
	a.skiff(gangJob("train", 0, 3, "45s"), "apply", "-f", "-")
	train := a.waitJob("ml", "train", 2*time.Minute, "Running", func(j *v1alpha1.Job) bool { return j.Status.Phase == v1alpha1.JobRunning })
	racks := map[string]bool{}
	for _, p := range train.Status.Admission.Placements {
		racks[strings.SplitN(p.Node, "-", 3)[1]] = true
	}
	if len(train.Status.Admission.Placements) != 4 || len(racks) != 1 {
		t.Fatalf("placements %+v span racks %v, want 4 replicas in one rack", train.Status.Admission.Placements, racks)
	}
	pods := waitPods(t, cs, "train", 4)
	uids := map[string]string{}
	for _, p := range pods {
		uids[p.Name] = string(p.UID)
		env := envOf(&p)
		// 4 nodes of 8 GPUs: torchrun runs 8 processes per pod.
		if env["MASTER_ADDR"] != "train-master-0-0.train.ml.svc" || env["MASTER_PORT"] != "29500" ||
			env["PET_NNODES"] != "4" || env["WORLD_SIZE"] != "32" || env["SKIFF_JOB"] != "train" {
			t.Errorf("pod %s env %v", p.Name, env)
		}
		if q := p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]; q.Value() != 8 {
			t.Errorf("pod %s asks for %s GPUs, want 8", p.Name, q.String())
		}
		placed := false
		for _, pl := range train.Status.Admission.Placements {
			placed = placed || (pl.Node == p.Spec.NodeName && strings.HasPrefix(p.Name, "train-"+pl.Group+"-"))
		}
		if !placed {
			t.Errorf("pod %s is on %s, not where the scheduler placed it", p.Name, p.Spec.NodeName)
		}
	}
	if _, err := cs.CoreV1().Services("ml").Get(ctx, "train", metav1.GetOptions{}); err != nil {
		t.Errorf("headless service for the job's rendezvous: %v", err)
	}
	// Logs come through the Kubernetes API (pods/log), as from a kubelet.
	if err := c.WritePodLogs(ctx, "ml", "train-master-0-0", "replica", time.Now(), "step 10 loss 0.42"); err != nil {
		t.Fatal(err)
	}
	if out := a.skiff("", "logs", "job/train", "-n", "ml", "--replica", "master-0"); !strings.Contains(out, "step 10 loss 0.42") {
		t.Errorf("skiff logs through the operator: %q", out)
	}

	// The leader dies while the gang runs; the follower takes over and
	// neither restarts nor duplicates anything.
	a.kill(syscall.SIGKILL)
	b.waitLeading(time.Minute)
	done := b.waitJob("ml", "train", 3*time.Minute, "Succeeded", func(j *v1alpha1.Job) bool { return j.Status.Phase == v1alpha1.JobSucceeded })
	if done.Status.Attempt != 0 || done.Status.Restarts != 0 {
		t.Errorf("attempt %d, restarts %d after the failover, want the first attempt to finish", done.Status.Attempt, done.Status.Restarts)
	}
	for _, p := range jobPods(t, cs, "train") {
		if uids[p.Name] != string(p.UID) {
			t.Errorf("pod %s was recreated across the failover", p.Name)
		}
	}

	// Bad input that bypasses Skiff's API: a job naming a queue that does
	// not exist, created with kubectl, carries a condition saying so.
	kubectlApply(t, dyn, `apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: lost, namespace: ml}
spec:
  queue: nope
  replicaGroups:
  - name: worker
    replicas: 1
    template: {image: busybox, command: ["true"]}`)
	b.waitJob("ml", "lost", time.Minute, "told its queue is missing", func(j *v1alpha1.Job) bool {
		for _, c := range j.Status.Conditions {
			if strings.Contains(c.Message, `queue "nope" does not exist`) {
				return true
			}
		}
		return false
	})

	// A pod deleted behind Skiff's back ends its replica like a killed
	// process: the job restarts by its policy instead of counting it as
	// running.
	b.skiff(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: fragile, namespace: ml}
spec:
  queue: gpu
  runPolicy: {backoffLimit: 3}
  replicaGroups:
  - name: worker
    replicas: 1
    template: {image: busybox, command: ["sleep", "1d"], resources: {gpu: 1}}
`, "apply", "-f", "-")
	b.waitJob("ml", "fragile", time.Minute, "Running", func(j *v1alpha1.Job) bool { return j.Status.Phase == v1alpha1.JobRunning })
	waitPods(t, cs, "fragile", 1)
	if err := cs.CoreV1().Pods("ml").Delete(ctx, "fragile-worker-0-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitJob("ml", "fragile", time.Minute, "restarted", func(j *v1alpha1.Job) bool {
		return j.Status.Attempt == 1 && j.Status.Phase == v1alpha1.JobRunning
	})
	waitRunning(t, cs, "fragile-worker-0-1")
	b.skiff("", "delete", "job", "fragile", "-n", "ml")
	b.skiff("", "delete", "job", "lost", "-n", "ml")

	// A low-priority job fills 12 of the 16 nodes; a high-priority one
	// needing 8 nodes preempts it.
	b.skiff(strings.Replace(gangJob("low", 0, 11, ""), "  topology: {required: skiff.dev/rack}\n", "", 1), "apply", "-f", "-")
	b.waitJob("ml", "low", 2*time.Minute, "Running", func(j *v1alpha1.Job) bool { return j.Status.Phase == v1alpha1.JobRunning })
	waitPods(t, cs, "low", 12)
	b.skiff(gangJob("high", 100, 7, "5s"), "apply", "-f", "-")
	b.waitJob("ml", "high", 3*time.Minute, "Succeeded", func(j *v1alpha1.Job) bool { return j.Status.Phase == v1alpha1.JobSucceeded })
	low := b.job("ml", "low")
	if low.Status.Phase == v1alpha1.JobFailed {
		t.Errorf("the preempted job failed; it should be requeued: %+v", low.Status.Conditions)
	}
	events := b.skiff("", "get", "events", "-n", "ml")
	if !strings.Contains(events, "Preempted") {
		t.Errorf("no Preempted event:\n%s\n%s", events, b.skiff("", "get", "events", "-n", "ml", "-o", "json"))
	}
}

// waitNode polls Node name as the operator sees it until cond holds.
func (o *operator) waitNode(name string, cond func(*v1alpha1.Node) bool) {
	o.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n := &v1alpha1.Node{}
		if err := json.Unmarshal([]byte(o.skiff("", "get", "node", name, "-o", "json")), n); err != nil {
			o.t.Fatal(err)
		}
		if cond(n) {
			return
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("node %s as Skiff sees it: %+v", name, n.Spec)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitNodes waits until the operator lists n nodes.
func (o *operator) waitNodes(n int) {
	o.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := o.skiff("", "get", "nodes")
		if strings.Count(out, "gpu-r") == n {
			return
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("want %d nodes:\n%s", n, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitPods waits for n pods of job to run.
func waitPods(t *testing.T, cs kubernetes.Interface, job string, n int) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pods := jobPods(t, cs, job)
		running := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == n {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods of %s running", running, n, job)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRunning waits for pod name (in ml) to run.
func waitRunning(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := cs.CoreV1().Pods("ml").Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not running: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
