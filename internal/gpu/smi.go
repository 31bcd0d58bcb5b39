package gpu

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// QueryArgs are the nvidia-smi arguments whose output ParseQuery reads.
var QueryArgs = []string{
	"--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu",
	"--format=csv,noheader,nounits",
}

// Device is one GPU's reading. Values nvidia-smi could not report
// ("[N/A]", "[Not Supported]") are NaN.
type Device struct {
	Index int
	UUID  string
	Model string
	// Utilization is the fraction of time a kernel ran, 0 to 1.
	Utilization        float64
	MemoryUsedBytes    float64
	MemoryTotalBytes   float64
	PowerWatts         float64
	TemperatureCelsius float64
}

const mib = 1 << 20

// ParseQuery parses nvidia-smi output for QueryArgs, one GPU a line, e.g.
// "0, GPU-5c1d..., NVIDIA H100 80GB HBM3, 37, 1024, 81559, 121.50, 41".
func ParseQuery(out []byte) ([]Device, error) {
	var devs []Device
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 8 {
			return nil, fmt.Errorf("nvidia-smi line %d %q: want 8 comma-separated fields (index, uuid, name, utilization.gpu, memory.used, memory.total, power.draw, temperature.gpu), got %d", i+1, line, len(f))
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("nvidia-smi line %d: index %q is not a GPU index", i+1, f[0])
		}
		d := Device{Index: idx, UUID: f[1], Model: f[2]}
		vals := []*float64{&d.Utilization, &d.MemoryUsedBytes, &d.MemoryTotalBytes, &d.PowerWatts, &d.TemperatureCelsius}
		names := []string{"utilization.gpu", "memory.used", "memory.total", "power.draw", "temperature.gpu"}
		for k, p := range vals {
			v, err := number(f[3+k])
			if err != nil {
				return nil, fmt.Errorf("nvidia-smi line %d: %s %q: %w", i+1, names[k], f[3+k], err)
			}
			*p = v
		}
		d.Utilization /= 100
		d.MemoryUsedBytes *= mib
		d.MemoryTotalBytes *= mib
		devs = append(devs, d)
	}
	return devs, nil
}

// number reads one value; "[N/A]" and the like are NaN.
func number(s string) (float64, error) {
	if strings.HasPrefix(s, "[") || s == "N/A" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
		return 0, fmt.Errorf("not a non-negative number")
	}
	return v, nil
}
