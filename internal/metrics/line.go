package metrics

import (
	"fmt"
	"strconv"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// LinePrefix starts every metric line a workload prints.
const LinePrefix = "skiff:metric"

// ParseLine reads one log line. It returns ok=false for lines that are not
// metric lines, and an error for a metric line that is malformed (which is
// then ignored as a whole). The points carry no time; the caller stamps them.
func ParseLine(line string) (points []v1alpha1.MetricPoint, ok bool, err error) {
	line = strings.TrimRight(line, "\r\n")
	rest, found := strings.CutPrefix(line, LinePrefix)
	if !found || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return nil, false, nil
	}
	fields := strings.Fields(rest)
	step := int64(-1)
	type nv struct {
		name  string
		value float64
	}
	var values []nv
	seen := map[string]bool{}
	for _, f := range fields {
		name, val, hasEq := strings.Cut(f, "=")
		if !hasEq {
			return nil, true, fmt.Errorf("%q is not NAME=VALUE: write e.g. loss=0.31 step=120", f)
		}
		if name == "step" {
			if step >= 0 {
				return nil, true, fmt.Errorf("step is given twice: give it once")
			}
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return nil, true, fmt.Errorf("step %q is not a whole number from 0", val)
			}
			step = n
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, true, fmt.Errorf("value %q of %s is not a number", val, name)
		}
		if seen[name] {
			return nil, true, fmt.Errorf("%s is given twice: give each metric once per line", name)
		}
		seen[name] = true
		values = append(values, nv{name, v})
	}
	if step < 0 {
		return nil, true, fmt.Errorf("no step: end the line with step=N")
	}
	if len(values) == 0 {
		return nil, true, fmt.Errorf("no metric: write e.g. skiff:metric loss=0.31 step=%d", step)
	}
	for _, v := range values {
		pt := v1alpha1.MetricPoint{Name: v.name, Step: step, Value: v.value}
		if err := v1alpha1.ValidateMetricPoint(pt); err != nil {
			return nil, true, err
		}
		points = append(points, pt)
	}
	return points, true, nil
}

// FormatLine is the line a workload prints to report values at step, the
// inverse of ParseLine (names in the order given).
func FormatLine(step int64, points ...v1alpha1.MetricPoint) string {
	var b strings.Builder
	b.WriteString(LinePrefix)
	for _, p := range points {
		b.WriteString(" " + p.Name + "=" + strconv.FormatFloat(p.Value, 'g', -1, 64))
	}
	b.WriteString(" step=" + strconv.FormatInt(step, 10))
	return b.String()
}
