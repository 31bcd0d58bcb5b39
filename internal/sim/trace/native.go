package trace

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
)

// Skiff's native job CSV. A header row names the columns, in any order:
//
//	submit     arrival, seconds (required)
//	duration   run time, seconds (required)
//	gpus       GPUs per replica: a whole number, or a share below 1 such
//	           as 0.5 (or gpu_milli: 1000 per GPU)
//	id, tenant, replicas (default 1), cpu_milli, memory_mib,
//	estimate   the user's runtime estimate, seconds (0 or empty: none)
//	priority   integer, higher first
//	models     allowed GPU models, "|"-separated (empty: any)
const (
	natSubmit   = "submit"
	natDuration = "duration"
	natGPUs     = "gpus"
	natGPUMilli = "gpu_milli"
)

// ReadNativeFile reads skiff's job CSV; see ReadNative.
func ReadNativeFile(path string, opts Options) (*Trace, error) {
	return readFile(path, opts, ReadNative)
}

// readFile opens a trace file and reads it with read.
func readFile(path string, opts Options, read func(file string, in io.Reader, opts Options) (*Trace, error)) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	return read(path, f, opts)
}

// ReadNative reads skiff's job CSV (columns above).
func ReadNative(file string, in io.Reader, opts Options) (*Trace, error) {
	tr := &Trace{}
	t, err := newTable(file, in, ',', true, opts, tr)
	if err != nil {
		return nil, err
	}
	if err := t.require(natSubmit, natDuration); err != nil {
		return nil, err
	}
	if !t.has(natGPUs) && !t.has(natGPUMilli) {
		return nil, &ParseError{File: file, Line: 1, Err: errors.New("missing column \"gpus\" (or \"gpu_milli\") in the header")}
	}
	row := 0
	for {
		ok, err := t.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		row++
		j, perr := t.nativeJob(row)
		if perr != nil {
			if err := t.fail(perr); err != nil {
				return nil, err
			}
			continue
		}
		tr.Jobs = append(tr.Jobs, j)
	}
	tr.SortJobs()
	return tr, nil
}

func (t *table) nativeJob(row int) (Job, error) {
	j := Job{ID: t.str("id"), Tenant: t.str("tenant"), Replicas: 1, Models: ParseModels(t.str("models"))}
	if j.ID == "" {
		j.ID = fmt.Sprintf("job-%d", row)
	}
	if j.Tenant == "" {
		j.Tenant = "default"
	}
	var err error
	if j.Submit, err = parseSeconds(t.str(natSubmit)); err != nil {
		return j, t.errField(natSubmit, err)
	}
	if j.Duration, err = parseSeconds(t.str(natDuration)); err != nil {
		return j, t.errField(natDuration, err)
	}
	if s := t.str("estimate"); s != "" {
		if j.Estimate, err = parseSeconds(s); err != nil {
			return j, t.errField("estimate", err)
		}
	}
	if s := t.str("replicas"); s != "" {
		n, err := parseInt(s)
		if err != nil || n == 0 || n > 100000 {
			if err == nil {
				err = fmt.Errorf("%d: expected 1..100000", n)
			}
			return j, t.errField("replicas", err)
		}
		j.Replicas = int32(n)
	}
	if t.has(natGPUMilli) && t.str(natGPUMilli) != "" {
		if j.GPUMilli, err = parseInt(t.str(natGPUMilli)); err != nil {
			return j, t.errField(natGPUMilli, err)
		}
	} else {
		g, err := strconv.ParseFloat(t.str(natGPUs), 64)
		if err != nil || g < 0 || math.IsNaN(g) || g > 1024 {
			return j, t.errField(natGPUs, fmt.Errorf("%q: expected a number of GPUs such as 1, 8 or 0.5", t.str(natGPUs)))
		}
		j.GPUMilli = int64(math.Round(g * 1000))
	}
	if j.GPUMilli > 1000 && j.GPUMilli%1000 != 0 {
		return j, t.errField(natGPUs, fmt.Errorf("%dm: a replica takes a share of one GPU or whole GPUs", j.GPUMilli))
	}
	for _, c := range []struct {
		name string
		dst  *int64
	}{{"cpu_milli", &j.CPUMilli}, {"memory_mib", &j.MemoryMiB}} {
		if s := t.str(c.name); s != "" {
			if *c.dst, err = parseInt(s); err != nil {
				return j, t.errField(c.name, err)
			}
		}
	}
	if s := t.str("priority"); s != "" {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return j, t.errField("priority", fmt.Errorf("%q: expected an integer", s))
		}
		j.Priority = int32(p)
	}
	return j, nil
}
