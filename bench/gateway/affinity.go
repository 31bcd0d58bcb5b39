package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"skiff.dev/skiff/internal/gateway"
	"skiff.dev/skiff/internal/loadgen"
)

type affinityOptions struct {
	sim                                      string
	groups, perGroup, systemLen, questionLen int
	maxTokens, kvBlocks                      int
	rate                                     float64
}

type policyResult struct {
	Routing string         `json:"routing"`
	Report  loadgen.Report `json:"report"`
}

type affinityReport struct {
	Replicas int            `json:"replicas"`
	Workload string         `json:"workload"`
	Sim      string         `json:"sim_flags"`
	Results  []policyResult `json:"results"`
	// TTFTSpeedup is round-robin's mean TTFT over prefix-affinity's.
	TTFTSpeedup float64 `json:"mean_ttft_speedup"`
}

const replicas = 4

func simFlags(kvBlocks int) []string {
	return []string{"--model", "sim-chat", "--force-dummy-tokenizer", "--enable-kvcache", "--block-size", "16",
		"--kv-cache-size", strconv.Itoa(kvBlocks), "--prefill-overhead", "5ms", "--prefill-time-per-token", "1ms",
		"--inter-token-latency", "5ms", "--max-num-seqs", "256"}
}

// startSims starts fresh replicas (cold KV caches).
func startSims(bin string, kvBlocks int) ([]gateway.Endpoint, func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(os.Interrupt)
			_ = c.Wait()
		}
	}
	var eps []gateway.Endpoint
	for i := 0; i < replicas; i++ {
		port, err := freePort()
		if err != nil {
			stop()
			return nil, nil, err
		}
		zmq, err := freePort()
		if err != nil {
			stop()
			return nil, nil, err
		}
		args := append(simFlags(kvBlocks), "--port", strconv.Itoa(port), "--zmq-endpoint", fmt.Sprintf("tcp://127.0.0.1:%d", zmq))
		cmd := exec.Command(bin, args...)
		// The simulator's KV cache wants the pod's address.
		cmd.Env = append(os.Environ(), "POD_IP=127.0.0.1")
		if err := cmd.Start(); err != nil {
			stop()
			return nil, nil, err
		}
		cmds = append(cmds, cmd)
		eps = append(eps, gateway.Endpoint{Name: fmt.Sprintf("sim-%d", i), URL: fmt.Sprintf("http://127.0.0.1:%d", port)})
	}
	for _, ep := range eps {
		ok := false
		for j := 0; j < 200 && !ok; j++ {
			if c, err := net.Dial("tcp", ep.URL[len("http://"):]); err == nil {
				c.Close()
				ok = true
			} else {
				time.Sleep(25 * time.Millisecond)
			}
		}
		if !ok {
			stop()
			return nil, nil, fmt.Errorf("replica %s did not listen", ep.Name)
		}
	}
	return eps, stop, nil
}

func runAffinity(ctx context.Context, a affinityOptions) (*affinityReport, error) {
	bin := a.sim
	if bin == "" {
		var err error
		if bin, err = simBinary(); err != nil {
			return nil, err
		}
	}
	w := loadgen.SharedPrefix{Groups: a.groups, PromptsPerGroup: a.perGroup, SystemPromptLen: a.systemLen,
		QuestionLen: a.questionLen, MaxTokens: a.maxTokens, Seed: 1}
	reqs, err := w.Requests()
	if err != nil {
		return nil, err
	}
	rep := &affinityReport{Replicas: replicas,
		Workload: fmt.Sprintf("shared-prefix: %d groups x %d prompts, system %d words, question %d words, max_tokens %d, Poisson %.1f req/s",
			a.groups, a.perGroup, a.systemLen, a.questionLen, a.maxTokens, a.rate),
		Sim: fmt.Sprint(simFlags(a.kvBlocks))}
	for _, policy := range []string{gateway.RoundRobin, gateway.PrefixAffinity} {
		eps, stop, err := startSims(bin, a.kvBlocks)
		if err != nil {
			return nil, err
		}
		_, url, stopGW, err := startGateway(gateway.Service{Namespace: "default", Name: "sim", Models: []string{"sim-chat"}, Routing: policy}, eps)
		if err != nil {
			stop()
			return nil, err
		}
		r, _, err := loadgen.Run(ctx, loadgen.Options{BaseURL: url + "/v1", APIKey: benchToken, Model: "sim-chat",
			Requests: reqs, Rate: a.rate, Seed: 7})
		stopGW()
		stop()
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, policyResult{Routing: policy, Report: r})
	}
	if pa := rep.Results[1].Report.TTFT.Mean; pa > 0 {
		rep.TTFTSpeedup = round3(rep.Results[0].Report.TTFT.Mean / pa)
	}
	return rep, nil
}
