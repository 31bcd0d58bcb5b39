package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Throughputs are Gavel's measured steps per second: per GPU model, per
// job type, per scale factor (number of GPUs). Only isolated runs (Gavel's
// "null" co-location entry) are kept.
type Throughputs map[string]map[string]map[int]float64

// ReadThroughputsFile reads Gavel's simulation_throughputs.json.
func ReadThroughputsFile(path string) (Throughputs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read throughputs: %w", err)
	}
	return ParseThroughputs(path, b)
}

// ParseThroughputs parses Gavel's throughput JSON: {"v100": {"('ResNet-50
// (batch size 64)', 1)": {"null": 12.3, ...}}}. GPU models whose name has
// a suffix (v100_unconsolidated) are left out.
func ParseThroughputs(file string, b []byte) (Throughputs, error) {
	var raw map[string]map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w: expected Gavel's simulation_throughputs.json", file, err)
	}
	out := Throughputs{}
	for gpu, jobs := range raw {
		if strings.Contains(gpu, "_") {
			continue
		}
		m := map[string]map[int]float64{}
		for key, v := range jobs {
			typ, scale, err := parseGavelKey(key)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: key %q: %w", file, gpu, key, err)
			}
			var tput float64
			if err := json.Unmarshal(v["null"], &tput); err != nil {
				return nil, fmt.Errorf("%s: %s: key %q: \"null\": %w: expected the isolated throughput in steps/s", file, gpu, key, err)
			}
			if tput <= 0 || math.IsNaN(tput) || math.IsInf(tput, 0) {
				continue // not measured
			}
			if m[typ] == nil {
				m[typ] = map[int]float64{}
			}
			m[typ][scale] = tput
		}
		out[strings.ToLower(gpu)] = m
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no GPU models: expected keys such as \"v100\"", file)
	}
	return out, nil
}

// parseGavelKey parses "('ResNet-50 (batch size 64)', 2)".
func parseGavelKey(k string) (string, int, error) {
	s := strings.TrimSpace(k)
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return "", 0, errors.New("expected ('job type', scale)")
	}
	s = s[1 : len(s)-1]
	i := strings.LastIndex(s, ",")
	if i < 0 {
		return "", 0, errors.New("expected ('job type', scale)")
	}
	typ := strings.Trim(strings.TrimSpace(s[:i]), `'"`)
	n, err := strconv.Atoi(strings.TrimSpace(s[i+1:]))
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("scale %q: expected a positive integer", strings.TrimSpace(s[i+1:]))
	}
	return typ, n, nil
}

// Models are the GPU models with measurements, sorted.
func (tp Throughputs) Models() []string {
	var out []string
	for m := range tp {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// Rate is the throughput of a job type at a scale on a GPU model, and
// whether it was measured (false: extrapolated). ok is false when the job
// type was never measured on the model.
//
// A scale without a measurement takes the largest measured scale m below
// it and grows linearly, times the per-doubling efficiency the type shows
// from m/2 to m (at most 1, 1 when m/2 is not measured), once per doubling.
func (tp Throughputs) Rate(model, typ string, scale int) (rate float64, measured, ok bool) {
	byScale := tp[model][typ]
	if len(byScale) == 0 {
		return 0, false, false
	}
	if r, found := byScale[scale]; found {
		return r, true, true
	}
	m := 0
	for s := range byScale {
		if s <= scale && s > m {
			m = s
		}
	}
	if m == 0 {
		// Only larger scales measured: shrink linearly from the smallest.
		for s := range byScale {
			if m == 0 || s < m {
				m = s
			}
		}
		return byScale[m] * float64(scale) / float64(m), false, true
	}
	eff := 1.0
	if half, found := byScale[m/2]; found && m >= 2 {
		eff = min(1, byScale[m]/(2*half))
	}
	x := float64(scale) / float64(m)
	return byScale[m] * x * math.Pow(eff, math.Log2(x)), false, true
}

// ReadGavel reads a Gavel trace file, or every *.trace file of a folder.
// Each file is a Philly virtual cluster and becomes a tenant named after
// it. A row is: job type, command, steps flag, needs-data-dir flag, total
// steps, arrival seconds, scale factor (GPUs). Each GPU becomes one
// replica of one GPU; the duration on each GPU model is total steps over
// the type's throughput at that scale (see Throughputs.Rate).
func ReadGavel(path string, tp Throughputs, opts Options) (*Trace, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.trace"))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", path, err)
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no *.trace files: give a Gavel trace file or a folder of them", path)
		}
	}
	tr := &Trace{}
	g := gavelStats{}
	for _, f := range files {
		if err := readGavelFile(f, tp, opts, tr, &g); err != nil {
			return nil, err
		}
	}
	if g.extrapolated > 0 {
		tr.Notes = append(tr.Notes, fmt.Sprintf("%d of %d jobs have no measured throughput at their scale on some GPU model: scaled from the largest measured scale of their type with the per-doubling efficiency that type shows", g.extrapolated, len(tr.Jobs)))
	}
	tr.SortJobs()
	return tr, nil
}

type gavelStats struct{ extrapolated int }

func readGavelFile(path string, tp Throughputs, opts Options, tr *Trace, g *gavelStats) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	return readGavel(path, f, tp, opts, tr, g)
}

// ReadGavelReader reads one Gavel trace stream as tenant (tests use it).
func ReadGavelReader(file, tenant string, in io.Reader, tp Throughputs, opts Options) (*Trace, error) {
	tr := &Trace{}
	if err := readGavelAs(file, tenant, in, tp, opts, tr, &gavelStats{}); err != nil {
		return nil, err
	}
	tr.SortJobs()
	return tr, nil
}

func readGavel(path string, in io.Reader, tp Throughputs, opts Options, tr *Trace, g *gavelStats) error {
	tenant := strings.TrimSuffix(filepath.Base(path), ".trace")
	return readGavelAs(path, tenant, in, tp, opts, tr, g)
}

func readGavelAs(path, tenant string, in io.Reader, tp Throughputs, opts Options, tr *Trace, g *gavelStats) error {
	t, err := newTable(path, in, '\t', false, opts, tr)
	if err != nil {
		return err
	}
	models := tp.Models()
	for {
		ok, err := t.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		j, extrapolated, perr := t.gavelJob(tenant, tp, models)
		if perr != nil {
			if err := t.fail(perr); err != nil {
				return err
			}
			continue
		}
		if extrapolated {
			g.extrapolated++
		}
		tr.Jobs = append(tr.Jobs, j)
	}
}

func (t *table) gavelJob(tenant string, tp Throughputs, models []string) (Job, bool, error) {
	if len(t.rec) != 7 {
		return Job{}, false, t.errAt(len(t.rec)-1, "", fmt.Errorf("%d tab-separated fields: expected 7 (type, command, steps flag, needs data dir, total steps, arrival, scale factor)", len(t.rec)))
	}
	j := Job{ID: fmt.Sprintf("%s-%d", tenant, t.line), Tenant: tenant, Type: t.at(0)}
	steps, err := parseInt(t.at(4))
	if err != nil || steps == 0 {
		if err == nil {
			err = errors.New("0: expected a positive number of steps")
		}
		return j, false, t.errAt(4, "total steps", err)
	}
	if j.Submit, err = parseSeconds(t.at(5)); err != nil {
		return j, false, t.errAt(5, "arrival time", err)
	}
	scale, err := parseInt(t.at(6))
	if err != nil || scale == 0 || scale > 4096 {
		if err == nil {
			err = fmt.Errorf("%d: expected 1..4096 GPUs", scale)
		}
		return j, false, t.errAt(6, "scale factor", err)
	}
	j.Replicas, j.GPUMilli = int32(scale), 1000
	extrapolated := false
	for _, m := range models {
		rate, measured, ok := tp.Rate(m, j.Type, int(scale))
		if !ok {
			continue
		}
		if !measured {
			extrapolated = true
		}
		if j.Durations == nil {
			j.Durations = map[string]float64{}
		}
		d := float64(steps) / rate
		j.Durations[m] = d
		if j.Duration == 0 || d < j.Duration {
			j.Duration = d
		}
	}
	if j.Durations == nil {
		return j, false, t.errAt(0, "job type", fmt.Errorf("%q has no throughput in the throughputs file: add it or drop the row", j.Type))
	}
	return j, extrapolated, nil
}
