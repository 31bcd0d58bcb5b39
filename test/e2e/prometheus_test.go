package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lookPathOrSkip finds a real component's binary. Outside CI a missing one
// skips the test with the install command; in CI (CI set) it fails, since
// .ci/install-deps installs it there.
func lookPathOrSkip(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found in CI: .ci/install-deps should have installed it", name)
	}
	t.Skipf("%s not installed: run .ci/install-deps (apt-get install %s) to run this test", name, name)
	return ""
}

// promQuery runs an instant PromQL query and returns the result vector's
// values by the value of label (or "" for a single unlabelled series).
func promQuery(t *testing.T, base, query, label string) (map[string]string, error) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", body, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, r.Error)
	}
	out := map[string]string{}
	for _, s := range r.Data.Result {
		v, _ := s.Value[1].(string)
		out[s.Metric[label]] = v
	}
	return out, nil
}

func TestPrometheusScrapesSkiff(t *testing.T) {
	t.Parallel()
	prom := lookPathOrSkip(t, "prometheus")
	s := startServer(t, t.TempDir(), t.TempDir())
	s.mustSkiff(jobYAML("default", "p1", "")+"\n", "apply", "-f", "-")
	s.mustSkiff(jobYAML("default", "p2", "")+"\n", "apply", "-f", "-")
	s.waitPhase("default", "p1", "Succeeded", 60*time.Second)
	s.waitPhase("default", "p2", "Succeeded", 60*time.Second)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "skiff.token")
	if err := os.WriteFile(tokenFile, []byte(s.token), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
- job_name: skiff
  scrape_interval: 1s
  authorization:
    credentials_file: %s
  static_configs:
  - targets: ['%s']
`, tokenFile, s.addr)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freePort(t)
	cmd := exec.Command(prom, "--config.file="+configFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	base := "http://" + promAddr
	want := map[string]map[string]string{
		`up{job="skiff"}`: {"": "1"},
		`sum by (phase) (skiff_jobs{namespace="default"})`:          {"Succeeded": "2"},
		`sum(skiff_scheduler_admissions_total)`:                     {"": "2"},
		`skiff_queue_nominal_quota{queue="default",resource="gpu"}`: {"default": "2"},
		`sum by (class) (skiff_runtime_replica_exits_total)`:        {"success": "2"},
	}
	labelOf := map[string]string{`sum by (phase) (skiff_jobs{namespace="default"})`: "phase",
		`skiff_queue_nominal_quota{queue="default",resource="gpu"}`: "flavor",
		`sum by (class) (skiff_runtime_replica_exits_total)`:        "class"}
	deadline := time.Now().Add(60 * time.Second)
	for query, expect := range want {
		for {
			got, err := promQuery(t, base, query, labelOf[query])
			if err == nil && mapsEqual(got, expect) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("PromQL %s = %v (err %v), want %v\nprometheus output:\n%s", query, got, err, expect, out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
