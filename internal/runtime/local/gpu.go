package local

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// nvidiaSMIArgs asks for one CSV line per GPU: index, uuid, name, memory
// in MiB.
var nvidiaSMIArgs = []string{"--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"}

// DetectGPUs lists this machine's NVIDIA GPUs with nvidia-smi. Without
// nvidia-smi it returns an empty list and no error: the machine has no
// NVIDIA GPUs (or declares them with --gpus).
func DetectGPUs(ctx context.Context) ([]v1alpha1.GPUDevice, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, nil
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, nvidiaSMIArgs...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil && strings.Contains(string(out)+stderr.String(), "No devices were found") {
		return []v1alpha1.GPUDevice{}, nil // a driver but no GPU
	}
	if err != nil {
		return nil, fmt.Errorf("detecting GPUs: %s %s: %w: %s; check that the NVIDIA driver is loaded, or declare GPUs with --gpus",
			path, strings.Join(nvidiaSMIArgs, " "), err, strings.TrimSpace(stderr.String()))
	}
	gpus, err := ParseNvidiaSMI(out)
	if err != nil {
		return nil, fmt.Errorf("detecting GPUs: %w", err)
	}
	return gpus, nil
}

// ParseNvidiaSMI parses the output of nvidia-smi
// --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits,
// e.g. "0, GPU-5c1d..., NVIDIA H100 80GB HBM3, 81559". A memory of "[N/A]"
// (some virtualized GPUs) becomes 0.
func ParseNvidiaSMI(out []byte) ([]v1alpha1.GPUDevice, error) {
	gpus := []v1alpha1.GPUDevice{}
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 4 {
			return nil, fmt.Errorf("nvidia-smi line %d %q: want 4 comma-separated fields (index, uuid, name, memory.total)", i+1, line)
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		idx, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("nvidia-smi line %d %q: bad index %q", i+1, line, f[0])
		}
		var mem int64
		if m := f[len(f)-1]; !strings.HasPrefix(m, "[") {
			mem, err = strconv.ParseInt(m, 10, 64)
			if err != nil || mem < 0 {
				return nil, fmt.Errorf("nvidia-smi line %d %q: bad memory.total %q", i+1, line, m)
			}
		}
		gpus = append(gpus, v1alpha1.GPUDevice{
			Index: int32(idx),
			UUID:  f[1],
			// A name with commas was split; join it back.
			Model:     strings.Join(f[2:len(f)-1], ", "),
			MemoryMiB: mem,
		})
	}
	return gpus, nil
}
