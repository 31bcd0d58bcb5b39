package gpu

import (
	"math"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names follow Prometheus conventions (base units, ratios 0-1);
// each one maps to a DCGM exporter field:
//
//	skiff_gpu_utilization_ratio     DCGM_FI_DEV_GPU_UTIL / 100
//	skiff_gpu_memory_used_bytes     DCGM_FI_DEV_FB_USED × 2^20
//	skiff_gpu_memory_total_bytes    (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) × 2^20
//	skiff_gpu_power_watts           DCGM_FI_DEV_POWER_USAGE
//	skiff_gpu_temperature_celsius   DCGM_FI_DEV_GPU_TEMP
//
// Labels follow DCGM's too (gpu, UUID, modelName, Hostname, namespace, pod
// become gpu, uuid, model_name, node, namespace, and job and replica for
// the pod).
var (
	gpuLabels   = []string{"gpu", "uuid", "model_name", "node", "namespace", "job", "replica"}
	descUtil    = prometheus.NewDesc("skiff_gpu_utilization_ratio", "Fraction of time a kernel was running on the GPU (DCGM_FI_DEV_GPU_UTIL / 100).", gpuLabels, nil)
	descMemUsed = prometheus.NewDesc("skiff_gpu_memory_used_bytes", "GPU framebuffer memory used (DCGM_FI_DEV_FB_USED, in bytes).", gpuLabels, nil)
	descMemTot  = prometheus.NewDesc("skiff_gpu_memory_total_bytes", "GPU framebuffer memory in total (DCGM_FI_DEV_FB_USED + FB_FREE, in bytes).", gpuLabels, nil)
	descPower   = prometheus.NewDesc("skiff_gpu_power_watts", "GPU power draw (DCGM_FI_DEV_POWER_USAGE).", gpuLabels, nil)
	descTemp    = prometheus.NewDesc("skiff_gpu_temperature_celsius", "GPU temperature (DCGM_FI_DEV_GPU_TEMP).", gpuLabels, nil)
	descDetect  = prometheus.NewDesc("skiff_gpu_detected_devices", "GPUs that nvidia-smi reported on this node; 0 means no GPUs detected.", []string{"node"}, nil)
	descGPUs    = prometheus.NewDesc("skiff_gpus", "GPUs of this node (detected or declared) by state: allocated to a replica, or free.", []string{"node", "state"}, nil)
)

// Describe implements prometheus.Collector.
func (s *Sampler) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUtil, descMemUsed, descMemTot, descPower, descTemp, descDetect, descGPUs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector with the latest sample.
func (s *Sampler) Collect(ch chan<- prometheus.Metric) {
	devs, alloc := s.latest()
	ch <- prometheus.MustNewConstMetric(descDetect, prometheus.GaugeValue, float64(len(devs)), s.Node)
	total := max(alloc.Total, len(devs))
	ch <- prometheus.MustNewConstMetric(descGPUs, prometheus.GaugeValue, float64(len(alloc.Owners)), s.Node, "allocated")
	ch <- prometheus.MustNewConstMetric(descGPUs, prometheus.GaugeValue, float64(max(0, total-len(alloc.Owners))), s.Node, "free")
	for _, d := range devs {
		o := alloc.Owners[d.Index]
		labels := []string{strconv.Itoa(d.Index), d.UUID, d.Model, s.Node, o.Namespace, o.Job, o.Replica}
		for _, m := range []struct {
			desc *prometheus.Desc
			v    float64
		}{{descUtil, d.Utilization}, {descMemUsed, d.MemoryUsedBytes}, {descMemTot, d.MemoryTotalBytes}, {descPower, d.PowerWatts}, {descTemp, d.TemperatureCelsius}} {
			if !math.IsNaN(m.v) {
				ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, m.v, labels...)
			}
		}
	}
}
