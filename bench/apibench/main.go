// Command apibench measures the embedded server end to end and prints JSON:
//
//   - apply_to_running_ms: `skiff apply` of a one-replica job until its
//     process has started (the replica records its own start time), median
//     and p90 over -jobs runs;
//   - creates_per_s: durable creates through the HTTP API from -clients
//     concurrent clients (each create is fsynced before it is acknowledged);
//   - get_all_s: `skiff get events -A` over all -objects stored objects,
//     output discarded, and the server's peak RSS afterwards.
//
// Run it with: go run ./bench/apibench (see README.md).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	var (
		jobs    = flag.Int("jobs", 20, "jobs applied one after another for the latency measurement")
		objects = flag.Int("objects", 100000, "objects created for the throughput and list measurements")
		clients = flag.Int("clients", 64, "concurrent API clients creating objects")
	)
	flag.Parse()
	if err := run(*jobs, *objects, *clients); err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1)
	}
}

type result struct {
	ApplyToRunningMedianMS float64 `json:"apply_to_running_median_ms"`
	ApplyToRunningP90MS    float64 `json:"apply_to_running_p90_ms"`
	Jobs                   int     `json:"jobs"`
	Objects                int     `json:"objects"`
	Clients                int     `json:"clients"`
	CreatesPerS            float64 `json:"creates_per_s"`
	GetAllSeconds          float64 `json:"get_all_s"`
	GetAllBytes            int64   `json:"get_all_bytes"`
	ServerPeakRSSMB        float64 `json:"server_peak_rss_mb"`
}

func run(nJobs, nObjects, nClients int) error {
	work, err := os.MkdirTemp("", "skiff-apibench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "skiff")
	build := exec.Command("go", "build", "-o", bin, "./cmd/skiff")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building skiff (run from the repository root): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	data := filepath.Join(work, "data")
	srv := exec.Command(bin, "up", "--data-dir", data, "--listen", addr, "--gateway-listen", "127.0.0.1:0", "--no-user-config", "--log-level", "error")
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	url := "http://" + addr
	if err := waitHealthy(url); err != nil {
		return err
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(tok))
	env := append(os.Environ(), "SKIFF_SERVER="+url, "SKIFF_TOKEN="+token)

	res := result{Jobs: nJobs, Objects: nObjects, Clients: nClients}
	if res.ApplyToRunningMedianMS, res.ApplyToRunningP90MS, err = applyLatency(bin, env, work, nJobs); err != nil {
		return err
	}
	if res.CreatesPerS, err = createThroughput(url, token, nObjects, nClients); err != nil {
		return err
	}
	start := time.Now()
	get := exec.Command(bin, "get", "events", "-A")
	get.Env = env
	var out countingWriter
	get.Stdout, get.Stderr = &out, os.Stderr
	if err := get.Run(); err != nil {
		return fmt.Errorf("get -A: %w", err)
	}
	res.GetAllSeconds = time.Since(start).Seconds()
	res.GetAllBytes = out.n
	res.ServerPeakRSSMB, err = peakRSS(srv.Process.Pid)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func waitHealthy(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server at %s did not become healthy", url)
}

// applyLatency applies jobs one by one; each replica writes the wall-clock
// time at which it started, which is compared with the time just before the
// CLI was executed.
func applyLatency(bin string, env []string, work string, n int) (median, p90 float64, err error) {
	var lat []float64
	for i := 0; i < n; i++ {
		mark := filepath.Join(work, fmt.Sprintf("started-%d", i))
		manifest := fmt.Sprintf(`apiVersion: skiff.dev/v1alpha1
kind: Job
metadata: {name: lat-%d}
spec:
  replicaGroups:
  - name: worker
    template:
      command: ["sh", "-c", "date +%%s%%N > %s.tmp && mv %s.tmp %s"]
`, i, mark, mark, mark)
		apply := exec.Command(bin, "apply", "-f", "-")
		apply.Env = env
		apply.Stdin = strings.NewReader(manifest)
		var stderr bytes.Buffer
		apply.Stderr = &stderr
		start := time.Now()
		if err := apply.Run(); err != nil {
			return 0, 0, fmt.Errorf("apply: %v: %s", err, stderr.String())
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := os.ReadFile(mark)
			if err == nil {
				ns, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
				if perr != nil {
					return 0, 0, perr
				}
				lat = append(lat, float64(time.Unix(0, ns).Sub(start).Microseconds())/1000)
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, fmt.Errorf("job lat-%d did not start within 30s", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	sort.Float64s(lat)
	return lat[len(lat)/2], lat[len(lat)*9/10], nil
}

// createThroughput creates n Event objects through the API from c clients.
// Events are plain stored objects no controller acts on, so the number is
// the API + durable store path alone.
func createThroughput(url, token string, n, c int) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				ns := fmt.Sprintf("bench-%d", i%10)
				body := fmt.Sprintf(`{"apiVersion":"skiff.dev/v1alpha1","kind":"Event","metadata":{"name":"ev-%d","namespace":"%s"},"involvedObject":{"kind":"Job","namespace":"%s","name":"job-%d"},"reason":"Benchmark","message":"object %d of the create benchmark","type":"Normal"}`, i, ns, ns, i, i)
				req, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/apis/skiff.dev/v1alpha1/namespaces/"+ns+"/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
					b := new(bytes.Buffer)
					_, _ = b.ReadFrom(resp.Body)
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %s", resp.StatusCode, b.String()))
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%d creates failed, first: %v", f, firstErr.Load())
	}
	return float64(n) / elapsed, nil
}

func peakRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("VmHWM not found")
}
