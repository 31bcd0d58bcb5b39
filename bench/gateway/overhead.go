package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"skiff.dev/skiff/internal/gateway"
)

type overheadOptions struct {
	requests, concurrency, rounds int
	nginx                         string
	// cpuProfile, when set, is where the gateway process writes its CPU
	// profile (go tool pprof reads it).
	cpuProfile string
}

// targetResult is one way of reaching the backend.
type targetResult struct {
	Name string `json:"name"`
	// Sequential latency (one client), in milliseconds.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	// Throughput with -concurrency clients, requests per second.
	Throughput float64 `json:"throughput_rps"`
	Errors     int     `json:"errors"`
}

type overheadReport struct {
	Requests    int            `json:"requests_per_phase"`
	Concurrency int            `json:"concurrency"`
	Targets     []targetResult `json:"targets"`
	// AddedP50 is the gateway's added median latency over calling the
	// backend directly, in milliseconds.
	AddedP50 float64 `json:"gateway_added_p50_ms"`
	// VsNginx is the gateway's throughput over nginx's (>= 1: at least equal).
	VsNginx float64 `json:"gateway_throughput_vs_nginx,omitempty"`
	// VsGoProxy is the gateway's throughput over that of Go's standard
	// reverse proxy (httputil.ReverseProxy, nothing else) to the same
	// backend, and GoProxyVsNginx that proxy's over nginx's: how much of
	// the gap to nginx is the gateway's own work and how much the HTTP
	// stack it is built on.
	VsGoProxy      float64 `json:"gateway_throughput_vs_go_proxy"`
	GoProxyVsNginx float64 `json:"go_proxy_throughput_vs_nginx,omitempty"`
	Note           string  `json:"note,omitempty"`
}

var answer = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The harbor wakes before the town does."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}`)

var request = []byte(`{"model":"m","messages":[{"role":"system","content":"You are brief."},{"role":"user","content":"Say something about the harbor."}],"max_tokens":16}`)

func startBackend() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		_, _ = w.Write(answer)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// startNginx runs nginx in the foreground as a keep-alive reverse proxy
// to backend; it returns "" when nginx is not installed.
func startNginx(bin, backend string) (string, func(), error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "skiff-bench-nginx")
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	conf := fmt.Sprintf(`worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend { server %[2]s; keepalive 256; }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`, dir, backend[len("http://"):], port)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(path, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting nginx: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", url[len("http://"):]); err == nil {
			c.Close()
			return url, stop, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("nginx did not listen on %s", url)
}

func gatewayService() gateway.Service {
	return gateway.Service{Namespace: "default", Name: "m", Models: []string{"m"}, Routing: gateway.LeastRequest}
}

// startChild runs a proxy in front of backend in a child process (this
// program in mode serve-gateway or serve-go-proxy), so that it does not
// share a Go runtime with the load generator and the backend, and returns
// the proxy's URL.
func startChild(mode, backend, cpuProfile string) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	args := []string{"-mode", mode, "-backend", backend}
	if cpuProfile != "" {
		args = append(args, "-gateway-cpuprofile", cpuProfile)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	// An interrupt lets the gateway process finish its profile.
	stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("the %s process did not start: %w", mode, err)
	}
	return strings.TrimSpace(line), stop, nil
}

// serveGateway is the gateway process: the gateway as the server wires it
// (with its Prometheus metrics), in front of backend, until interrupted.
func serveGateway(backend, cpuProfile string) error {
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("-gateway-cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-gateway-cpuprofile: %w", err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	_, url, stop, err := startGateway(gatewayService(), []gateway.Endpoint{{Name: "m-0", URL: backend}})
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println(url)
	<-sig
	return nil
}

// serveGoProxy is the reference proxy process: Go's standard reverse
// proxy in front of backend, with a keep-alive pool as large as the
// gateway's, pooled copy buffers and nothing else, until interrupted.
func serveGoProxy(backend string) error {
	target, err := url.Parse(backend)
	if err != nil {
		return fmt.Errorf("-backend: %w", err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:    func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:  &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024, DisableCompression: true},
		BufferPool: &bufferPool{},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	fmt.Println("http://" + ln.Addr().String())
	<-sig
	return nil
}

// bufferPool reuses the reverse proxy's copy buffers across requests.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

type phase struct {
	lat    []time.Duration
	busy   time.Duration
	n      int
	errors int
}

func run(ctx context.Context, client *http.Client, url string, auth bool, n, conc int) phase {
	var mu sync.Mutex
	var p phase
	work := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < conc; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(request))
				req.Header.Set("Content-Type", "application/json")
				if auth {
					req.Header.Set("Authorization", "Bearer "+benchToken)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				p.lat = append(p.lat, d)
				if !ok {
					p.errors++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	p.busy = time.Since(start)
	p.n = n
	return p
}

func pct(d []time.Duration, p float64) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(p / 100 * float64(len(d)-1))
	return float64(d[i]) / float64(time.Millisecond)
}

func runOverhead(ctx context.Context, o overheadOptions) (*overheadReport, error) {
	backend, stopBackend, err := startBackend()
	if err != nil {
		return nil, err
	}
	defer stopBackend()
	gwURL, stopGW, err := startChild("serve-gateway", backend, o.cpuProfile)
	if err != nil {
		return nil, err
	}
	defer stopGW()
	goProxyURL, stopGoProxy, err := startChild("serve-go-proxy", backend, "")
	if err != nil {
		return nil, err
	}
	defer stopGoProxy()
	nginxURL, stopNginx, err := startNginx(o.nginx, backend)
	if err != nil {
		return nil, err
	}
	defer stopNginx()
	type target struct {
		name, url string
		auth      bool
	}
	targets := []target{{"direct", backend, false}, {"gateway", gwURL, true}, {"go-proxy", goProxyURL, false}}
	rep := &overheadReport{Requests: o.requests, Concurrency: o.concurrency}
	if nginxURL != "" {
		targets = append(targets, target{"nginx", nginxURL, false})
	} else {
		rep.Note = "nginx not found on PATH: install it (apt-get install nginx) for the side-by-side comparison"
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	seq := make([]phase, len(targets))
	par := make([]phase, len(targets))
	// Warm up connections and code paths.
	for _, t := range targets {
		run(ctx, client, t.url, t.auth, 200, o.concurrency)
	}
	per := max(1, o.requests/o.rounds)
	for r := 0; r < o.rounds; r++ {
		for i, t := range targets {
			s := run(ctx, client, t.url, t.auth, per, 1)
			seq[i].lat = append(seq[i].lat, s.lat...)
			seq[i].errors += s.errors
			p := run(ctx, client, t.url, t.auth, per, o.concurrency)
			par[i].busy += p.busy
			par[i].n += p.n
			par[i].errors += p.errors
		}
	}
	for i, t := range targets {
		rep.Targets = append(rep.Targets, targetResult{Name: t.name,
			LatencyP50: round3(pct(seq[i].lat, 50)), LatencyP99: round3(pct(seq[i].lat, 99)),
			Throughput: round3(float64(par[i].n) / par[i].busy.Seconds()), Errors: seq[i].errors + par[i].errors})
	}
	direct, gw, goProxy := rep.Targets[0], rep.Targets[1], rep.Targets[2]
	rep.AddedP50 = round3(gw.LatencyP50 - direct.LatencyP50)
	rep.VsGoProxy = round3(gw.Throughput / goProxy.Throughput)
	if len(rep.Targets) == 4 {
		nginx := rep.Targets[3]
		rep.VsNginx = round3(gw.Throughput / nginx.Throughput)
		rep.GoProxyVsNginx = round3(goProxy.Throughput / nginx.Throughput)
	}
	return rep, nil
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
