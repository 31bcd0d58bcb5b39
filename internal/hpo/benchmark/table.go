package benchmark

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"skiff.dev/skiff/internal/hpo"
)

// Table is a tabular benchmark: every configuration of a discrete space
// with its results over several seeds.
type Table struct {
	Name  string
	Space hpo.Space
	// Configs[i] is row i's configuration, canonical as suggesters emit it.
	Configs []hpo.Assignment
	// Values[i] are row i's results, one per seed that has one.
	Values [][]float64
	// Means[i] is the seed-mean of row i.
	Means []float64
	// Dropped counts rows without any result, which are left out.
	Dropped int

	index map[string]int // configuration key -> row
	// nearest caches Lookup's answers for configurations the table lacks;
	// searches run concurrently.
	mu      sync.Mutex
	nearest map[string]int
	// coords[i][d] is row i's position along parameter d (value index).
	coords [][]int
}

var seedColumn = regexp.MustCompile(`(?i)^seed[0-9]*$`)

// LoadTable reads a table from a CSV file, gzipped or not.
func LoadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--table: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("--table %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	name := filepath.Base(path)
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".csv")
	t, err := ReadTable(r, name)
	if err != nil {
		return nil, fmt.Errorf("--table %s: %w", path, err)
	}
	return t, nil
}

// ReadTable parses a CSV whose header names the parameters and then the
// result columns (seed0, seed1, ...). A parameter whose every value is a
// number becomes a Discrete parameter (its values ordered), any other a
// Categorical one. Rows may lack trailing seed values.
func ReadTable(r io.Reader, name string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	var params, seeds []int
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		if seedColumn.MatchString(h) {
			seeds = append(seeds, i)
		} else {
			if len(seeds) > 0 {
				return nil, fmt.Errorf("header: parameter column %q comes after a result column; put parameters first, then seed0, seed1 and so on", h)
			}
			params = append(params, i)
		}
	}
	if len(params) == 0 || len(seeds) == 0 {
		return nil, fmt.Errorf("header %v: need parameter columns followed by result columns named seed0, seed1 and so on", header)
	}
	var raw [][]string
	var values [][]float64
	dropped := 0
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) < len(params) {
			return nil, fmt.Errorf("line %d: %d fields, want at least the %d parameters", line, len(rec), len(params))
		}
		if len(rec) > len(header) {
			return nil, fmt.Errorf("line %d: %d fields, more than the %d columns of the header", line, len(rec), len(header))
		}
		var vs []float64
		for _, i := range seeds {
			if i >= len(rec) || strings.TrimSpace(rec[i]) == "" {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil {
				return nil, fmt.Errorf("line %d, column %s: %w", line, header[i], err)
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			dropped++
			continue
		}
		raw = append(raw, rec[:len(params)])
		values = append(values, vs)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("no row has a result")
	}
	t := &Table{Name: name, Values: values, Dropped: dropped, index: map[string]int{}}
	// Infer each parameter's type and values.
	canon := make([]func(string) string, len(params))
	for d, col := range params {
		numeric := true
		seen := map[string]bool{}
		var labels []string
		var numbers []float64
		for _, rec := range raw {
			s := strings.TrimSpace(rec[col])
			if seen[s] {
				continue
			}
			seen[s] = true
			labels = append(labels, s)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				numeric = false
			}
			numbers = append(numbers, v)
		}
		p := hpo.Parameter{Name: header[col]}
		if numeric {
			slices.Sort(numbers)
			numbers = slices.Compact(numbers)
			p.Type, p.Numbers = hpo.Discrete, numbers
			canon[d] = func(s string) string {
				v, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
				return hpo.FormatNumber(v)
			}
		} else {
			slices.Sort(labels)
			p.Type, p.Values = hpo.Categorical, labels
			canon[d] = strings.TrimSpace
		}
		t.Space.Parameters = append(t.Space.Parameters, p)
	}
	if errs := t.Space.Validate(nil); len(errs) > 0 {
		return nil, fmt.Errorf("header: %w", errs.ToAggregate())
	}
	for i, rec := range raw {
		a := make(hpo.Assignment, len(params))
		coord := make([]int, len(params))
		for d, col := range params {
			v := canon[d](rec[col])
			a[header[col]] = v
			p := t.Space.Parameters[d]
			if p.Type == hpo.Discrete {
				f, _ := strconv.ParseFloat(v, 64)
				coord[d] = slices.Index(p.Numbers, f)
			} else {
				coord[d] = slices.Index(p.Values, v)
			}
		}
		k := t.key(a)
		if j, dup := t.index[k]; dup {
			return nil, fmt.Errorf("line %d: the same configuration as line %d; give each configuration one row", i+2+dropped, j+2)
		}
		t.index[k] = i
		t.Configs = append(t.Configs, a)
		t.coords = append(t.coords, coord)
		var sum float64
		for _, v := range values[i] {
			sum += v
		}
		t.Means = append(t.Means, sum/float64(len(values[i])))
	}
	return t, nil
}

func (t *Table) key(a hpo.Assignment) string {
	var b strings.Builder
	for _, p := range t.Space.Parameters {
		b.WriteString(a[p.Name])
		b.WriteByte(0)
	}
	return b.String()
}

// Lookup returns the row of a configuration. A configuration the table
// lacks (a table that is not a full grid) is answered by the nearest row:
// fewest differing parameters, then fewest differing Categorical ones,
// then the smallest index distance along Discrete ones, then the first
// such row.
func (t *Table) Lookup(a hpo.Assignment) int {
	k := t.key(a)
	if i, ok := t.index[k]; ok {
		return i
	}
	t.mu.Lock()
	i, ok := t.nearest[k]
	t.mu.Unlock()
	if ok {
		return i
	}
	i = t.nearestRow(a)
	t.mu.Lock()
	if t.nearest == nil {
		t.nearest = map[string]int{}
	}
	t.nearest[k] = i
	t.mu.Unlock()
	return i
}

func (t *Table) nearestRow(a hpo.Assignment) int {
	want := make([]int, len(t.Space.Parameters))
	for d, p := range t.Space.Parameters {
		if p.Type == hpo.Discrete {
			f, _ := strconv.ParseFloat(a[p.Name], 64)
			want[d] = slices.Index(p.Numbers, f)
		} else {
			want[d] = slices.Index(p.Values, a[p.Name])
		}
	}
	best, bestDiff, bestCat, bestDist := 0, math.MaxInt, math.MaxInt, math.MaxInt
	for i, c := range t.coords {
		diff, cat, dist := 0, 0, 0
		for d := range c {
			if c[d] == want[d] {
				continue
			}
			diff++
			if t.Space.Parameters[d].Type == hpo.Discrete {
				dist += abs(c[d] - want[d])
			} else {
				cat++
			}
		}
		if diff < bestDiff || (diff == bestDiff && (cat < bestCat || (cat == bestCat && dist < bestDist))) {
			best, bestDiff, bestCat, bestDist = i, diff, cat, dist
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
