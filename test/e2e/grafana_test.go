package e2e

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

var (
	metricRef = regexp.MustCompile(`skiff_[a-z_]+`)
	byLabels  = regexp.MustCompile(`by \(([a-z_, ]+)\)`)
	matchers  = regexp.MustCompile(`([a-z_]+)=~?"`)
	sampleRe  = regexp.MustCompile(`^(skiff_[a-z_]+)(?:\{([^}]*)\})? `)
)

// checkGrafanaDashboard checks deploy/grafana/skiff-dashboard.json against
// a real server's /metrics: every series its queries name is exposed, with
// every label they group or filter by.
func checkGrafanaDashboard(t *testing.T, metrics string) {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/grafana/skiff-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("skiff-dashboard.json: %v", err)
	}
	labels := map[string]map[string]bool{} // series name → its label names
	for _, line := range strings.Split(metrics, "\n") {
		m := sampleRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if labels[m[1]] == nil {
			labels[m[1]] = map[string]bool{}
		}
		for _, kv := range strings.Split(m[2], ",") {
			if k, _, ok := strings.Cut(kv, "="); ok {
				labels[m[1]][k] = true
			}
		}
	}
	// Series this test's server has none of when scraped: a counter of an
	// event it never saw, and gauges that exist only while a queue has
	// pending jobs or resources in use (internal/monitoring's
	// TestStateCollector checks their names and labels).
	notYet := map[string]bool{"skiff_scheduler_preemptions_total": true, "skiff_queue_pending_jobs": true,
		"skiff_queue_resource_usage": true, "skiff_queue_resource_borrowed": true}
	if len(dash.Panels) == 0 {
		t.Fatal("skiff-dashboard.json has no panels")
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range metricRef.FindAllString(tg.Expr, -1) {
				have, ok := labels[name]
				if !ok {
					if !notYet[name] {
						t.Errorf("panel %q: %s is not exposed by /metrics", p.Title, name)
					}
					continue
				}
				var used []string
				if m := byLabels.FindStringSubmatch(tg.Expr); m != nil {
					for _, l := range strings.Split(m[1], ",") {
						if l = strings.TrimSpace(l); l != "le" {
							used = append(used, l)
						}
					}
				}
				for _, m := range matchers.FindAllStringSubmatch(tg.Expr, -1) {
					used = append(used, m[1])
				}
				for _, l := range used {
					if !have[l] {
						t.Errorf("panel %q: %s has no label %q", p.Title, name, l)
					}
				}
			}
		}
	}
}
