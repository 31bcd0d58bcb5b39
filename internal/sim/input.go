package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"skiff.dev/skiff/internal/sim/trace"
)

// Trace formats.
const (
	FormatAlibaba   = "alibaba2023"
	FormatGavel     = "gavel"
	FormatSkiff     = "skiff"
	FormatSynthetic = "synthetic"
)

// Input says where a replay's jobs and nodes come from.
type Input struct {
	Format, Trace string
	// Nodes is a node list file; Cluster a "model=GPUS,..." spec with
	// GPUsPerNode GPUs per node. One of them is needed unless the trace
	// brings its nodes (alibaba2023's node list beside the pod list,
	// gavel's cluster_specs.json, synthetic).
	Nodes, Cluster string
	GPUsPerNode    int
	Throughputs    string // gavel
	Strict         bool
	Seed           uint64
}

// Load reads the trace and the cluster.
func Load(in Input) (*trace.Trace, error) {
	opts := trace.Options{Strict: in.Strict}
	if in.Trace == "" && in.Format != FormatSynthetic {
		return nil, fmt.Errorf("--trace is required: give the trace file (or, for gavel, a folder of .trace files)")
	}
	if in.GPUsPerNode <= 0 {
		in.GPUsPerNode = 8
	}
	var tr *trace.Trace
	var err error
	switch in.Format {
	case FormatAlibaba:
		tr, err = trace.ReadAlibabaFile(in.Trace, opts)
		if err == nil && in.Nodes == "" && in.Cluster == "" {
			guess := filepath.Join(filepath.Dir(in.Trace), "openb_node_list_gpu_node.csv")
			if _, serr := os.Stat(guess); serr == nil {
				in.Nodes = guess
			}
		}
	case FormatGavel:
		tp := in.Throughputs
		if tp == "" {
			tp = findUp(in.Trace, "simulation_throughputs.json")
			if tp == "" {
				return nil, fmt.Errorf("--throughputs is required for gavel: give simulation_throughputs.json")
			}
		}
		var tps trace.Throughputs
		if tps, err = trace.ReadThroughputsFile(tp); err != nil {
			return nil, err
		}
		tr, err = trace.ReadGavel(in.Trace, tps, opts)
		if err == nil && in.Nodes == "" && in.Cluster == "" {
			if spec := findUp(in.Trace, "cluster_specs.json"); spec != "" {
				in.Cluster, err = gavelClusterSpec(spec)
			}
		}
	case FormatSkiff:
		tr, err = trace.ReadNativeFile(in.Trace, opts)
	case FormatSynthetic:
		tr, err = synthetic(in.Trace, in.Seed)
	default:
		return nil, fmt.Errorf("--format %q: use alibaba2023, gavel, skiff or synthetic", in.Format)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case in.Nodes != "":
		nodes, skipped, err := trace.ReadNodesFile(in.Nodes, opts)
		if err != nil {
			return nil, err
		}
		tr.Nodes, tr.Skipped = nodes, append(tr.Skipped, skipped...)
	case in.Cluster != "":
		if tr.Nodes, err = ParseCluster(in.Cluster, in.GPUsPerNode); err != nil {
			return nil, err
		}
	case len(tr.Nodes) == 0:
		return nil, fmt.Errorf("no cluster: give --nodes FILE or --cluster v100=N,p100=N,k80=N")
	}
	return tr, nil
}

// findUp looks for name beside path, then in its parent folders (two up).
func findUp(path, name string) string {
	dir := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir = filepath.Dir(path)
	}
	for i := 0; i < 3; i++ {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// gavelClusterSpec turns Gavel's cluster_specs.json ({"philly":
// ["500:0:0"]}, v100:p100:k80) into a --cluster spec.
func gavelClusterSpec(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read cluster spec: %w", err)
	}
	var specs map[string][]string
	if err := json.Unmarshal(b, &specs); err != nil {
		return "", fmt.Errorf("%s: %w: expected {\"name\": [\"v100:p100:k80\"]}", path, err)
	}
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(specs[k]) == 0 {
			continue
		}
		parts := strings.Split(specs[k][0], ":")
		if len(parts) != 3 {
			return "", fmt.Errorf("%s: %q: expected v100:p100:k80 GPU counts", path, specs[k][0])
		}
		return fmt.Sprintf("v100=%s,p100=%s,k80=%s", parts[0], parts[1], parts[2]), nil
	}
	return "", fmt.Errorf("%s: no cluster spec", path)
}

// ParseCluster turns "v100=32,p100=16" into nodes of perNode GPUs (the last
// node of a model may hold fewer).
func ParseCluster(spec string, perNode int) ([]trace.Node, error) {
	var nodes []trace.Node
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		model, count, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(count))
		if !ok || err != nil || n < 0 || strings.TrimSpace(model) == "" {
			return nil, fmt.Errorf("--cluster %q: %q is not MODEL=GPUS (e.g. v100=64,p100=32)", spec, part)
		}
		model = strings.ToLower(strings.TrimSpace(model))
		for i := 0; n > 0; i++ {
			g := min(n, perNode)
			nodes = append(nodes, trace.Node{Name: fmt.Sprintf("%s-%04d", model, i), Model: model, GPUs: g})
			n -= g
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("--cluster %q: no GPUs: give MODEL=GPUS such as v100=64", spec)
	}
	return nodes, nil
}

// synthetic parses "jobs=N,nodes=N,gpus=8,load=0.9,tenants=N,duration=S,sigma=X,model=M".
func synthetic(spec string, seed uint64) (*trace.Trace, error) {
	s := trace.DefaultSynth()
	s.Seed = seed
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("--trace %q: %q is not KEY=VALUE (keys: jobs, nodes, gpus, load, tenants, duration, sigma, model)", spec, part)
		}
		var err error
		var n int
		switch k {
		case "jobs":
			n, err = strconv.Atoi(v)
			s.Jobs = n
		case "nodes":
			n, err = strconv.Atoi(v)
			s.Nodes = n
		case "gpus":
			n, err = strconv.Atoi(v)
			s.GPUsPerNode = n
		case "tenants":
			n, err = strconv.Atoi(v)
			s.Tenants = n
		case "load":
			s.Load, err = strconv.ParseFloat(v, 64)
		case "duration":
			s.MeanDuration, err = strconv.ParseFloat(v, 64)
		case "sigma":
			s.DurationSigma, err = strconv.ParseFloat(v, 64)
		case "model":
			s.Model = strings.ToLower(v)
		default:
			return nil, fmt.Errorf("--trace %q: unknown key %q (keys: jobs, nodes, gpus, load, tenants, duration, sigma, model)", spec, k)
		}
		if err != nil {
			return nil, fmt.Errorf("--trace %q: %s=%q: %w", spec, k, v, err)
		}
	}
	return s.Generate()
}

// Replayable are the jobs a replay can use: those with a known duration.
func Replayable(jobs []trace.Job) []trace.Job {
	out := make([]trace.Job, 0, len(jobs))
	for _, j := range jobs {
		if !j.Unscheduled {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Submit < out[b].Submit })
	return out
}
