package local_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/runtime/local"
)

func TestParseNvidiaSMI(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []v1alpha1.GPUDevice
		wantErr bool
	}{
		{name: "none", out: "", want: []v1alpha1.GPUDevice{}},
		{
			name: "two H100s",
			out: "0, GPU-5c1d4f0e-8b1a-4b6e-9e1f-0a1b2c3d4e5f, NVIDIA H100 80GB HBM3, 81559\n" +
				"1, GPU-7a2b3c4d-1111-2222-3333-444455556666, NVIDIA H100 80GB HBM3, 81559\n",
			want: []v1alpha1.GPUDevice{
				{Index: 0, UUID: "GPU-5c1d4f0e-8b1a-4b6e-9e1f-0a1b2c3d4e5f", Model: "NVIDIA H100 80GB HBM3", MemoryMiB: 81559},
				{Index: 1, UUID: "GPU-7a2b3c4d-1111-2222-3333-444455556666", Model: "NVIDIA H100 80GB HBM3", MemoryMiB: 81559},
			},
		},
		{
			name: "crlf, comma in name, memory N/A",
			out:  "3, GPU-abc, Tesla T4, rev A, [N/A]\r\n",
			want: []v1alpha1.GPUDevice{{Index: 3, UUID: "GPU-abc", Model: "Tesla T4, rev A"}},
		},
		{name: "too few fields", out: "0, GPU-abc, 1024\n", wantErr: true},
		{name: "bad index", out: "x, GPU-abc, T4, 1024\n", wantErr: true},
		{name: "bad memory", out: "0, GPU-abc, T4, lots\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := local.ParseNvidiaSMI([]byte(tc.out))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" && !tc.wantErr {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseNvidiaSMI(f *testing.F) {
	f.Add("0, GPU-abc, NVIDIA H100 80GB HBM3, 81559\n")
	f.Add("1, , , [N/A]")
	f.Fuzz(func(t *testing.T, out string) {
		gpus, err := local.ParseNvidiaSMI([]byte(out))
		for _, g := range gpus {
			if err == nil && (g.Index < 0 || g.MemoryMiB < 0) {
				t.Errorf("parsed negative values: %+v", g)
			}
		}
	})
}

func TestDetectGPUs(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	gpus, err := local.DetectGPUs(context.Background())
	if err != nil || len(gpus) != 0 {
		t.Errorf("without nvidia-smi: %v, %v; want none and no error", gpus, err)
	}
	fake := "#!/bin/sh\necho '0, GPU-abc, NVIDIA H200, 143771'\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	gpus, err = local.DetectGPUs(context.Background())
	want := []v1alpha1.GPUDevice{{Index: 0, UUID: "GPU-abc", Model: "NVIDIA H200", MemoryMiB: 143771}}
	if diff := cmp.Diff(want, gpus); err != nil || diff != "" {
		t.Errorf("with a fake nvidia-smi: err %v, (-want +got):\n%s", err, diff)
	}
	failing := "#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(failing), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := local.DetectGPUs(context.Background()); err == nil {
		t.Error("a failing nvidia-smi gave no error")
	}
}
