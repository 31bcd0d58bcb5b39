// Command gateway benchmarks Skiff's OpenAI-compatible gateway.
//
//	go run ./bench/gateway -mode overhead   # gateway vs direct, Go's reverse proxy and nginx proxy_pass
//	go run ./bench/gateway -mode affinity   # prefix-affinity vs round-robin TTFT
//
// overhead: one fast backend (a Go server answering a fixed chat
// completion) is called directly, through the gateway, through Go's
// standard reverse proxy (httputil.ReverseProxy, the reference for what
// the gateway's HTTP stack costs by itself) and through nginx (when
// `nginx` is on PATH) in interleaved rounds, sequentially for latency and
// with -concurrency clients for throughput.
//
// affinity: four llm-d-inference-sim replicas with prefix caching and a
// KV cache too small to hold every group's system prompt serve the
// shared-prefix workload through the gateway, once per routing policy, each
// time on fresh replicas, at the same Poisson arrival rate.
//
// Results are printed as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	mode := flag.String("mode", "overhead", "overhead or affinity")
	backend := flag.String("backend", "", "serve-gateway, serve-go-proxy (internal): the backend URL")
	o := overheadOptions{}
	flag.IntVar(&o.requests, "requests", 4000, "overhead: requests per target and phase")
	flag.IntVar(&o.concurrency, "concurrency", 32, "overhead: clients of the throughput phase")
	flag.IntVar(&o.rounds, "rounds", 4, "overhead: interleaved rounds")
	flag.StringVar(&o.nginx, "nginx", "nginx", "overhead: nginx binary (skipped when not found)")
	flag.StringVar(&o.cpuProfile, "gateway-cpuprofile", "", "overhead: write a CPU profile of the gateway process to this file")
	a := affinityOptions{}
	flag.StringVar(&a.sim, "sim", "", "affinity: llm-d-inference-sim binary (default: build tools/llmsim)")
	flag.IntVar(&a.groups, "groups", 16, "affinity: system prompts")
	flag.IntVar(&a.perGroup, "per-group", 32, "affinity: questions per system prompt")
	flag.IntVar(&a.systemLen, "system-len", 400, "affinity: words per system prompt")
	flag.IntVar(&a.questionLen, "question-len", 16, "affinity: words per question")
	flag.IntVar(&a.maxTokens, "max-tokens", 16, "affinity: max_tokens per request")
	flag.IntVar(&a.kvBlocks, "kv-blocks", 192, "affinity: KV-cache blocks (of 16 tokens) per replica")
	flag.Float64Var(&a.rate, "rate", 16, "affinity: Poisson arrival rate, requests per second")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var out any
	var err error
	switch *mode {
	case "serve-gateway":
		// The overhead run's gateway, in its own process as nginx is.
		if err := serveGateway(*backend, o.cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "bench/gateway:", err)
			os.Exit(1)
		}
		return
	case "serve-go-proxy":
		// The overhead run's reference: Go's standard reverse proxy.
		if err := serveGoProxy(*backend); err != nil {
			fmt.Fprintln(os.Stderr, "bench/gateway:", err)
			os.Exit(1)
		}
		return
	case "overhead":
		out, err = runOverhead(ctx, o)
	case "affinity":
		out, err = runAffinity(ctx, a)
	default:
		err = fmt.Errorf("-mode %q: use overhead or affinity", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/gateway:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
