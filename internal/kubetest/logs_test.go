package kubetest

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodLogs checks a pod's log reaches a client through the API server,
// read whole and followed, as `skiff logs` and `kubectl logs -f` read it.
func TestPodLogs(t *testing.T) {
	c := Start(t, Options{Kwok: true, Logs: true})
	ctx := waitCtx(t)
	cs := c.Clientset(t)
	if err := c.AddNodes(ctx, Node{Name: "gpu-a", GPUs: 8}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, gpuPod("trainer-0", "gpu-a", 8, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	watchPod(ctx, t, cs, "trainer-0", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := c.WritePodLogs(ctx, "default", "trainer-0", "trainer", t0, "step 1 loss 0.91", "step 2 loss 0.52"); err != nil {
		t.Fatal(err)
	}
	var got string
	err := waitFor(ctx, "the log through the API", func() (bool, error) {
		b, err := cs.CoreV1().Pods("default").GetLogs("trainer-0", &corev1.PodLogOptions{Container: "trainer"}).DoRaw(ctx)
		if err != nil {
			return false, nil // kwok has not seen the Logs object yet
		}
		got = string(b)
		return strings.Contains(got, "step 2"), nil
	})
	if err != nil {
		t.Fatalf("%v (last read %q)", err, got)
	}
	if want := "step 1 loss 0.91\nstep 2 loss 0.52\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	b, err := cs.CoreV1().Pods("default").GetLogs("trainer-0", &corev1.PodLogOptions{Container: "trainer", Timestamps: true, TailLines: ptr(int64(1))}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2030-01-02T03:04:05.000000000Z step 2 loss 0.52\n"; string(b) != want {
		t.Errorf("last line with timestamps = %q, want %q", b, want)
	}

	// Follow: lines written after the reader started arrive on its stream.
	followCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cs.CoreV1().Pods("default").GetLogs("trainer-0", &corev1.PodLogOptions{Container: "trainer", Follow: true}).Stream(followCtx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := bufio.NewScanner(stream)
	for range 2 { // the two lines already there
		if !lines.Scan() {
			t.Fatalf("follow stream ended early: %v", lines.Err())
		}
	}
	if err := c.WritePodLogs(ctx, "default", "trainer-0", "trainer", t0.Add(time.Second), "step 3 loss 0.33"); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() {
		t.Fatalf("follow stream ended before the new line: %v", lines.Err())
	}
	if lines.Text() != "step 3 loss 0.33" {
		t.Errorf("followed line = %q, want the one written after the reader started", lines.Text())
	}
}

func ptr[T any](v T) *T { return &v }
