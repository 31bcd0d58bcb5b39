package trace

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Job is one job of a trace. Times are seconds from the start of the trace.
type Job struct {
	ID     string
	Tenant string
	// Submit is the arrival time.
	Submit float64
	// Replicas is the gang size; each replica asks for GPUMilli (1000 per
	// whole GPU; 1..999 is a share of one GPU), CPUMilli and MemoryMiB.
	Replicas  int32
	GPUMilli  int64
	CPUMilli  int64
	MemoryMiB int64
	// Duration is the run time on the fastest GPU model the job may use
	// (what Durations holds for it when set).
	Duration float64
	// Durations, when set, is the run time per GPU model (lower case);
	// a model it lacks cannot run the job.
	Durations map[string]float64
	// Estimate is a runtime estimate the user declared (0: none). Only
	// traces that record one set it; the simulator never derives it from
	// Duration for non-oracle policies.
	Estimate float64
	Priority int32
	// Models are the GPU models the job may run on (lower case); empty
	// means any.
	Models []string
	// Type is the job type (model and batch size) where the trace has one.
	Type string
	// Unscheduled marks a job whose duration the trace does not know
	// (it never ran there): placement studies use it, replays leave it out.
	Unscheduled bool
}

// GPUs is the job's total GPU demand in GPUs (fractions for shares).
func (j *Job) GPUs() float64 { return float64(j.GPUMilli) * float64(j.Replicas) / 1000 }

// DurationOn is the job's run time on a GPU model; ok is false when the job
// cannot run there.
func (j *Job) DurationOn(model string) (float64, bool) {
	if len(j.Models) > 0 && !contains(j.Models, model) {
		return 0, false
	}
	if j.Durations == nil {
		return j.Duration, true
	}
	d, ok := j.Durations[model]
	return d, ok
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Node is one machine of the simulated cluster.
type Node struct {
	Name      string
	Model     string // GPU model, lower case
	GPUs      int
	CPUMilli  int64 // 0: unlimited
	MemoryMiB int64 // 0: unlimited
}

// Trace is what a reader produced.
type Trace struct {
	Jobs  []Job
	Nodes []Node
	// Skipped are the rows that could not be parsed (*ParseError), when
	// Options.Strict is off.
	Skipped []error
	// Notes say how the reader filled gaps or what it left out (e.g. jobs
	// that never ran in the original cluster), so a report can say so.
	Notes []string
}

// SortJobs orders jobs by arrival, then ID, so replays are deterministic.
func (t *Trace) SortJobs() {
	sort.SliceStable(t.Jobs, func(a, b int) bool {
		if t.Jobs[a].Submit != t.Jobs[b].Submit {
			return t.Jobs[a].Submit < t.Jobs[b].Submit
		}
		return t.Jobs[a].ID < t.Jobs[b].ID
	})
}

// Options tune the readers.
type Options struct {
	// Strict makes the first unparsable row an error; otherwise the row is
	// skipped and recorded in Trace.Skipped.
	Strict bool
}

// ParseError is a row that could not be read.
type ParseError struct {
	File         string
	Line, Column int
	Field        string
	Err          error
}

func (e *ParseError) Error() string {
	loc := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Column > 0 {
		loc += fmt.Sprintf(":%d", e.Column)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %v", loc, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// IsParseError reports whether err is or wraps a *ParseError.
func IsParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}

// table reads a CSV (or TSV) stream with a header row, row by row, and
// locates fields by header name so that column order and extra columns do
// not matter.
type table struct {
	file string
	r    *csv.Reader
	cols map[string]int
	rec  []string
	line int
	opts Options
	tr   *Trace
}

func newTable(file string, in io.Reader, comma rune, header bool, opts Options, tr *Trace) (*table, error) {
	r := csv.NewReader(in)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.LazyQuotes = comma == '\t'
	t := &table{file: file, r: r, opts: opts, tr: tr}
	if header {
		rec, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &ParseError{File: file, Line: 1, Err: errors.New("empty file: expected a header row")}
			}
			return nil, t.wrap(err)
		}
		t.cols = map[string]int{}
		for i, h := range rec {
			t.cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
		}
	}
	return t, nil
}

func (t *table) wrap(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{File: t.file, Line: pe.Line, Column: pe.Column, Err: pe.Err}
	}
	return &ParseError{File: t.file, Line: t.line, Err: err}
}

// require reports the first missing header among names.
func (t *table) require(names ...string) error {
	for _, n := range names {
		if _, ok := t.cols[n]; !ok {
			return &ParseError{File: t.file, Line: 1, Err: fmt.Errorf("missing column %q in the header: expected columns %s", n, strings.Join(names, ","))}
		}
	}
	return nil
}

// next reads the next row; false at the end. A malformed CSV row is
// handled like a bad field (see fail).
func (t *table) next() (bool, error) {
	for {
		rec, err := t.r.Read()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			if ferr := t.fail(t.wrap(err)); ferr != nil {
				return false, ferr
			}
			continue
		}
		t.line, _ = t.r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		t.rec = rec
		return true, nil
	}
}

// fail records a bad row: an error under Strict, else a skip.
func (t *table) fail(err error) error {
	if t.opts.Strict {
		return err
	}
	t.tr.Skipped = append(t.tr.Skipped, err)
	return nil
}

// has reports whether the header has a column.
func (t *table) has(name string) bool { _, ok := t.cols[name]; return ok }

// str returns a field by header name ("" when the column is absent or the
// row is short).
func (t *table) str(name string) string {
	i, ok := t.cols[name]
	if !ok || i >= len(t.rec) {
		return ""
	}
	return strings.TrimSpace(t.rec[i])
}

// at returns field i of a headerless row.
func (t *table) at(i int) string {
	if i >= len(t.rec) {
		return ""
	}
	return strings.TrimSpace(t.rec[i])
}

func (t *table) errAt(col int, field string, err error) *ParseError {
	c := 0
	if col >= 0 && col < len(t.rec) {
		_, c = t.r.FieldPos(col)
	}
	return &ParseError{File: t.file, Line: t.line, Column: c, Field: field, Err: err}
}

func (t *table) errField(name string, err error) *ParseError {
	i, ok := t.cols[name]
	if !ok {
		i = -1
	}
	return t.errAt(i, name, err)
}

// parseInt parses a non-negative integer field.
func parseInt(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty: expected a non-negative integer")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, fmt.Errorf("%q is not an integer", s)
		}
		v = int64(f)
	}
	if v < 0 {
		return 0, fmt.Errorf("%d is negative: expected 0 or more", v)
	}
	return v, nil
}

// parseSeconds parses a non-negative, finite number of seconds.
func parseSeconds(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("empty: expected seconds")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != v || v > 1e15 || v < -1e15 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%g is negative: expected 0 or more seconds", v)
	}
	return v, nil
}

// ParseModels splits a GPU model list ("V100|T4", also comma-separated)
// into lower-case names.
func ParseModels(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' || r == ' ' }) {
		out = append(out, strings.ToLower(f))
	}
	return out
}
