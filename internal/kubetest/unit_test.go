package kubetest

// Tests of the parts that need no control plane; they run in every `go test`.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func TestNodeObject(t *testing.T) {
	n := Node{
		Name:   "gpu-1",
		GPUs:   8,
		CPU:    "96",
		Labels: map[string]string{"topology.skiff.dev/rack": "r1", "type": "gpu"},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "ml", Effect: corev1.TaintEffectNoSchedule}},
	}
	obj, err := n.object()
	if err != nil {
		t.Fatal(err)
	}
	if obj.Annotations[KwokNodeAnnotation] != "fake" {
		t.Errorf("annotations = %v, want the kwok management annotation", obj.Annotations)
	}
	wantLabels := map[string]string{
		"kubernetes.io/hostname":  "gpu-1",
		"kubernetes.io/os":        "linux",
		"kubernetes.io/arch":      "amd64",
		"type":                    "gpu", // the caller's label wins
		"topology.skiff.dev/rack": "r1",
	}
	if d := cmp.Diff(wantLabels, obj.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	got := map[string]string{}
	for k, v := range obj.Status.Allocatable {
		got[string(k)] = v.String()
	}
	want := map[string]string{"cpu": "96", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": "8"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("allocatable (-want +got):\n%s", d)
	}
	if !obj.Status.Capacity[GPUResource].Equal(obj.Status.Allocatable[GPUResource]) {
		t.Errorf("capacity %v differs from allocatable %v", obj.Status.Capacity, obj.Status.Allocatable)
	}
	if len(obj.Spec.Taints) != 1 || obj.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints = %v", obj.Spec.Taints)
	}

	cpuOnly, err := Node{Name: "cpu-1"}.object()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cpuOnly.Status.Capacity[GPUResource]; ok {
		t.Errorf("a node without GPUs advertises %s: %v", GPUResource, cpuOnly.Status.Capacity)
	}
}

func TestNodeObjectRejects(t *testing.T) {
	for _, tc := range []struct {
		node Node
		want string
	}{
		{Node{}, "Node.Name is empty"},
		{Node{Name: "a", CPU: "lots"}, `node "a": CPU "lots" is not a quantity`},
		{Node{Name: "b", Memory: "1 GB"}, `node "b": Memory "1 GB" is not a quantity`},
		{Node{Name: "c", GPUs: -1}, `node "c": GPUs and Pods must not be negative`},
	} {
		_, err := tc.node.object()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want it to contain %q", tc.node, err, tc.want)
		}
	}
}

func TestAddNodesNeedsKwok(t *testing.T) {
	c := &Cluster{procs: map[string]*process{}}
	err := c.AddNodes(context.Background(), Node{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "Options{Kwok: true}") {
		t.Fatalf("err = %v, want one naming Options{Kwok: true}", err)
	}
	err = c.SetNodeReady(context.Background(), "x", false)
	if err == nil || !strings.Contains(err.Error(), "Options{Kwok: true}") {
		t.Fatalf("SetNodeReady: err = %v, want one naming Options{Kwok: true}", err)
	}
}

func TestAPIServerProfileNeedsProfiling(t *testing.T) {
	c := &Cluster{procs: map[string]*process{}, pki: &pki{}}
	_, err := c.APIServerProfile(context.Background(), time.Second)
	if err == nil || !strings.Contains(err.Error(), "Options.Profiling") {
		t.Fatalf("err = %v, want one naming Options.Profiling", err)
	}
	for _, p := range []bool{false, true} {
		c.opts.Profiling = p
		if want := "--profiling=" + strconv.FormatBool(p); !slices.Contains(c.apiServerArgs(6443), want) {
			t.Errorf("Profiling %v: API server arguments lack %s", p, want)
		}
	}
}

// TestKwokConfig checks the embedded kwok configuration is well-formed and
// that its annotations are the ones the package exports.
func TestKwokConfig(t *testing.T) {
	type stage struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			ResourceRef struct {
				Kind string `json:"kind"`
			} `json:"resourceRef"`
			Next map[string]any `json:"next"`
		} `json:"spec"`
		Options map[string]any `json:"options"`
	}
	var names []string
	for _, doc := range bytes.Split(kwokConfig, []byte("\n---\n")) {
		var s stage
		if err := yaml.Unmarshal(doc, &s); err != nil {
			t.Fatalf("document does not parse: %v\n%s", err, doc)
		}
		switch s.Kind {
		case "KwokConfiguration":
			if s.Options["manageNodesWithAnnotationSelector"] != KwokNodeAnnotation+"="+kwokNodeValue {
				t.Errorf("kwok manages nodes by %v, want %s=%s", s.Options["manageNodesWithAnnotationSelector"], KwokNodeAnnotation, kwokNodeValue)
			}
		case "Stage":
			if s.Spec.ResourceRef.Kind == "" || len(s.Spec.Next) == 0 {
				t.Errorf("stage %q lacks resourceRef.kind or next", s.Metadata.Name)
			}
			names = append(names, s.Metadata.Name)
		default:
			t.Errorf("unexpected kind %q", s.Kind)
		}
	}
	if d := cmp.Diff([]string{"node-ready", "node-not-ready", "pod-running", "pod-complete", "pod-terminate", "pod-delete"}, names); d != "" {
		t.Errorf("stages (-want +got):\n%s", d)
	}
	for _, a := range []string{CompleteAfterAnnotation, ExitCodeAnnotation, DeleteDelayAnnotation} {
		if !bytes.Contains(kwokConfig, []byte(`"`+a+`"`)) {
			t.Errorf("kwok.yaml does not use annotation %s", a)
		}
	}
}

func TestParallel(t *testing.T) {
	var n atomic.Int64
	if err := parallel(context.Background(), 100, 8, func(int) error { n.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 100 {
		t.Errorf("ran %d, want 100", n.Load())
	}
	boom := errors.New("boom")
	err := parallel(context.Background(), 1000, 4, func(i int) error {
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

func TestTail(t *testing.T) {
	b := []byte("first line\nsecond line\nthird\n")
	if got := string(tail(b, 100)); got != string(b) {
		t.Errorf("tail of a short input = %q", got)
	}
	if got := string(tail(b, 10)); got != "third\n" {
		t.Errorf("tail(10) = %q, want the last whole line", got)
	}
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fileTail(path, 14); got != "third\n" {
		t.Errorf("fileTail = %q", got)
	}
	if got := fileTail(filepath.Join(t.TempDir(), "missing"), 10); !strings.Contains(got, "no log") {
		t.Errorf("fileTail of a missing file = %q", got)
	}
}

func TestProcessStop(t *testing.T) {
	dir := t.TempDir()
	p, err := startProcess("sleeper", "/bin/sh", dir, []string{"-c", "echo started; exec sleep 60"})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFor(context.Background(), "output", func() (bool, error) {
		return strings.Contains(p.logTail(100), "started"), nil
	}); err != nil {
		t.Fatal(err)
	}
	if done, _ := p.exited(); done {
		t.Fatal("exited early")
	}
	p.stop(10 * time.Second)
	done, err := p.exited()
	if !done || err == nil {
		t.Fatalf("after stop: done=%v err=%v, want a process ended by a signal", done, err)
	}
}

func TestStartSkipsWhenDisabled(t *testing.T) {
	if Enabled() {
		t.Skip("the cluster tests run instead")
	}
	ran := false
	t.Run("inner", func(t *testing.T) {
		defer func() { ran = true }()
		Start(t, Options{})
		t.Error("Start returned without " + EnvVar + "=1")
	})
	if !ran {
		t.Error("inner test did not run")
	}
}

func TestAppendCRILog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	if err := appendCRILog(path, t0, []string{"a", "b c"}); err != nil {
		t.Fatal(err)
	}
	if err := appendCRILog(path, t0.Add(time.Second), []string{""}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "2030-01-02T03:04:05.0000006Z stdout F a\n" +
		"2030-01-02T03:04:05.0000006Z stdout F b c\n" +
		"2030-01-02T03:04:06.0000006Z stdout F \n"
	if d := cmp.Diff(want, string(b)); d != "" {
		t.Errorf("log file (-want +got):\n%s", d)
	}
	if err := appendCRILog(path, t0, []string{"two\nlines"}); err == nil || !strings.Contains(err.Error(), "pass each line separately") {
		t.Errorf("a line with a newline: err = %v", err)
	}
}

func TestWritePodLogsNeedsLogs(t *testing.T) {
	c := &Cluster{opts: Options{Kwok: true}, Dir: t.TempDir()}
	err := c.WritePodLogs(context.Background(), "default", "p", "c", time.Now())
	if err == nil || !strings.Contains(err.Error(), "Logs: true") {
		t.Fatalf("err = %v, want one naming Options.Logs", err)
	}
}
