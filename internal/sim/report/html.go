package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"skiff.dev/skiff/internal/sim"
)

// palette colours policies in order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"}

// series is one line of a plot.
type series struct {
	name, color string
	x, y        []float64
}

// plot is an SVG line chart.
type plot struct {
	title, xlabel, ylabel string
	logX                  bool
	yMax                  float64 // 0: from the data
	lines                 []series
}

const (
	plotW, plotH           = 640, 300
	padL, padR, padT, padB = 64, 150, 28, 44
)

func (p *plot) svg() template.HTML {
	var b strings.Builder
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), p.yMax
	for _, l := range p.lines {
		for i, x := range l.x {
			if p.logX && x <= 0 {
				continue
			}
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			if p.yMax == 0 {
				ymax = math.Max(ymax, l.y[i])
			}
		}
	}
	if math.IsInf(xmin, 1) {
		xmin, xmax = 0, 1
	}
	if ymax <= 0 {
		ymax = 1
	}
	tx := func(x float64) float64 {
		if p.logX {
			lo, hi := math.Log10(xmin), math.Log10(xmax)
			if hi == lo {
				hi = lo + 1
			}
			return padL + (math.Log10(math.Max(x, xmin))-lo)/(hi-lo)*(plotW-padL-padR)
		}
		if xmax == xmin {
			return padL
		}
		return padL + (x-xmin)/(xmax-xmin)*(plotW-padL-padR)
	}
	ty := func(y float64) float64 { return plotH - padB - y/ymax*(plotH-padT-padB) }
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`, plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, padL, template.HTMLEscapeString(p.title))
	// axes and ticks
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, padL, plotH-padB, plotW-padR, plotH-padB)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, padL, padT, padL, plotH-padB)
	for i := 0; i <= 4; i++ {
		y := ymax * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, ty(y), plotW-padR, ty(y), padL-4, ty(y)+4, tick(y))
	}
	for i := 0; i <= 4; i++ {
		var x float64
		if p.logX {
			x = math.Pow(10, math.Log10(xmin)+(math.Log10(xmax)-math.Log10(xmin))*float64(i)/4)
		} else {
			x = xmin + (xmax-xmin)*float64(i)/4
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, tx(x), plotH-padB+14, Dur(x))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, (padL+plotW-padR)/2, plotH-8, template.HTMLEscapeString(p.xlabel))
	fmt.Fprintf(&b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`, (padT+plotH-padB)/2, (padT+plotH-padB)/2, template.HTMLEscapeString(p.ylabel))
	for i, l := range p.lines {
		var pts []string
		for k := range l.x {
			if p.logX && l.x[k] <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", tx(l.x[k]), ty(l.y[k])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, l.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`,
			plotW-padR+10, padT+i*16+4, l.color, plotW-padR+26, padT+i*16+9, template.HTMLEscapeString(l.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

func tick(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0fk", v/1000)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// cdf is a policy's JCT CDF, thinned to at most 400 points.
func cdf(r *sim.Result) ([]float64, []float64) {
	n := len(r.JCTs)
	step := max(1, n/400)
	var x, y []float64
	for i := 0; i < n; i += step {
		x = append(x, r.JCTs[i])
		y = append(y, float64(i+1)/float64(n))
	}
	if n > 0 {
		x = append(x, r.JCTs[n-1])
		y = append(y, 1)
	}
	return x, y
}

// buckets averages the step function of busy GPUs (as a share of
// capacity) and queue length over n equal time buckets.
func buckets(r *sim.Result, n int, end float64) (ts, util, queue []float64) {
	if len(r.Series) == 0 || end <= 0 {
		return
	}
	start := r.Series[0].T
	width := (end - start) / float64(n)
	if width <= 0 {
		return
	}
	busy := make([]float64, n)
	q := make([]float64, n)
	for i, p := range r.Series {
		t1 := end
		if i+1 < len(r.Series) {
			t1 = r.Series[i+1].T
		}
		for t := p.T; t < t1; {
			b := int((t - start) / width)
			if b >= n {
				break
			}
			edge := start + float64(b+1)*width
			seg := math.Min(edge, t1) - t
			busy[b] += seg * p.BusyGPUs
			q[b] += seg * float64(p.Queued)
			t += seg
			if seg <= 0 {
				break
			}
		}
	}
	for b := 0; b < n; b++ {
		ts = append(ts, float64(b)*width+width/2)
		util = append(util, busy[b]/width/math.Max(r.Capacity, 1e-9))
		queue = append(queue, q[b]/width)
	}
	return
}

type row struct {
	Name                                                   string
	Color                                                  string
	Jobs, Preemptions                                      int
	AvgJCT, P50, P99, Queueing, Makespan, Util, Jain, Slow string
}

type page struct {
	R                          *Report
	Rows                       []row
	CDF, Util, Queue           template.HTML
	Placements                 []placeRow
	Tenants                    []string
	TenantCells                [][]string
	HasPolicies, HasPlacements bool
}

type placeRow struct {
	Name                  string
	Unalloc, Alloc, First string
	Placed                int
}

// HTML writes a self-contained report page.
func HTML(w io.Writer, r *Report) error {
	pg := page{R: r, HasPolicies: len(r.Policies) > 0, HasPlacements: len(r.Placements) > 0}
	cdfPlot := plot{title: "Job completion time CDF", xlabel: "JCT (log scale)", ylabel: "fraction of jobs", logX: true, yMax: 1}
	utilPlot := plot{title: "GPU utilization over time", xlabel: "time since first arrival", ylabel: "GPUs busy / capacity", yMax: 1}
	queuePlot := plot{title: "Queue length over time", xlabel: "time since first arrival", ylabel: "jobs pending"}
	end := 0.0
	for _, name := range r.Order {
		if p := r.Policies[name]; len(p.Series) > 0 {
			end = math.Max(end, p.Series[len(p.Series)-1].T)
		}
	}
	for i, name := range r.Order {
		p := r.Policies[name]
		color := palette[i%len(palette)]
		pg.Rows = append(pg.Rows, row{Name: name, Color: color, Jobs: p.Jobs, Preemptions: p.Preemptions,
			AvgJCT: Dur(p.AvgJCT), P50: Dur(p.P50JCT), P99: Dur(p.P99JCT), Queueing: Dur(p.AvgQueueing),
			Makespan: Dur(p.Makespan), Util: fmt.Sprintf("%.1f%%", 100*p.Utilization), Jain: fmt.Sprintf("%.3f", p.Jain),
			Slow: fmt.Sprintf("%.1f", p.AvgSlowdown)})
		x, y := cdf(p)
		cdfPlot.lines = append(cdfPlot.lines, series{name: name, color: color, x: x, y: y})
		ts, util, queue := buckets(p, 200, end)
		utilPlot.lines = append(utilPlot.lines, series{name: name, color: color, x: ts, y: util})
		queuePlot.lines = append(queuePlot.lines, series{name: name, color: color, x: ts, y: queue})
	}
	if pg.HasPolicies {
		pg.CDF, pg.Util, pg.Queue = cdfPlot.svg(), utilPlot.svg(), queuePlot.svg()
		pg.Tenants = tenantNames(r)
		for _, t := range pg.Tenants {
			cells := []string{t}
			for _, name := range r.Order {
				cells = append(cells, tenantSlowdown(r.Policies[name], t))
			}
			pg.TenantCells = append(pg.TenantCells, cells)
		}
	}
	for _, name := range r.PlacementOrder {
		p := r.Placements[name]
		pg.Placements = append(pg.Placements, placeRow{Name: name, Unalloc: fmt.Sprintf("%.2f%%", 100*p.UnallocatableGPUFraction),
			Alloc: fmt.Sprintf("%.2f%%", 100*p.AllocatedGPUFraction), Placed: p.Placed, First: p.RejectedTask})
	}
	return pageTmpl.Execute(w, pg)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>skiff sim: {{.R.Trace}}</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.sw{display:inline-block;width:10px;height:10px;margin-right:6px}
code{background:#f4f4f4;padding:2px 4px}
</style></head><body>
<h1>skiff sim</h1>
<p>Trace <code>{{.R.Trace}}</code> ({{.R.Format}}): {{.R.Jobs}} jobs; {{.R.Nodes}} nodes, {{.R.GPUs}} GPUs
({{range $m, $n := .R.Cluster}}{{$m}}={{$n}} {{end}}).</p>
{{if .R.Command}}<p>Made with <code>{{.R.Command}}</code></p>{{end}}
{{if .HasPolicies}}
<h2>Policies</h2>
<table><tr><th>policy</th><th>jobs</th><th>avg JCT</th><th>p50 JCT</th><th>p99 JCT</th><th>avg queueing</th><th>makespan</th><th>utilization</th><th>Jain</th><th>avg slowdown</th><th>preemptions</th></tr>
{{range .Rows}}<tr><td><span class="sw" style="background:{{.Color}}"></span>{{.Name}}</td><td>{{.Jobs}}</td><td>{{.AvgJCT}}</td><td>{{.P50}}</td><td>{{.P99}}</td><td>{{.Queueing}}</td><td>{{.Makespan}}</td><td>{{.Util}}</td><td>{{.Jain}}</td><td>{{.Slow}}</td><td>{{.Preemptions}}</td></tr>
{{end}}</table>
<div>{{.CDF}}</div><div>{{.Util}}</div><div>{{.Queue}}</div>
<h2>Per-tenant mean slowdown (jobs)</h2>
<table><tr><th>tenant</th>{{range .Rows}}<th>{{.Name}}</th>{{end}}</tr>
{{range .TenantCells}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
{{if .HasPlacements}}
<h2>Placement (tasks arrive in trace order, never leave; measured at the first rejection)</h2>
<table><tr><th>placement</th><th>unallocatable GPUs</th><th>allocated GPUs</th><th>tasks placed</th><th>first rejected</th></tr>
{{range .Placements}}<tr><td>{{.Name}}</td><td>{{.Unalloc}}</td><td>{{.Alloc}}</td><td>{{.Placed}}</td><td>{{.First}}</td></tr>
{{end}}</table>
{{end}}
{{if .R.Notes}}<h2>Notes</h2><ul>{{range .R.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
<p>Slowdown is JCT over the job's run time alone on its fastest GPU model; Jain's index is over tenants' mean slowdown.</p>
</body></html>
`))
