// Package gpu samples GPU telemetry (utilization, memory, power,
// temperature) from nvidia-smi, attributes each GPU to the replica the
// scheduler placed on it, keeps a short history of GPUs allocated and busy
// for the dashboard, and exports it all to Prometheus with names aligned to
// NVIDIA's DCGM exporter.
//
// nvidia-smi's CSV query is used rather than NVML through cgo: it needs no
// C toolchain or libnvidia-ml at build time, keeps the binary static, and
// is the same tool that detects GPUs at start-up. One query per sampling
// interval (10 s by default) costs a few milliseconds.
package gpu
