package server

import (
	"net"
	"strings"
	"testing"

	"skiff.dev/skiff/api/v1alpha1"
)

func TestResolveReplica(t *testing.T) {
	job := &v1alpha1.Job{Spec: v1alpha1.JobSpec{ReplicaGroups: []v1alpha1.ReplicaGroup{
		{Name: "launcher", Replicas: 1}, {Name: "worker", Replicas: 3},
	}}}
	job.Name = "train"
	cases := []struct {
		in    string
		group string
		index int32
		err   string
	}{
		{"", "launcher", 0, ""},
		{"worker-2", "worker", 2, ""},
		{"launcher-0", "launcher", 0, ""},
		{"worker-3", "", 0, "use one of launcher-0, worker-0, worker-1, worker-2"},
		{"../../etc/passwd", "", 0, "is not part of job train"},
		{"worker--1", "", 0, "is not part of job train"},
	}
	for _, tc := range cases {
		g, i, err := resolveReplica(job, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolveReplica(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || g != tc.group || i != tc.index {
			t.Errorf("resolveReplica(%q) = %s, %d, %v; want %s, %d", tc.in, g, i, err, tc.group, tc.index)
		}
	}
}

func TestDescribeMachineDeclaredGPUsReplaceDetected(t *testing.T) {
	detected := []v1alpha1.GPUDevice{{Index: 0, Model: "A100"}}
	m, err := describeMachine("n1", detected, 4, "H100")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.GPUs) != 4 || m.GPUModel != "H100" || !m.GPUs[3].Declared {
		t.Errorf("declared machine = %+v", m)
	}
	m, _ = describeMachine("n1", detected, 0, "")
	if len(m.GPUs) != 1 || m.GPUModel != "A100" {
		t.Errorf("detected machine = %+v", m)
	}
	if m.CPUMilli <= 0 || m.MemoryBytes <= 0 {
		t.Errorf("capacity not read: %+v", m)
	}
}

func TestSanitizeNodeName(t *testing.T) {
	for in, want := range map[string]string{"GPU-Box.example.com": "gpu-box-example-com", "___": "local", "-a-": "a"} {
		if got := sanitizeNodeName(in); got != want {
			t.Errorf("sanitizeNodeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReplicaAPIURL(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7400}, "http://127.0.0.1:7400"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "http://127.0.0.1:80"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 80}, "http://127.0.0.1:80"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 9}, "http://[::1]:9"},
	} {
		if got := replicaAPIURL(tc.addr); got != tc.want {
			t.Errorf("replicaAPIURL(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
